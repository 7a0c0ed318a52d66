/**
 * A PodExecutor double at the exec boundary: it reads the probe groups from the argv the prober built and
 * answers each with what the script would print, from a table the test writes (a simulated network).
 */
import { kubectlExecCommand } from '../../../harness/probe/command.js';
import type { PodExecOptions, PodExecResult, PodExecutor, PodRef } from '../../../harness/probe/executor.js';
import { PROBE_END, PROBE_SCRIPT, type RawProbeOutput } from '../../../harness/probe/script.js';

export interface SimulatedProbe {
  pod: string;
  mode: string;
  host: string;
  port: number;
  arg: number;
  timeoutSeconds: number;
}

export type Network = (p: SimulatedProbe) => Omit<RawProbeOutput, 'i' | 'ms'> & { ms?: number };

export class SimulatedExecutor implements PodExecutor {
  readonly calls: { pod: string; probes: SimulatedProbe[]; timeoutMs: number }[] = [];
  /** per pod: drop the sentinel, or fail the exec */
  readonly faults = new Map<string, 'no-sentinel' | 'reject' | 'exit-1'>();

  constructor(private readonly network: Network) {}

  /** as the Kubernetes executor says it (kubeconfig left out) */
  commandFor(pod: PodRef, argv: readonly string[]): string {
    return kubectlExecCommand(
      { namespace: pod.namespace, pod: pod.name, ...(pod.container ? { container: pod.container } : {}) },
      argv,
    );
  }

  async exec(pod: PodRef, argv: string[], opts: PodExecOptions): Promise<PodExecResult> {
    const key = `${pod.namespace}/${pod.name}`;
    if (argv[0] !== 'sh' || argv[1] !== '-c' || argv[2] !== PROBE_SCRIPT || argv[3] !== 'ccprobe') {
      throw new Error(`unexpected argv ${argv.slice(0, 2).join(' ')}`);
    }
    const rest = argv.slice(4);
    const probes: SimulatedProbe[] = [];
    for (let i = 0; i + 5 <= rest.length; i += 5) {
      probes.push({
        pod: key,
        mode: rest[i] ?? '',
        host: rest[i + 1] ?? '',
        port: Number(rest[i + 2]),
        arg: Number(rest[i + 3]),
        timeoutSeconds: Number(rest[i + 4]),
      });
    }
    this.calls.push({ pod: key, probes, timeoutMs: opts.timeoutMs });
    const fault = this.faults.get(key);
    if (fault === 'reject') throw new Error('websocket closed before the status frame');
    const lines = probes.map((p, i) => JSON.stringify({ i, ms: 3, ...this.network(p) }));
    // printed in reverse: the prober must not depend on order
    lines.reverse();
    if (fault !== 'no-sentinel') lines.push(`${PROBE_END} ${probes.length}`);
    return { exitCode: fault === 'exit-1' ? 1 : 0, stdout: `${lines.join('\n')}\n`, stderr: '' };
  }
}
