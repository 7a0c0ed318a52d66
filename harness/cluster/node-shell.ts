/**
 * The node shell: runs a command inside a node (a kind node container, or a docker-backed test node)
 * with `docker exec`. Node audits, verification and deep clean go through this interface only.
 */
import { defaultRunner, type ProcessRunner, type RunResult } from '../exec/process.js';

export interface NodeExecOptions {
  timeoutMs?: number;
  input?: string;
}

export interface NodeShell {
  /** the node's name (the kind node name, e.g. `cc-1a2b3c-worker`) */
  readonly node: string;
  /** runs argv in the node; never throws for a non-zero exit (read exitCode) */
  exec(argv: readonly string[], opts?: NodeExecOptions): Promise<RunResult>;
}

export const NODE_EXEC_TIMEOUT_MS = 60_000;

/** `docker exec <container> argv…` */
export class DockerNodeShell implements NodeShell {
  constructor(
    readonly container: string,
    readonly node: string = container,
    private readonly runner: ProcessRunner = defaultRunner,
    private readonly dockerCommand = 'docker',
  ) {}

  exec(argv: readonly string[], opts: NodeExecOptions = {}): Promise<RunResult> {
    const args = ['exec', ...(opts.input !== undefined ? ['-i'] : []), this.container, ...argv];
    return this.runner.run(this.dockerCommand, args, {
      timeoutMs: opts.timeoutMs ?? NODE_EXEC_TIMEOUT_MS,
      ...(opts.input !== undefined ? { input: opts.input } : {}),
    });
  }
}
