/**
 * The one results model: every phase writes into it, every report format reads it (reports read the
 * results model, never recompute). With connectivity.ts (probe records, grids) and audit.ts (findings, the
 * audit verdicts) it is harness/model/, below every layer that writes it: it imports only the cell (config/).
 */

import type { Cell } from '../config/cell.js';
import type { CellAudit } from './audit.js';
import type { ProbeRecord, ReachabilityGrid } from './connectivity.js';

export type Outcome = 'passed' | 'failed' | 'skipped' | 'not-run' | 'error';

/**
 * The phases of a cell in the order they run: the one list of them. The pipeline's order and gates, `run
 * --until`, the limits table, the progress table's columns and the reports' columns all read it.
 * `upgrade` is the upgrade command's own phase (between installing A and verifying B): `run` records
 * every phase but it, `upgrade` records them all.
 */
export const PHASES = [
  'preflight',
  'create-cluster',
  'baseline',
  'install',
  'upgrade',
  'verify',
  'connectivity',
  'policy',
  'uninstall',
  'audit',
  'complete-uninstall',
  'final-audit',
  'teardown',
] as const;
export type PhaseName = (typeof PHASES)[number];

/** The phases `run` records: all but the upgrade command's own. */
export type RunPhase = Exclude<PhaseName, 'upgrade'>;
export const RUN_PHASES: readonly RunPhase[] = PHASES.filter((p): p is RunPhase => p !== 'upgrade');

/** The phases of a tuple from X on. */
type From<T extends readonly unknown[], X> = T extends readonly [infer H, ...infer R]
  ? H extends X
    ? T[number]
    : From<R, X>
  : never;

/** From the uninstall on: the phases that take the cell apart, which run after a failed phase too. */
export type CleanupPhase = From<typeof PHASES, 'uninstall'>;
export const CLEANUP_PHASES: readonly CleanupPhase[] = PHASES.slice(
  PHASES.indexOf('uninstall'),
) as CleanupPhase[];

/** The phases `run --until` may name: a cluster exists after each, and nothing after it has removed Calico. */
export type UntilPhase = Exclude<RunPhase, 'preflight' | CleanupPhase>;
export const UNTIL_PHASES: readonly UntilPhase[] = RUN_PHASES.filter(
  (p): p is UntilPhase => p !== 'preflight' && !(CLEANUP_PHASES as readonly string[]).includes(p),
);

/** One check inside a phase: a vitest test, a verification rule, a connectivity check. */
export interface CheckResult {
  name: string;
  outcome: Outcome;
  durationMs: number;
  /** one-line reason for failure or skip */
  message?: string;
  /** multi-line evidence: grids, command output, expected vs observed */
  details?: string;
}

export interface PhaseResult {
  name: PhaseName;
  outcome: Outcome;
  startedAt: string;
  durationMs: number;
  /** why it failed, was skipped or not run */
  reason?: string;
  /** short lines of what it did/saw */
  evidence: string[];
  checks: CheckResult[];
}

export interface PolicyScenarioResult {
  name: string;
  tags: string[];
  outcome: Outcome;
  /** ms from apply until the observed table equalled the expected one (3 rounds in a row) */
  timeToEnforceMs?: number;
  /** ms from delete until everything was reachable again */
  timeToRestoreMs?: number;
  rounds: number;
  message?: string;
  grids: ReachabilityGrid[];
  policyYaml?: string;
  /** ms from the apply until the scenario was restored (or gave up): its wall time */
  durationMs?: number;
  /** the namespace set it ran in (several scenarios run at once, each in its own set) */
  namespaceSet?: number;
  /** why it ran alone (cluster-scoped policy), when it did */
  ranAlone?: string;
}

export interface UpgradePairStats {
  from: string;
  to: string;
  port: number;
  protocol: string;
  /** must stay allowed (outage measured) or stay denied (fail-open measured) */
  expect: 'allowed' | 'denied';
  probes: number;
  failures: number;
  longestOutageMs: number;
  /** successes while it should have been denied */
  failOpenCount: number;
  failOpenWindows: { startMs: number; endMs: number }[];
  outageWindows: { startMs: number; endMs: number }[];
  /** the pair's label in the timeline (`timeline[].pair`), e.g. "x/a → y/b TCP/80" */
  label?: string;
  /** probes with verdict `error` (infrastructure): excluded from every count and window above */
  errors?: number;
  /** longest interval between two usable probes (ms): a gap over the outage budget means "not measured" */
  maxGapMs?: number;
  /** an allowed pair still failing at the end of the timeline */
  unrecovered?: boolean;
  /** the command that repeats one probe of this pair by hand (`kubectl --kubeconfig … exec … -- nc …`) */
  command?: string;
}

/** A pair's name in every output: its label, or `from → to PROTOCOL/port` (what the analysis labels it). */
export function upgradePairLabel(p: {
  from: string;
  to: string;
  protocol: string;
  port: number;
  label?: string;
}): string {
  return p.label ?? `${p.from} → ${p.to} ${p.protocol}/${p.port}`;
}

/** Whether a pair broke its promise: an allowed pair's outage over the budget or not recovered, a denied pair's fail-open over the maximum. */
export function upgradePairFailed(
  p: Pick<UpgradePairStats, 'expect' | 'longestOutageMs' | 'unrecovered' | 'failOpenCount'>,
  thresholds: { maxOutageMs: number; maxFailOpen: number },
): boolean {
  return p.expect === 'allowed'
    ? p.longestOutageMs > thresholds.maxOutageMs || p.unrecovered === true
    : p.failOpenCount > thresholds.maxFailOpen;
}

export interface UpgradeResult {
  from: string;
  to: string;
  path: 'manifest' | 'operator' | 'manifest-to-operator';
  /** ms relative to the start of the timeline when the upgrade began / every component ran B */
  upgradeStartMs: number;
  allOnTargetMs?: number;
  timeToTargetMs?: number;
  pairs: UpgradePairStats[];
  thresholds: { maxOutageMs: number; maxFailOpen: number };
  outcome: Outcome;
  violations: string[];
  /** observations that are not violations (errored probes, an outage already present at the start) */
  notes?: string[];
  /** ms offset when the probers stopped: the picture's right edge */
  timelineEndMs?: number;
  /**
   * per pair (same order as `pairs`), the probe timeline for the picture: `t` ms offset, `ok` = the probe
   * connected (for a denied pair ok=true is a fail-open probe); errored probes are left out
   */
  timeline: { pair: string; expect: 'allowed' | 'denied'; points: { t: number; ok: boolean }[] }[];
}

export interface CellResult {
  cell: Cell;
  outcome: Outcome;
  /** why it was skipped (e.g. no ipip on the host kernel) */
  reason?: string;
  clusterName?: string;
  startedAt: string;
  durationMs: number;
  phases: PhaseResult[];
  grids: ReachabilityGrid[];
  probes: ProbeRecord[];
  policy: PolicyScenarioResult[];
  /**
   * both audits side by side: what the upstream uninstall left (expected / new / fixed against the
   * known-leftovers baseline) and what is left after the complete uninstall (must be clean)
   */
  audit?: CellAudit;
  upgrade?: UpgradeResult;
  /** relative path of the diagnostics bundle inside the results directory, for failed cells */
  diagnostics?: string;
}

export interface RunResults {
  tool: { name: 'calico-conformance'; version: string };
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  host: { platform: string; node: string; kindVersion?: string; dockerVersion?: string };
  cells: CellResult[];
  /** anything the run created and could not remove */
  leftBehind: string[];
  /** the signal that stopped the run early (SIGINT/SIGTERM); cells it cut short say so in their reason */
  interrupted?: string;
}

/** The overall outcome: failed if any cell failed or errored. */
export function runOutcome(results: RunResults): Outcome {
  if (results.cells.some((c) => c.outcome === 'failed' || c.outcome === 'error')) return 'failed';
  if (results.cells.length > 0 && results.cells.every((c) => c.outcome === 'skipped')) return 'skipped';
  return 'passed';
}
