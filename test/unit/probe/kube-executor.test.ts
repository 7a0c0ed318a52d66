import { describe, expect, it } from 'vitest';
import type { ExecResult } from '../../../harness/kube/client.js';
import { ProbeInfrastructureError } from '../../../harness/probe/executor.js';
import { type KubeExec, KubePodExecutor } from '../../../harness/probe/kube-executor.js';
import { sessionArgv } from '../../../harness/probe/script.js';
import { ProbeSession } from '../../../harness/probe/session.js';
import { FakeApiServer } from '../kube/fake-apiserver.js';

const double = (result: ExecResult | Error, seen: unknown[] = []): KubeExec => ({
  exec: async (pod, argv, opts) => {
    seen.push({ pod, argv, opts });
    if (result instanceof Error) throw result;
    return result;
  },
});

describe('KubePodExecutor (double at the kube client boundary)', () => {
  const pod = { namespace: 'probes', name: 'client-n0', container: 'client' };

  it('passes pod, container, argv and the deadline through and returns a real exit', async () => {
    const seen: unknown[] = [];
    const ex = new KubePodExecutor(double({ exitCode: 3, stdout: 'o', stderr: 'e', timedOut: false }, seen));
    expect(await ex.exec(pod, ['sh', '-c', 'x'], { timeoutMs: 7000 })).toEqual({
      exitCode: 3,
      stdout: 'o',
      stderr: 'e',
    });
    expect(seen).toEqual([{ pod, argv: ['sh', '-c', 'x'], opts: { timeoutMs: 7000 } }]);
  });

  it('turns a timeout, a failed start, a status failure and a thrown error into infrastructure failures', async () => {
    const cases: (ExecResult | Error)[] = [
      {
        exitCode: 124,
        stdout: 'partial',
        stderr: '',
        timedOut: true,
        failure: 'no exit status within 12000ms',
      },
      { exitCode: -1, stdout: '', stderr: '', timedOut: false },
      { exitCode: 0, stdout: '', stderr: '', timedOut: false, failure: 'container not found ("client")' },
      new Error('Unexpected server response: 403'),
    ];
    const reasons: string[] = [];
    for (const c of cases) {
      const err = await new KubePodExecutor(double(c))
        .exec(pod, ['true'], { timeoutMs: 1000 })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProbeInfrastructureError);
      reasons.push((err as ProbeInfrastructureError).reason);
    }
    expect(reasons).toEqual([
      'exec timed out after 1000ms (no exit status within 12000ms)',
      'exec failed: no exit status (code -1)',
      'exec failed: container not found ("client")',
      'Unexpected server response: 403',
    ]);
  });

  it('refuses a pod without a container name before any exec (the API server would refuse it on a two-container pod)', async () => {
    const seen: unknown[] = [];
    const ex = new KubePodExecutor(double({ exitCode: 0, stdout: '', stderr: '', timedOut: false }, seen));
    await expect(ex.exec({ namespace: 'x', name: 'a' }, ['true'], { timeoutMs: 1000 })).rejects.toThrow(
      /x\/a names no container/,
    );
    expect(seen).toEqual([]);
  });

  it('gives up on abort without waiting for the exec', async () => {
    const never: KubeExec = { exec: () => new Promise(() => {}) };
    const ac = new AbortController();
    const p = new KubePodExecutor(never).exec(pod, ['true'], { timeoutMs: 60_000, signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toThrow(/exec aborted/);
  });

  it('a probe session names its container, and one the API server refuses ends as infrastructure, not a verdict', async () => {
    const ex = new KubePodExecutor(double(new Error('unused')), { kubeconfigPath: '/nonexistent' });
    expect(() => ex.openStream({ namespace: 'x', name: 'a' }, sessionArgv())).toThrow(
      /probe session in x\/a names no container/,
    );
    // a file path alone is no way to connect: the sessions use the client's own configuration
    expect(() => ex.openStream({ namespace: 'x', name: 'a', container: 'c' }, sessionArgv())).toThrow(
      /probe sessions need the kube client's configuration/,
    );
    const fake = await new FakeApiServer().start();
    try {
      fake.putPod('probes', 'a', ['cont-80', 'cont-81']);
      const real = new KubePodExecutor(double(new Error('unused')), { kubeConfig: fake.kubeConfig() });
      const stream = real.openStream(
        { namespace: 'probes', name: 'gone', container: 'cont-80' },
        sessionArgv(),
      );
      const session = new ProbeSession('probes/gone', stream);
      const batch = session.batch(
        [{ mode: 'tcp', host: '10.0.0.1', port: 80, arg: 0, timeoutSeconds: 1 }],
        10_000,
      );
      await expect(batch).rejects.toThrow(
        /the probe session ended: the API server refused the exec with HTTP 404/,
      );
      expect(session.usable).toBe(false);
      expect(fake.execRequests.at(-1)).toMatchObject({
        pod: 'gone',
        container: 'cont-80',
        argv: sessionArgv(),
      });
    } finally {
      await fake.stop();
    }
  });

  it("a session connects with the client's own configuration, not a file read again", async () => {
    const fake = await new FakeApiServer().start();
    try {
      fake.putPod('probes', 'a', ['cont-80']);
      // the client names a path that does not exist: a session that re-read it would fail to load it
      const client = Object.assign(double(new Error('unused')), {
        kubeconfigPath: '/nonexistent/kubeconfig',
        kubeConfig: fake.kubeConfig(),
      });
      const ex = new KubePodExecutor(client);
      const session = new ProbeSession(
        'probes/gone',
        ex.openStream({ namespace: 'probes', name: 'gone', container: 'cont-80' }, sessionArgv()),
      );
      await expect(
        session.batch([{ mode: 'tcp', host: '10.0.0.1', port: 80, arg: 0, timeoutSeconds: 1 }], 10_000),
      ).rejects.toThrow(/HTTP 404/);
      expect(fake.execRequests.at(-1)).toMatchObject({ pod: 'gone', container: 'cont-80' });
      // the paste-able command still names the client's file
      expect(ex.commandFor({ namespace: 'probes', name: 'a', container: 'cont-80' }, ['true'])).toContain(
        '--kubeconfig /nonexistent/kubeconfig',
      );
    } finally {
      await fake.stop();
    }
  });
});
