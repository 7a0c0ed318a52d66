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
import type { SuiteContext } from '../harness/pipeline/suite-context.js';

export type { SuiteContext, SuiteNode } from '../harness/pipeline/suite-context.js';

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
