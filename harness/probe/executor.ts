/**
 * How the probe engine reaches a pod: one small interface, so the engine never depends on Kubernetes.
 * The Kubernetes implementation (client-node Exec) lives in kube-executor.ts; the docker one here serves
 * the docker-backed tests and the benchmark, where a "pod" is a container or a network namespace inside a
 * test node container (`ip netns exec`), which is exactly what a CNI gives a pod.
 */
import { defaultRunner, formatCommand, type ProcessRunner, tailOf } from '../exec/process.js';

export interface PodRef {
  namespace: string;
  name: string;
  container?: string;
}

export interface PodExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface PodExecOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface PodExecutor {
  /** Runs argv in the pod. Resolves with the exit code; rejects only when the exec itself could not run. */
  exec(pod: PodRef, argv: string[], opts: PodExecOptions): Promise<PodExecResult>;
  /**
   * The command line a person pastes to run argv in the pod the way this executor reaches it (`kubectl exec
   * …`, `docker exec …`); undefined when it cannot say.
   */
  commandFor?(pod: PodRef, argv: readonly string[]): string | undefined;
}

export function podKey(pod: PodRef): string {
  return `${pod.namespace}/${pod.name}`;
}

/**
 * The probe run could not tell anything about the network: the exec failed, was killed, timed out, or the
 * in-pod script ended without its sentinel. Never turned into a verdict (a lost exec is not a "deny").
 */
export class ProbeInfrastructureError extends Error {
  constructor(
    readonly pod: string,
    readonly reason: string,
    readonly output = '',
  ) {
    super(`probe exec in ${pod} failed: ${reason}${tailOf(output, 8)}`);
    this.name = 'ProbeInfrastructureError';
  }
}

/** Where a docker-backed "pod" lives: its own container, or a network namespace in a node container. */
export interface DockerPodLocation {
  container: string;
  /** `ip netns exec <netns>` inside the container; absent: the container's own namespace (hostNetwork) */
  netns?: string;
}

/**
 * `docker exec <container> [ip netns exec <netns>] argv…` through a ProcessRunner. Pods are resolved
 * through a table the test bed fills, so a PodRef means the same thing here as in a cluster.
 */
export class DockerPodExecutor implements PodExecutor {
  private readonly pods = new Map<string, DockerPodLocation>();

  constructor(
    private readonly runner: ProcessRunner = defaultRunner,
    private readonly dockerCommand = 'docker',
  ) {}

  register(pod: PodRef, where: DockerPodLocation): this {
    this.pods.set(podKey(pod), where);
    return this;
  }

  argvFor(pod: PodRef, argv: readonly string[]): string[] {
    const where = this.pods.get(podKey(pod));
    if (!where) {
      throw new ProbeInfrastructureError(
        podKey(pod),
        `no docker location registered for this pod (known: ${[...this.pods.keys()].join(', ') || 'none'})`,
      );
    }
    return ['exec', where.container, ...(where.netns ? ['ip', 'netns', 'exec', where.netns] : []), ...argv];
  }

  /** `docker exec <container> [ip netns exec <netns>] argv…`, shell-quoted; undefined for an unknown pod. */
  commandFor(pod: PodRef, argv: readonly string[]): string | undefined {
    if (!this.pods.has(podKey(pod))) return undefined;
    return formatCommand(this.dockerCommand, this.argvFor(pod, argv));
  }

  async exec(pod: PodRef, argv: string[], opts: PodExecOptions): Promise<PodExecResult> {
    const args = this.argvFor(pod, argv);
    const r = await this.runner.run(this.dockerCommand, args, {
      timeoutMs: opts.timeoutMs,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    if (r.timedOut) {
      throw new ProbeInfrastructureError(
        podKey(pod),
        `\`${formatCommand(this.dockerCommand, args.slice(0, 6))} …\` timed out after ${opts.timeoutMs}ms`,
        r.stdout,
      );
    }
    if (opts.signal?.aborted) {
      throw new ProbeInfrastructureError(podKey(pod), 'exec aborted', r.stdout);
    }
    // docker exec reports its own failures (no such container, OCI errors) as 125–127 with text on stderr.
    if (
      r.exitCode >= 125 &&
      r.exitCode <= 127 &&
      /docker|OCI|No such container|not running/i.test(r.stderr)
    ) {
      throw new ProbeInfrastructureError(podKey(pod), `docker exec failed (${r.exitCode})`, r.stderr);
    }
    return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  }
}
