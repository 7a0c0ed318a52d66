/**
 * The vocabulary of connectivity (after the Kubernetes netpol e2e's probes and reachability grids): verdicts,
 * probe records and grids, part of the results model. Shared by the probe engine, the policy runner and the
 * reports; the expected side of a policy grid comes from the oracle's truth table (policy/oracle.ts), grids are
 * printed by probe/grid.ts.
 */

/** What one probe saw. `connected` also checks that the intended target answered. */
export type Verdict = 'connected' | 'refused' | 'timeout' | 'dns-failure' | 'unreachable' | 'error';
export const VERDICTS: readonly Verdict[] = [
  'connected',
  'refused',
  'timeout',
  'dns-failure',
  'unreachable',
  'error',
];

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

/** A probe's identity: from a peer to a peer on a port. Peers are "namespace/pod" or a named endpoint. */
export interface ProbeKey {
  from: string;
  to: string;
  port: number;
  protocol: Protocol;
}

/** One probe's outcome as recorded for the results model and the JSONL report. */
export interface ProbeRecord extends ProbeKey {
  verdict: Verdict;
  /** the name of whoever answered, when connected */
  answeredBy?: string;
  /** source IP the target saw (egress/NAT checks) */
  sourceIp?: string;
  durationMs: number;
  /** the probe's raw detail (error text, curl/nc exit code) */
  detail?: string;
  /** ISO time the probe ran */
  at?: string;
  /** which check or scenario asked for it */
  check?: string;
  /**
   * the command a person pastes to repeat this one probe by hand (`kubectl exec … -- nc …`; probe/command.ts),
   * when the executor knew how it reached the source pod
   */
  command?: string;
}

/** What is kept of a failed cell of a grid: the probe's own detail and the command that repeats it. */
export interface FailedProbe {
  detail?: string;
  command?: string;
}

/**
 * A reachability grid for one port/protocol: rows are sources, columns destinations. `expected` says
 * whether traffic should connect; `observed` holds the verdict seen (undefined where not probed).
 */
export interface ReachabilityGrid {
  title: string;
  port: number;
  protocol: Protocol;
  peers: string[];
  expected: Record<string, Record<string, boolean>>;
  observed: Record<string, Record<string, Verdict | undefined>>;
  /**
   * from → to → what was recorded of each failed cell (observed ≠ expected, or a probe error): its detail
   * and the command that repeats that one probe. Absent when nothing failed or the probes carried neither.
   */
  failures?: Record<string, Record<string, FailedProbe>>;
}
