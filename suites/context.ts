/**
 * How a conformance suite (suites/*.test.ts) reaches the live cell it runs against. The pipeline runs
 * the suites through vitest's Node API and provides a serialisable SuiteContext under the key
 * `cellContext`; a suite rebuilds its clients from the kubeconfig path. What a suite measures beyond
 * pass/fail (grids, probe records, policy timings, verification evidence) it writes with recordSuiteData,
 * and the pipeline merges those files into the results model.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import type { Cell } from '../harness/config/cell.js';

export interface SuiteNode {
  name: string;
  role: 'control-plane' | 'worker';
  /** docker container name of the kind node */
  container: string;
  internalIP: string;
}

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

export function suiteContext(): SuiteContext {
  const ctx = inject('cellContext');
  if (!ctx) {
    throw new Error(
      'no cell context: the suites in suites/ run against a live cell through `calico-conformance run` ' +
        '(or `run --kubeconfig FILE --skip-create --skip-install` for an existing cluster), not through `npm test`',
    );
  }
  return ctx;
}

export type SuiteDataKind = 'grids' | 'probes' | 'policy' | 'verify' | 'checks';

/** Writes one JSON file of suite data; the pipeline merges every file of the cell into the results model. */
export function recordSuiteData(ctx: SuiteContext, kind: SuiteDataKind, name: string, data: unknown): void {
  const dir = join(ctx.cellDir, 'suite-data');
  mkdirSync(dir, { recursive: true });
  const safe = name.replace(/[^A-Za-z0-9._-]+/g, '_');
  writeFileSync(join(dir, `${kind}--${safe}.json`), JSON.stringify(data, null, 2));
}
