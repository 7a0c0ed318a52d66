/**
 * The small interfaces the pipeline needs from the rest of the harness: a cluster provider (kind), the
 * renderer, the installer, verification, the suites, the audit, diagnostics and progress. The pipeline only
 * ever talks to these, so its order, its gates, its timeouts and its teardown are tested with doubles
 * (test/unit/pipeline, and test/e2e with real docker containers as nodes); `realDeps()` (real.ts) binds them
 * to the live modules.
 */

import type { NodeShell } from '../cluster/node-shell.js';
import type { ClusterHandle, ClusterNode, ClusterProvider } from '../cluster/provider.js';
import type { Cell } from '../config/cell.js';
import type { AuditReport } from '../model/audit.js';
import type { ProbeRecord, ReachabilityGrid } from '../model/connectivity.js';
import type { CheckResult, Outcome, PolicyScenarioResult, UpgradeResult } from '../model/results.js';
import type { NodeDump } from '../node-state/dump.js';
import type { PhaseLimits } from './phase.js';
import type { SuiteContext } from './suite-context.js';

/** The cluster the pipeline runs on: harness/cluster/provider.ts, the one provider interface. */
export type { ClusterHandle, ClusterNode, ClusterProvider, ClusterSpec } from '../cluster/provider.js';

/** The rendered files of one cell (harness/calico/render.ts RenderedCell, kept structural here). */
export interface RenderedFiles {
  files: { name: string; content: string }[];
  applyPlan: unknown[];
  objects: unknown[];
}

/** What every phase body gets: the cell, its live cluster, where to write, how to report progress. */
export interface StepContext {
  cell: Cell;
  cellDir: string;
  cluster: ClusterHandle;
  nodes: ClusterNode[];
  rendered?: RenderedFiles;
  /** aborted on the phase's timeout and on SIGINT/SIGTERM */
  signal: AbortSignal;
  /** a status line; the last one is what a timeout reports as "last seen" */
  log(line: string): void;
  /** what the suites get (suite-context.ts; suites read it with suites/context.ts) */
  suiteContext: SuiteContext;
}

/**
 * What a suite run (vitest) produced for one phase, typed: the checks, and what the suites recorded on their
 * tasks for the results model (harness/pipeline/suite-context.ts SuiteRecord), merged into the cell result.
 */
export interface SuiteRun {
  checks: CheckResult[];
  /** evidence lines: reporter output files, counts */
  evidence: string[];
  grids?: ReachabilityGrid[];
  probes?: ProbeRecord[];
  policy?: PolicyScenarioResult[];
}

export type SuiteName = 'mode' | 'connectivity' | 'policy';

export interface PipelineDeps {
  provider: ClusterProvider;
  clusterNameFor(cell: Cell): string;
  kindConfig(cell: Cell, clusterName: string): string;
  render(cell: Cell): Promise<RenderedFiles>;
  /** after cluster creation: split-subnet addressing etc.; returns evidence lines */
  prepareTopology(step: StepContext): Promise<string[]>;
  /** `sha256sum /opt/cni/bin/*` before Calico (audit's baseline) */
  collectBaseline(shell: NodeShell): Promise<string | undefined>;
  collectNodeDump(shell: NodeShell, baseline: string | undefined): Promise<NodeDump>;
  writeNodeDump(dir: string, dump: NodeDump): void;
  install(step: StepContext): Promise<string[]>;
  /** checks that the requested mode took effect (harness/verify + the mode suite) */
  verify(step: StepContext): Promise<SuiteRun>;
  runSuite(name: SuiteName, step: StepContext): Promise<SuiteRun>;
  uninstall(step: StepContext): Promise<string[]>;
  /**
   * the complete uninstall (harness/audit/complete-uninstall.ts): every leftover removed inside each node and
   * Calico's by-design API state cleared; `baseline` gives a node's cni-bin baseline. Returns evidence
   * lines; throws when a step failed
   */
  completeUninstall(step: StepContext, baseline: (node: string) => string | undefined): Promise<string[]>;
  /**
   * audits the node dumps (and the API state when reachable, written as cluster.json into `dir`, the
   * directory the dumps were written to)
   */
  audit(step: StepContext, dumps: NodeDump[], dir: string): Promise<AuditReport>;
  /** writes a diagnostics bundle for a failed cell into dir; returns a short description */
  collectDiagnostics(step: StepContext, dir: string): Promise<string | undefined>;
}

/**
 * B, the version an upgrade takes the cluster to, as the pipeline hands it to the upgrade phase: the cell,
 * its rendered files (written to `rendered/to/` before the phase starts), and a call the phase makes right
 * before it applies the first of them, from which on the uninstall and the audits are B's.
 */
export interface UpgradeTarget {
  cell: Cell;
  rendered: RenderedFiles;
  applying(): void;
}

/** What the upgrade phase reports back to the pipeline. */
export interface UpgradeStageOutput {
  outcome: Outcome;
  reason?: string;
  evidence: string[];
  /** the measurement (outages, fail-open windows, time until every component ran B) */
  result?: UpgradeResult;
  /**
   * every component runs B: the suites on B still tell something even when the measurement failed (an
   * outage over budget), so a failed upgrade phase stops the phases after it only when this is false
   */
  reachedTarget: boolean;
}

/**
 * The upgrade command's own phase (harness/upgrade/phase.ts). With it the pipeline is the upgrade: the
 * install phase installs `from` (A), this phase runs between install and verify and takes the cluster to
 * the cell's own version (B), and everything else is the pipeline's own phases on B.
 */
export interface UpgradeStage {
  from: Cell;
  limits: PhaseLimits;
  run(step: StepContext, target: UpgradeTarget): Promise<UpgradeStageOutput>;
}

/** Progress is harness/progress's sink (one status line per phase, kind style). */
export type { ProgressSink } from '../progress/progress.js';
export { silentProgress } from '../progress/progress.js';
