/**
 * How the probe engine reaches a pod: one small interface, so the engine never depends on Kubernetes.
 * The Kubernetes implementation (client-node Exec) lives in kube-executor.ts; the docker one here serves
 * the docker-backed tests and the benchmark, where a "pod" is a container or a network namespace inside a
 * test node container (`ip netns exec`), which is exactly what a CNI gives a pod.
 */
import { StringDecoder } from 'node:string_decoder';
import { execa, type ResultPromise } from 'execa';
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

/** How a long-lived process in a pod ended (or its stream was lost). */
export interface PodStreamEnd {
  /** the process's exit code when it is known */
  exitCode?: number;
  /** what ended it, in words */
  reason: string;
  /** the tail of what it wrote on stderr */
  stderr: string;
}

/**
 * A long-lived process in a pod with its stdin open (the probe session, session.ts): text in, stdout out,
 * one end. `ended` resolves once, never rejects, whether the process exited or the stream broke.
 */
export interface PodStream {
  /** writes to the process's stdin; false when the stream is already gone */
  write(text: string): boolean;
  /** every stdout chunk, in order, decoded as UTF-8 */
  onStdout(fn: (chunk: string) => void): void;
  readonly ended: Promise<PodStreamEnd>;
  /** ends stdin, waits up to graceMs for the process to exit, then cuts the stream (and the process) */
  close(graceMs?: number): Promise<PodStreamEnd>;
}

export interface PodExecutor {
  /** Runs argv in the pod. Resolves with the exit code; rejects only when the exec itself could not run. */
  exec(pod: PodRef, argv: string[], opts: PodExecOptions): Promise<PodExecResult>;
  /** Starts argv in the pod with stdin open and returns at once (no round trip awaited); absent: one-shot only. */
  openStream?(pod: PodRef, argv: string[]): PodStream;
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

  /**
   * `docker exec -i <container> [ip netns exec <netns>] argv…` with stdin kept open (execa, argument array).
   * Closing ends stdin; a process still there after the grace is killed with the docker client (the
   * in-container process then reads end of input, as in a pod whose exec stream went away).
   */
  openStream(pod: PodRef, argv: string[]): PodStream {
    const [, ...rest] = this.argvFor(pod, argv);
    const child = execa(this.dockerCommand, ['exec', '-i', ...rest], {
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: false,
      reject: false,
    });
    return childStream(child, podKey(pod));
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

/** A PodStream over a local client process (`docker exec -i …`): its stdin, stdout and exit. */
function childStream(child: ResultPromise, what: string): PodStream {
  const decoder = new StringDecoder('utf8');
  let stderr = '';
  let gone = false;
  const listeners: ((chunk: string) => void)[] = [];
  child.stdout?.on('data', (c: Buffer) => {
    const text = decoder.write(c);
    if (text) for (const fn of listeners) fn(text);
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + String(c)).slice(-4000);
  });
  // a write after the process is gone fails with EPIPE on the pipe: the stream's end says why
  child.stdin?.on('error', () => {});
  const ended: Promise<PodStreamEnd> = child.then(
    (r) => {
      gone = true;
      return {
        ...(typeof r.exitCode === 'number' ? { exitCode: r.exitCode } : {}),
        reason: r.signal
          ? `the client of ${what} was ended by ${r.signal}`
          : `the process in ${what} exited ${r.exitCode}`,
        stderr,
      };
    },
    (e: unknown) => {
      gone = true;
      return { reason: `the client of ${what} failed: ${(e as Error).message}`, stderr };
    },
  );
  return {
    write: (text) => {
      if (gone || !child.stdin || child.stdin.destroyed || child.stdin.writableEnded) return false;
      child.stdin.write(text);
      return true;
    },
    onStdout: (fn) => {
      listeners.push(fn);
    },
    ended,
    close: async (graceMs = 5000) => {
      child.stdin?.end();
      let timer: NodeJS.Timeout | undefined;
      const late = await Promise.race([
        ended.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), graceMs);
        }),
      ]);
      clearTimeout(timer);
      if (late) child.kill('SIGKILL');
      return ended;
    },
  };
}
