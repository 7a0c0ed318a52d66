import { defineConfig } from 'vitest/config';

// The harness's own tests (unit, docker-backed, fixture-backed). The conformance suites in suites/ need a
// live cluster and run only through `calico-conformance run` (suites/vitest.config.ts).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'harness/**/*.test.ts'],
    exclude: ['node_modules/**', 'suites/**'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
