/**
 * How a conformance suite (suites/*.test.ts) reaches the live cell it runs against. The pipeline runs
 * the suites through vitest's Node API and provides a serialisable SuiteContext under the key
 * `cellContext`; a suite rebuilds its clients from the kubeconfig path. What a suite measures beyond
 * pass/fail (grids, probe records, policy timings, verification results) it attaches to vitest's task
 * metadata with record(), and the pipeline reads it, typed, from the test modules after the run.
 */
import { inject, type TaskMeta } from 'vitest';
import type { Environment } from '../harness/model/requirements.js';
import type { SuiteContext, SuiteRecord } from '../harness/pipeline/suite-context.js';

export type { SuiteContext, SuiteNode, SuiteRecord } from '../harness/pipeline/suite-context.js';

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

/** What the suites know about where they run, for harness/model/requirements.ts to judge `requires` by. */
export function suiteEnvironment(ctx: SuiteContext): Environment {
  return { cell: ctx.cell, nodes: ctx.nodes.length, calicoctl: Boolean(ctx.calicoctl) };
}

/** Something vitest hands a test or hook that carries metadata: a test's `context.task`, a hook's suite. */
interface WithMeta {
  meta: TaskMeta;
}

/**
 * Attaches what a suite measured to a test (`context.task`) or, in beforeAll, to the suite or file it
 * receives; the pipeline reads it from the test modules after the run (harness/pipeline/suites.ts). One
 * record per task: a test vitest retries records again and replaces what its first attempt recorded.
 */
export function record(task: WithMeta, data: SuiteRecord): void {
  task.meta.record = data;
}
