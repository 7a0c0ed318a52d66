import { defineConfig } from 'vitest/config';

// The conformance suites: run against one live cell by `calico-conformance run` through vitest's Node API
// (harness/pipeline/suites.ts), which provides the cell under `cellContext` (suites/context.ts) and adds
// the JSON and JUnit reporters. The suites share one cluster, so files run one after another
// (`fileParallelism: false`; vitest docs/config/fileparallelism.md).
export default defineConfig({
  test: {
    include: ['suites/**/*.test.ts'],
    fileParallelism: false,
    pool: 'forks',
    // one probe round against a kind cluster takes seconds; a policy scenario waits for convergence
    testTimeout: 5 * 60_000,
    hookTimeout: 15 * 60_000,
    // a live cluster's transient API errors; the suites' own assertions are never retried into a pass
    retry: {
      count: 1,
      delay: 5_000,
      condition: /ECONNRESET|ETIMEDOUT|i\/o timeout|etcdserver: request timed out/,
    },
  },
});
