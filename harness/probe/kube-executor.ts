/**
 * The Kubernetes PodExecutor: an adapter over harness/kube's exec (client-node `Exec`, exit code from the
 * status channel, `details.causes[reason=ExitCode]`). Anything that is not a real exit of the command — the
 * exec could not start (-1), no status arrived, the client deadline fired — becomes a
 * ProbeInfrastructureError, so a lost websocket is never read as a "deny".
 */
import type { ExecResult, KubeClient } from '../kube/client.js';
import { kubectlExecCommand } from './command.js';
import {
  type PodExecOptions,
  type PodExecResult,
  type PodExecutor,
  type PodRef,
  ProbeInfrastructureError,
  podKey,
} from './executor.js';

/**
 * The one method of the kube client this adapter needs (tests pass a double at this boundary), and the
 * kubeconfig the client was loaded from when it says (ClientNodeKube.fromFile does).
 */
export type KubeExec = Pick<KubeClient, 'exec'> & { readonly kubeconfigPath?: string };

export class KubePodExecutor implements PodExecutor {
  private readonly kubeconfigPath: string | undefined;

  /** `kubeconfigPath`: what the paste-able commands name (default: the client's own) */
  constructor(
    private readonly kube: KubeExec,
    opts: { kubeconfigPath?: string } = {},
  ) {
    this.kubeconfigPath = opts.kubeconfigPath ?? kube.kubeconfigPath;
  }

  /** `kubectl [--kubeconfig K] exec -n NS POD -c C -- argv…`: the same exec, by hand. */
  commandFor(pod: PodRef, argv: readonly string[]): string {
    return kubectlExecCommand(
      {
        namespace: pod.namespace,
        pod: pod.name,
        ...(pod.container ? { container: pod.container } : {}),
        ...(this.kubeconfigPath ? { kubeconfig: this.kubeconfigPath } : {}),
      },
      argv,
    );
  }

  async exec(pod: PodRef, argv: string[], opts: PodExecOptions): Promise<PodExecResult> {
    // The API server refuses an exec without a container on a pod with several (HTTP 400, kubernetes
    // pkg/registry/core/pod/strategy.go); a probe that names none is a harness bug, said before any exec
    if (!pod.container)
      throw new Error(
        `probe exec into ${podKey(pod)} names no container: every probe exec must name the container it runs in`,
      );
    if (opts.signal?.aborted)
      throw new ProbeInfrastructureError(podKey(pod), 'exec aborted before it started');
    const run = this.kube.exec({ namespace: pod.namespace, name: pod.name, container: pod.container }, argv, {
      timeoutMs: opts.timeoutMs,
    });
    let r: ExecResult;
    if (opts.signal) {
      const signal = opts.signal;
      r = await new Promise<ExecResult>((resolve, reject) => {
        const onAbort = () => reject(new ProbeInfrastructureError(podKey(pod), 'exec aborted'));
        signal.addEventListener('abort', onAbort, { once: true });
        run.then(
          (v) => {
            signal.removeEventListener('abort', onAbort);
            resolve(v);
          },
          (e) => {
            signal.removeEventListener('abort', onAbort);
            reject(e);
          },
        );
      });
    } else {
      r = await run.catch((e: unknown) => {
        throw new ProbeInfrastructureError(podKey(pod), e instanceof Error ? e.message : String(e));
      });
    }
    if (r.timedOut) {
      throw new ProbeInfrastructureError(
        podKey(pod),
        `exec timed out after ${opts.timeoutMs}ms${r.failure ? ` (${r.failure})` : ''}`,
        r.stdout,
      );
    }
    if (r.exitCode < 0 || r.failure) {
      throw new ProbeInfrastructureError(
        podKey(pod),
        `exec failed: ${r.failure ?? `no exit status (code ${r.exitCode})`}`,
        r.stderr,
      );
    }
    return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  }
}
