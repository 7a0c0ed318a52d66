/**
 * The vocabulary of connectivity (after the Kubernetes netpol e2e: Model, Peer, TruthTable, Reachability).
 * Shared by the probe engine, the policy runner and the reports.
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
}
