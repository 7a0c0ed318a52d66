/**
 * The in-pod `timeout` of an exec, run for real: the fake API server accepts the exec and runs the command
 * the Kubernetes client sent (`timeout N argv…`) in a test node container, with busybox's `timeout` (what the
 * Alpine-based agnhost image has) or coreutils' (Debian), and answers with the real exit code. Busybox runs
 * the command in its own process and signals it, so a timed-out command exits 143 (TERM), not 124.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ClientNodeKube } from '../../../harness/kube/client.js';
import { ProbeInfrastructureError } from '../../../harness/probe/executor.js';
import { KubePodExecutor } from '../../../harness/probe/kube-executor.js';
import { DockerTestBed, describeDocker, type TestNode } from '../../support/docker.js';
import { FakeApiServer } from '../../unit/kube/fake-apiserver.js';

describeDocker('exec timeouts with a real busybox and coreutils timeout', () => {
  const bed = new DockerTestBed();
  let node: TestNode;
  let fake: FakeApiServer;
  let kube: ClientNodeKube;
  /** how the pod's image runs the command: busybox applets (Alpine) or the Debian tools */
  let userland: 'busybox' | 'coreutils' = 'busybox';

  beforeAll(async () => {
    node = await bed.node('pod', { isolated: true });
    fake = await new FakeApiServer().start();
    fake.putPod('probes', 'client-n0', ['client']);
    fake.execHandler = async (argv) => {
      const r = await node.shell.exec(userland === 'busybox' ? ['busybox', ...argv] : argv, {
        timeoutMs: 30_000,
      });
      return { stdout: r.stdout, stderr: r.stderr, code: r.exitCode };
    };
    kube = new ClientNodeKube(fake.kubeConfig(), { intervalMs: 10 });
  }, 120_000);

  afterAll(async () => {
    await fake?.stop();
    expect(await bed.dispose()).toEqual([]);
  }, 60_000);

  const pod = { namespace: 'probes', name: 'client-n0', container: 'client' };

  it('busybox timeout ends the command with 143 (SIGTERM) and the client calls it a timeout', async () => {
    userland = 'busybox';
    const r = await kube.exec(pod, ['sleep', '30'], { timeoutMs: 1000 });
    expect(fake.execCommands.at(-1)).toEqual(['timeout', '1', 'sleep', '30']);
    expect(r).toMatchObject({ exitCode: 143, timedOut: true });
    // a command's own failure is not a timeout
    expect(await kube.exec(pod, ['false'], { timeoutMs: 1000 })).toMatchObject({
      exitCode: 1,
      timedOut: false,
    });
  });

  it('coreutils timeout ends it with 124, also a timeout', async () => {
    userland = 'coreutils';
    expect(await kube.exec(pod, ['sleep', '30'], { timeoutMs: 1000 })).toMatchObject({
      exitCode: 124,
      timedOut: true,
    });
  });

  it('the probe executor reports a busybox in-pod timeout as a timed-out exec, never as an exit code of the probe', async () => {
    userland = 'busybox';
    const err = await new KubePodExecutor(kube)
      .exec(pod, ['sleep', '30'], { timeoutMs: 1000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProbeInfrastructureError);
    expect((err as ProbeInfrastructureError).reason).toMatch(/^exec timed out after 1000ms/);
  });
});
