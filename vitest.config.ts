import { defineConfig } from 'vitest/config';

// The harness's own tests, as named projects (`vitest run --project unit`; `npm test` runs them all). The
// conformance suites in suites/ need a live cluster and run only through `calico-conformance run`
// (suites/vitest.config.ts). Each project lists its own include: a project extends the root config, and
// vitest concatenates array options, so the root must not carry an include of its own.
const exclude = ['**/node_modules/**', 'suites/**'];
const project = (name: string, include: string[], also: string[] = [], groupOrder = 0) => ({
  extends: true as const,
  test: { name, include, exclude: [...exclude, ...also], sequence: { groupOrder } },
});

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      // pure tests; some fixture-backed ones skip without the Calico fixtures (test/support/fixtures.ts)
      project('unit', ['test/unit/**/*.test.ts', 'harness/**/*.test.ts'], ['**/*.docker.test.ts']),
      // real containers, networks and kernel state (test/support/docker.ts)
      project('docker', ['test/docker/**/*.test.ts', 'test/unit/**/*.docker.test.ts']),
      // the real upstream Calico manifests (../shared/fixtures, or `npm run fixtures:fetch`)
      project('fixtures', ['test/fixtures/**/*.test.ts']),
      // the HTML report in headless Chromium
      project('browser', ['test/browser/**/*.test.ts']),
      // the run command end to end with doubles at the Kubernetes and kind boundary
      project('e2e', ['test/e2e/**/*.test.ts']),
      // the lab's real components (test/support/lab.ts): skipped without the lab, required with REQUIRE_LAB=1.
      // They run after every other project has finished (group 1): a real cell's probes have in-pod
      // deadlines, and on a 2-core machine the other projects' load once made an allowed UDP probe of the
      // first real cell time out (CI, 2026-12-06); a user's real cluster is not shared with our unit tests
      project('real', ['test/real/**/*.test.ts'], [], 1),
    ],
  },
});
