import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cleanupCommand } from '../../../harness/cli/commands/cleanup.js';
import { memoryIO } from '../../../harness/cli/io.js';
import { EnvironmentError, ExitCode, exitCodeOf } from '../../../harness/errors.js';
import { cleanupLeftovers, HARNESS_LABEL } from '../../../harness/state/cleanup.js';
import { RunState, readRuns, runIsAlive, stateDir } from '../../../harness/state/run-state.js';
import { Teardown } from '../../../harness/state/teardown.js';
import { FakeRunner } from './fake-runner.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'cc-state-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** a pid that is certainly gone: a child that has exited */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

function writeDeadRun(dir: string, resources: object[], pid = deadPid()): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `run-${pid}-dead01.json`);
  writeFileSync(
    file,
    JSON.stringify({ pid, hostname: hostname(), startedAt: '2026-01-01T00:00:00Z', resources }),
  );
  return file;
}

describe('state directory', () => {
  it('honours CALICO_CONFORMANCE_STATE_DIR, then XDG_STATE_HOME, then ~/.local/state', () => {
    expect(stateDir({ CALICO_CONFORMANCE_STATE_DIR: '/x/y' })).toBe('/x/y');
    expect(stateDir({ XDG_STATE_HOME: '/s' })).toBe('/s/calico-conformance');
    expect(stateDir({ HOME: '/home/u' })).toBe('/home/u/.local/state/calico-conformance');
  });

  it('RunState writes a private file per run, removes it when empty, and marks kept resources', () => {
    const s = new RunState(join(root, 'st'));
    s.add('kind-cluster', 'cc-a-000001', 'kind cluster');
    expect(statSync(s.file).mode & 0o777).toBe(0o600);
    const rec = JSON.parse(readFileSync(s.file, 'utf8'));
    expect(rec).toMatchObject({
      pid: process.pid,
      hostname: hostname(),
      resources: [{ kind: 'kind-cluster', name: 'cc-a-000001' }],
    });
    s.markKept('kind-cluster', 'cc-a-000001');
    expect(readRuns(s.dir).runs[0]?.run.resources[0]?.kept).toBe(true);
    s.forget('kind-cluster', 'cc-a-000001');
    expect(existsSync(s.file)).toBe(false);
  });

  it('runIsAlive: this process yes, an exited child no, another host is never judged dead', () => {
    expect(runIsAlive({ pid: process.pid, hostname: hostname(), startedAt: '', resources: [] })).toBe(true);
    expect(runIsAlive({ pid: deadPid(), hostname: hostname(), startedAt: '', resources: [] })).toBe(false);
    expect(runIsAlive({ pid: deadPid(), hostname: 'elsewhere', startedAt: '', resources: [] })).toBe(true);
  });
});

describe('Teardown', () => {
  it('undoes newest first, keeps going past failures, and reports what is left', async () => {
    const order: string[] = [];
    const logs: string[] = [];
    const t = new Teardown({ log: (l) => logs.push(l) });
    t.add('first', async () => void order.push('first'));
    t.add('second', async () => {
      order.push('second');
      throw new Error('device busy');
    });
    t.add('third', async () => void order.push('third'));
    const left = await t.run('test');
    expect(order).toEqual(['third', 'second', 'first']);
    expect(left).toEqual(['second: device busy']);
    expect(logs.join('\n')).toMatch(/could not remove second: device busy[\s\S]*cleanup/);
    expect(await t.run()).toEqual([]); // nothing registered any more
  });

  it('track records in the state file before anything exists and forgets after removal', async () => {
    const state = new RunState(join(root, 'st'));
    const runner = new FakeRunner();
    const t = new Teardown({ state, runner });
    t.track('container', 'cc-helper-1', 'helper');
    t.track('temp-path', join(root, 'tmp-x'));
    mkdirSync(join(root, 'tmp-x'));
    expect(state.resources.map((r) => r.name)).toEqual(['cc-helper-1', join(root, 'tmp-x')]);
    expect(await t.run()).toEqual([]);
    expect(runner.lines()).toEqual(['docker rm -f -v cc-helper-1']);
    expect(existsSync(join(root, 'tmp-x'))).toBe(false);
    expect(existsSync(state.file)).toBe(false);
  });

  it('a failed removal stays in the state file for cleanup', async () => {
    const state = new RunState(join(root, 'st'));
    const runner = new FakeRunner().on((l) => l.startsWith('docker rm'), {
      exitCode: 1,
      stderr: 'Error: daemon busy',
    });
    const t = new Teardown({ state, runner });
    t.track('container', 'cc-helper-1');
    expect(await t.run()).toEqual(['container cc-helper-1: docker rm failed: Error: daemon busy']);
    expect(state.resources.map((r) => r.name)).toEqual(['cc-helper-1']);
  });

  it('the deadline runs the teardown and hands over what was left', async () => {
    const t = new Teardown();
    let undone = false;
    t.add('x', async () => {
      undone = true;
    });
    const left = await new Promise<string[]>((resolve) => t.armDeadline(20, resolve));
    expect(undone).toBe(true);
    expect(left).toEqual([]);
  });

  it('concurrent run() calls share one teardown (a signal during a normal end removes nothing twice)', async () => {
    let calls = 0;
    const t = new Teardown();
    t.add('x', async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 20));
    });
    await Promise.all([t.run('end'), t.run('SIGINT')]);
    expect(calls).toBe(1);
  });
});

describe('cleanupLeftovers', () => {
  it('removes what a dead run recorded, leaves a live run and kept clusters alone (unless --all)', async () => {
    const dir = join(root, 'st');
    const tmp = join(root, 'kubeconfig-dir');
    mkdirSync(tmp);
    const deadFile = writeDeadRun(dir, [
      { kind: 'temp-path', name: tmp, createdAt: '' },
      { kind: 'kind-cluster', name: 'cc-dead-000001', createdAt: '' },
      { kind: 'kind-cluster', name: 'cc-kept-000002', createdAt: '', kept: true },
    ]);
    const live = new RunState(dir);
    live.add('kind-cluster', 'cc-live-000003');
    const runner = new FakeRunner().on((l) => l.startsWith('docker ps'), { stdout: '' });
    const r = await cleanupLeftovers({ dir, runner });
    expect(r.removed.map((x) => x.resource.name)).toEqual(['cc-dead-000001', tmp]);
    expect(r.skipped.map((x) => `${x.resource.name}: ${x.why}`).sort()).toEqual([
      'cc-kept-000002: kept on purpose (--keep-cluster); use cleanup --all to remove it',
      `cc-live-000003: owned by running process ${process.pid} on ${hostname()}`,
    ]);
    const kindCalls = runner.lines().filter((l) => l.startsWith('kind'));
    expect(kindCalls).toHaveLength(1);
    // a throwaway kubeconfig of our own, never the user's default one
    expect(kindCalls[0]).toMatch(
      /^kind delete cluster --name cc-dead-000001 --kubeconfig \/\S+cc-kind-delete-\w+\/kubeconfig$/,
    );
    expect(existsSync(tmp)).toBe(false);
    // the dead run's file now lists only the kept cluster
    expect(JSON.parse(readFileSync(deadFile, 'utf8')).resources.map((x: { name: string }) => x.name)).toEqual(
      ['cc-kept-000002'],
    );

    const all = await cleanupLeftovers({ dir, runner, all: true });
    expect(all.removed.map((x) => x.resource.name).sort()).toEqual(['cc-kept-000002', 'cc-live-000003']);
    expect(readRuns(dir).runs).toEqual([]);
  });

  it('finds unrecorded harness clusters by name pattern and labelled containers of dead owners', async () => {
    const dir = join(root, 'st');
    const dead = deadPid();
    const runner = new FakeRunner()
      .on((l) => l.includes('label=io.x-k8s.kind.cluster'), {
        stdout: 'cc-orphan-a1b2c3\ncc-orphan-a1b2c3\nkind\nmy-dev\n',
      })
      .on((l) => l.includes(`label=${HARNESS_LABEL}`), {
        stdout: `cc-helper-dead\t${hostname()}:${dead}\ncc-helper-live\t${hostname()}:${process.pid}\n`,
      });
    const r = await cleanupLeftovers({ dir, runner });
    expect(r.removed.map((x) => `${x.resource.kind} ${x.resource.name}`)).toEqual([
      'kind-cluster cc-orphan-a1b2c3',
      'container cc-helper-dead',
    ]);
    expect(r.skipped.map((x) => x.resource.name)).toEqual(['cc-helper-live']);
    expect(runner.lines().join('\n')).not.toMatch(/delete cluster --name (kind|my-dev)/);
  });

  it('dry run removes nothing and says what it would remove', async () => {
    const dir = join(root, 'st');
    writeDeadRun(dir, [{ kind: 'container', name: 'cc-helper-9', createdAt: '' }]);
    const runner = new FakeRunner().on((l) => l.startsWith('docker ps'), { stdout: '' });
    const r = await cleanupLeftovers({ dir, runner, dryRun: true });
    expect(r.planned.map((p) => p.name)).toEqual(['cc-helper-9']);
    expect(runner.lines().filter((l) => l.startsWith('docker rm'))).toEqual([]);
    expect(readRuns(dir).runs).toHaveLength(1);
  });

  it('without kind the cluster is removed by its node containers; a docker failure is reported, not hidden', async () => {
    const dir = join(root, 'st');
    writeDeadRun(dir, [{ kind: 'kind-cluster', name: 'cc-gone-abcdef', createdAt: '' }]);
    const runner = new FakeRunner()
      .on((l) => l.startsWith('kind'), { exitCode: 127, stderr: 'kind: command not found' })
      .on((l) => l.includes('label=io.x-k8s.kind.cluster=cc-gone-abcdef'), { stdout: 'id1\nid2\n' })
      .on((l) => l.startsWith('docker rm'), { exitCode: 0 })
      .on((l) => l.startsWith('docker ps'), { exitCode: 1, stderr: 'Cannot connect to the Docker daemon' });
    const r = await cleanupLeftovers({ dir, runner });
    expect(r.removed[0]?.detail).toMatch(/removed 2 node container\(s\) with docker/);
    expect(runner.lines()).toContain('docker rm -f -v id1 id2');
    expect(r.notes.join('\n')).toMatch(
      /could not list kind node containers: Cannot connect to the Docker daemon/,
    );
  });

  it('the cleanup command reads the state dir from the environment and prints JSON', async () => {
    const dir = join(root, 'st');
    const io = memoryIO({ CALICO_CONFORMANCE_STATE_DIR: dir });
    // an empty docker and kind: a real one may hold another test's live cluster (the real tier's), which a
    // dry run would rightly plan to remove
    const code = await cleanupCommand(['--dry-run', '--output', 'json'], io, { runner: new FakeRunner() });
    expect(code).toBe(0);
    expect(JSON.parse(io.stdout)).toMatchObject({ removed: [], failed: [], planned: [] });
    await expect(cleanupCommand(['--output', 'xml'], io)).rejects.toThrow(/--output: "xml" is not allowed/);
    await expect(cleanupCommand(['--bogus'], io)).rejects.toThrow(
      /cleanup: Unknown option '--bogus'; valid options: --all, --dry-run, --output <value>, --help/,
    );
  });

  it('docker missing or its daemon unreachable: the environment is not usable (exit 3), saying what and how', async () => {
    const dir = join(root, 'st');
    const noDocker = new FakeRunner().on((l) => l.startsWith('docker'), {
      exitCode: 127,
      stderr: 'docker: command not found',
    });
    const r = await cleanupLeftovers({ dir, runner: noDocker });
    // both listings fail the same way: said once
    expect(r.unusable).toHaveLength(1);
    expect(r.unusable[0]?.missing).toBe('docker');
    expect(r.unusable[0]?.problem).toMatch(/docker is not installed or not on PATH.*docs\.docker\.com/);

    const io = memoryIO({ CALICO_CONFORMANCE_STATE_DIR: dir });
    const err = await cleanupCommand([], io, { runner: noDocker }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnvironmentError);
    expect(exitCodeOf(err)).toBe(ExitCode.Environment);
    expect((err as EnvironmentError).missing).toEqual(['docker']);
    expect(io.stdout).toMatch(/note: could not list kind node containers: docker: command not found/);

    const noDaemon = new FakeRunner().on((l) => l.startsWith('docker'), {
      exitCode: 1,
      stderr:
        'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?',
    });
    const err2 = await cleanupCommand(['--output', 'json'], memoryIO({ CALICO_CONFORMANCE_STATE_DIR: dir }), {
      runner: noDaemon,
    }).catch((e: unknown) => e);
    expect(exitCodeOf(err2)).toBe(ExitCode.Environment);
    expect((err2 as Error).message).toMatch(/Docker daemon is not reachable.*systemctl start docker/);

    // an ordinary failure of one listing is a note, not an unusable environment
    const odd = new FakeRunner().on((l) => l.startsWith('docker ps'), {
      exitCode: 1,
      stderr: 'template: bad',
    });
    expect((await cleanupLeftovers({ dir, runner: odd })).unusable).toEqual([]);
    expect(await cleanupCommand([], memoryIO({ CALICO_CONFORMANCE_STATE_DIR: dir }), { runner: odd })).toBe(
      ExitCode.Ok,
    );
  });
});
