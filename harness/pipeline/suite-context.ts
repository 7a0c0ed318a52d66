/**
 * The contract between the pipeline and the conformance suites (suites/*.test.ts): the serialisable context
 * the pipeline provides to vitest under the key `cellContext` and a suite reads with suiteContext()
 * (suites/context.ts). It lives in the harness so that the harness never imports from suites/.
 */
import type { ClusterNode } from '../cluster/provider.js';
import type { Cell } from '../config/cell.js';

/** The cell's nodes as the pipeline lists them (the harness's one node type). */
export type SuiteNode = ClusterNode;

export interface SuiteContext {
  cell: Cell;
  clusterName: string;
  kubeconfigPath: string;
  /** this cell's results directory; suite data goes to `<cellDir>/suite-data/` */
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

declare module 'vitest' {
  export interface ProvidedContext {
    cellContext: SuiteContext;
  }
}
