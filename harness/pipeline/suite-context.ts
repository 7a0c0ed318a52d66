/**
 * The contract between the pipeline and the conformance suites (suites/*.test.ts): the serialisable context
 * the pipeline provides to vitest under the key `cellContext` and a suite reads with suiteContext()
 * (suites/context.ts), and the typed record a suite attaches to vitest's task metadata (`task.meta.record`)
 * for the pipeline to read from the test modules after the run (suites.ts). It lives in the harness so that
 * the harness never imports from suites/.
 */
import type { ClusterNode } from '../cluster/provider.js';
import type { Cell } from '../config/cell.js';
import type { ProbeRecord, ReachabilityGrid } from '../model/connectivity.js';
import type { CheckResult, PolicyScenarioResult } from '../model/results.js';

/** The cell's nodes as the pipeline lists them (the harness's one node type). */
export type SuiteNode = ClusterNode;

export interface SuiteContext {
  cell: Cell;
  clusterName: string;
  kubeconfigPath: string;
  /** this cell's results directory (the mode suite keeps what it verified in `<cellDir>/verify-dump/`) */
  cellDir: string;
  nodes: SuiteNode[];
  /** namespace prefix for test workloads */
  namespacePrefix: string;
  /** the user supplied calicoctl (Calico policy scenarios on the manifest path) */
  calicoctl?: string;
  /** scenario selection for the policy suite (regex over name and tags) */
  policySelect?: string;
  /** policy scenarios at once, each in its own namespace set (`run --policy-concurrency`; default from the nodes) */
  policyConcurrency?: number;
}

/**
 * What a suite measured beyond pass/fail, on the task it belongs to: on a test (`context.task.meta.record`)
 * it is that test's; on a suite or file (set in beforeAll, on the suite it receives) it belongs to none.
 */
export interface SuiteRecord {
  /**
   * the test's own result with its evidence: it replaces vitest's bare line for that test (only on a test),
   * except that a test vitest failed never reads as passed
   */
  check?: CheckResult;
  /** further checks (e.g. every mode verification rule) beside the tests' own lines */
  checks?: CheckResult[];
  grids?: ReachabilityGrid[];
  probes?: ProbeRecord[];
  policy?: PolicyScenarioResult[];
}

declare module 'vitest' {
  export interface ProvidedContext {
    cellContext: SuiteContext;
  }
}

// TaskMeta is @vitest/runner's (vitest re-exports it): the augmentation goes where it is declared
declare module '@vitest/runner' {
  export interface TaskMeta {
    record?: SuiteRecord;
  }
}
