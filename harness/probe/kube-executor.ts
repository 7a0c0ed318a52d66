/**
 * The Kubernetes PodExecutor: an adapter over harness/kube's exec (client-node `Exec`, exit code from the
 * status channel, `details.causes[reason=ExitCode]`). Anything that is not a real exit of the command — the
 * exec could not start (-1), no status arrived, the client deadline fired — becomes a
 * ProbeInfrastructureError, so a lost websocket is never read as a "deny".
 */

import { PassThrough, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { Exec, type KubeConfig, type V1Status } from '@kubernetes/client-node';
import { type ExecResult, execRefusal, exitCodeFromStatus, type KubeClient } from '../kube/client.js';
import { kubectlExecCommand } from './command.js';
import {
  type PodExecOptions,
  type PodExecResult,
  type PodExecutor,
  type PodRef,
  type PodStream,
  type PodStreamEnd,
  ProbeInfrastructureError,
  podKey,
} from './executor.js';

/**
 * The one method of the kube client this adapter needs (tests pass a double at this boundary), the file the
 * client was loaded from when it says (for the paste-able commands) and its configuration (for sessions);
 * ClientNodeKube has both.
 */
export type KubeExec = Pick<KubeClient, 'exec'> & {
  readonly kubeconfigPath?: string;
  /** the configuration the client's requests use (ClientNodeKube has it): the sessions connect with it */
  readonly kubeConfig?: KubeConfig;
};

export class KubePodExecutor implements PodExecutor {
  private readonly kubeconfigPath: string | undefined;
  private readonly kubeConfig: KubeConfig | undefined;

  /**
   * `kubeconfigPath`: what the paste-able commands name (default: the client's own); `kubeConfig`: what the
   * long-lived probe sessions connect with (default: the client's own configuration, so the sessions reach
   * the cluster and user the client's execs reach)
   */
  constructor(
    private readonly kube: KubeExec,
    opts: { kubeconfigPath?: string; kubeConfig?: KubeConfig } = {},
  ) {
    this.kubeconfigPath = opts.kubeconfigPath ?? kube.kubeconfigPath;
    this.kubeConfig = opts.kubeConfig ?? kube.kubeConfig;
  }

  /**
   * A long-lived exec with stdin (client-node Exec over the exec websocket; no in-pod `timeout` around it:
   * the session ends at end of input). Closing ends stdin (the v5 protocol's close frame for stdin, or the
   * socket on older servers), waits for the exit status, then closes the socket.
   */
  openStream(pod: PodRef, argv: string[]): PodStream {
    if (!pod.container)
      throw new Error(
        `probe session in ${podKey(pod)} names no container: every probe exec must name the container it runs in`,
      );
    if (!this.kubeConfig)
      throw new Error(
        "probe sessions need the kube client's configuration (the client's kubeConfig): none given",
      );
    return execStream(this.kubeConfig, { ...pod, container: pod.container }, argv);
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

function execStream(
  kc: KubeConfig,
  pod: { namespace: string; name: string; container: string },
  argv: string[],
): PodStream {
  const what = `${pod.namespace}/${pod.name}`;
  const decoder = new StringDecoder('utf8');
  const listeners: ((chunk: string) => void)[] = [];
  let stderrText = '';
  const stdin = new PassThrough();
  const stdout = new Writable({
    write(c, _e, cb) {
      const text = decoder.write(c as Buffer);
      if (text) for (const fn of listeners) fn(text);
      cb();
    },
  });
  const stderr = new Writable({
    write(c, _e, cb) {
      stderrText = (stderrText + String(c)).slice(-4000);
      cb();
    },
  });
  let socket: { close(): void } | undefined;
  let gone = false;
  let finish!: (e: PodStreamEnd) => void;
  const ended = new Promise<PodStreamEnd>((resolve) => {
    finish = (e) => {
      if (gone) return;
      gone = true;
      try {
        socket?.close();
      } catch {
        /* already closed */
      }
      resolve(e);
    };
  });
  new Exec(kc)
    .exec(pod.namespace, pod.name, pod.container, argv, stdout, stderr, stdin, false, (st: V1Status) => {
      const code = exitCodeFromStatus(st);
      finish({
        ...(code >= 0 ? { exitCode: code } : {}),
        reason:
          code >= 0
            ? `the process in ${what} exited ${code}`
            : `the exec in ${what} failed: ${st.message ?? st.reason ?? 'no exit status'}`,
        stderr: stderrText,
      });
    })
    .then(
      (ws) => {
        socket = ws as never;
        if (gone) ws.close();
        // the status frame is not guaranteed (client-node issue #714): a close without one ends it too
        (ws as unknown as { on(ev: string, fn: () => void): void }).on('close', () =>
          setTimeout(
            () =>
              finish({
                reason: `the exec stream of ${what} closed without an exit status`,
                stderr: stderrText,
              }),
            50,
          ),
        );
      },
      (e: unknown) => finish({ reason: execRefusal(e), stderr: stderrText }),
    );
  return {
    write: (text) => {
      if (gone || stdin.writableEnded) return false;
      stdin.write(text);
      return true;
    },
    onStdout: (fn) => {
      listeners.push(fn);
    },
    ended,
    close: async (graceMs = 5000) => {
      if (!stdin.writableEnded) stdin.end();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([ended, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
      finish({ reason: `the probe session in ${what} was closed before it exited`, stderr: stderrText });
      return ended;
    },
  };
}
