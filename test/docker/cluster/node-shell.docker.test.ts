/** The node shell against real containers: exit codes, output, stdin, timeouts, and a node that is gone. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DockerNodeShell } from '../../../harness/cluster/node-shell.js';
import { DockerTestBed, describeDocker, type TestNode } from '../../support/docker.js';

describeDocker('DockerNodeShell on a docker-backed node', () => {
  const bed = new DockerTestBed();
  let node: TestNode;
  beforeAll(async () => {
    node = await bed.node('shell', { isolated: true });
  });
  afterAll(async () => {
    expect(await bed.dispose()).toEqual([]);
  });

  it('returns stdout, stderr and the real exit code, without a shell in between', async () => {
    const ok = await node.shell.exec(['ip', '-o', 'link', 'show', 'dev', 'lo']);
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toMatch(/^1: lo:/);
    const bad = await node.shell.exec(['ip', 'link', 'show', 'dev', 'no-such-dev']);
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr).toMatch(/does not exist/);
    // an argument with shell metacharacters is one argument, never interpreted
    const lit = await node.shell.exec(['echo', '$(id -u); rm -rf /']);
    expect(lit.stdout.trim()).toBe('$(id -u); rm -rf /');
  });

  it('passes stdin', async () => {
    const r = await node.shell.exec(['cat'], { input: 'hello from stdin\n' });
    expect(r.stdout).toBe('hello from stdin\n');
  });

  it('stops a command at its timeout and says so', async () => {
    const started = Date.now();
    const r = await node.shell.exec(['sleep', '30'], { timeoutMs: 1000 });
    expect(r.timedOut).toBe(true);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('a node that does not exist is a non-zero result naming it, not an exception', async () => {
    const gone = new DockerNodeShell(`cc-test-${bed.id}-absent`, 'absent');
    const r = await gone.exec(['true']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/No such container/i);
  });
});
