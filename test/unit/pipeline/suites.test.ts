import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildMatrix } from '../../../harness/config/matrix.js';
import { type ModuleView, runVitestSuite, suiteResults } from '../../../harness/pipeline/suites.js';

const root = mkdtempSync(join(tmpdir(), 'cc-suites-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const cell = {
  ...buildMatrix({ flags: { install: 'manifest', encapsulation: 'VXLAN' } })[0]!,
  id: 'sample-vxlan',
};

describe('suites through the vitest Node API', () => {
  it('provides the cell context, reads typed results from the task metadata and writes JUnit', async () => {
    const cellDir = join(root, 'cell');
    const exitBefore = process.exitCode;
    const run = await runVitestSuite({
      files: ['test/unit/pipeline/fixtures/sample.suite.ts'],
      include: ['test/unit/pipeline/fixtures/*.suite.ts'],
      ctx: { cell, clusterName: 'c1', kubeconfigPath: '', cellDir, nodes: [], namespacePrefix: 'fail' },
      outDir: join(cellDir, 'vitest'),
      label: 'sample',
    });
    expect(run.checks.map((c) => [c.name, c.outcome])).toEqual([
      // recorded in beforeAll on the suite
      ['data check', 'passed'],
      // a test's own record replaces vitest's line for it, under the record's name
      ['sample-cell', 'passed'],
      // the record said passed, the test failed after it: failed, with vitest's error
      ['sample-prefix', 'failed'],
      ['sample suite > runs only for one cluster name', 'skipped'],
      ['sample suite > skips with a note when the context has no nodes', 'skipped'],
    ]);
    expect(run.checks[1]!.details).toBe('cell sample-vxlan');
    expect(run.checks[2]!.message).toMatch(/expected 'fail' not to be 'fail'/);
    expect(run.checks[4]!.message).toBe('no nodes in this context');
    expect(run.probes).toEqual([
      { from: 'x/a', to: 'y/b', port: 80, protocol: 'TCP', verdict: 'connected', durationMs: 3 },
    ]);
    expect(run.grids).toEqual([]);
    expect(run.policy).toEqual([]);
    expect(run.evidence).toEqual([
      'vitest test/unit/pipeline/fixtures/sample.suite.ts: 2 passed, 1 failed, 2 skipped',
      'recorded by the suite: 1 probe record',
      'report: vitest/sample.junit.xml',
    ]);
    expect(readFileSync(join(cellDir, 'vitest', 'sample.junit.xml'), 'utf8')).toMatch(
      /<testsuites[\s\S]*failures="1"/,
    );
    // a failing suite does not set this process's exit code (the run command decides it)
    expect(process.exitCode).toBe(exitBefore);
  }, 60_000);

  it('concurrent runs (--parallel cells) each see their own provided cell', async () => {
    const run = (i: number, clusterName: string, namespacePrefix: string) =>
      runVitestSuite({
        files: ['test/unit/pipeline/fixtures/sample.suite.ts'],
        include: ['test/unit/pipeline/fixtures/*.suite.ts'],
        ctx: {
          cell,
          clusterName,
          kubeconfigPath: '',
          cellDir: join(root, `par${i}`),
          nodes: [],
          namespacePrefix,
        },
        outDir: join(root, `par${i}`, 'vitest'),
        label: 'sample',
      });
    const [a, b] = await Promise.all([run(0, 'x', 'fail'), run(1, 'run-skipped', 'ok')]);
    expect(a.checks.map((c) => c.outcome)).toEqual(['passed', 'passed', 'failed', 'skipped', 'skipped']);
    expect(b.checks.map((c) => c.outcome)).toEqual(['passed', 'passed', 'passed', 'passed', 'skipped']);
  }, 60_000);

  it('a suite whose beforeAll fails is a failed check with the hook’s error, never "every test skipped"', async () => {
    // seen on the lab (None cell, 2026-12-06): the policy suite's control round failed in beforeAll, vitest
    // reported all 52 scenarios skipped, and the policy phase read "skipped: every check skipped"
    const cellDir = join(root, 'hook');
    const run = await runVitestSuite({
      files: ['test/unit/pipeline/fixtures/hook-fails.suite.ts'],
      include: ['test/unit/pipeline/fixtures/*.suite.ts'],
      ctx: { cell, clusterName: 'c1', kubeconfigPath: '', cellDir, nodes: [], namespacePrefix: 'fail' },
      outDir: join(cellDir, 'vitest'),
      label: 'hook',
    });
    expect(run.checks.map((c) => [c.name, c.outcome])).toEqual([
      ['hook suite > first scenario', 'skipped'],
      ['hook suite > second scenario', 'skipped'],
      ['test/unit/pipeline/fixtures/hook-fails.suite.ts > hook suite: failed outside its tests', 'failed'],
    ]);
    expect(run.checks[2]!.message).toBe('control round before any policy did not reach full reachability:');
    expect(run.checks[2]!.details).toContain('the grids');
    expect(run.evidence[0]).toMatch(/: 0 passed, 1 failed, 2 skipped$/);
  }, 60_000);

  it('a file vitest marks failed with only skipped tests and no error handed in is still a failed check', () => {
    // the modules exactly as such a run leaves them: no error on the file or a suite, every test skipped
    const skippedTest = (name: string): ModuleView['tests'][number] => ({
      fullName: `NetworkPolicy conformance > ${name}`,
      state: 'skipped',
      durationMs: 0,
      errors: [],
    });
    const { checks } = suiteResults([
      {
        file: 'suites/policy.test.ts',
        state: 'failed',
        tests: [skippedTest('deny-all-ingress'), skippedTest('deny-all-egress')],
        errors: [],
        records: [],
      },
    ]);
    expect(checks.map((c) => [c.name, c.outcome])).toEqual([
      ['NetworkPolicy conformance > deny-all-ingress', 'skipped'],
      ['NetworkPolicy conformance > deny-all-egress', 'skipped'],
      ['suites/policy.test.ts: failed outside its tests', 'failed'],
    ]);
    expect(checks[2]!.message).toMatch(/beforeAll\/afterAll hook/);
    // a failed file whose failure is a failed test needs no extra check
    const withFailure = suiteResults([
      {
        file: 'suites/mode.test.ts',
        state: 'failed',
        tests: [{ fullName: 'mode x', state: 'failed', durationMs: 1, errors: [{ message: 'boom' }] }],
        errors: [],
        records: [],
      },
    ]);
    expect(withFailure.checks.map((c) => [c.outcome, c.message])).toEqual([['failed', 'boom']]);
  });

  it('reports a suite file that failed to load as one failed check', () => {
    const { checks } = suiteResults([
      {
        file: 'suites/policy.test.ts',
        state: 'failed',
        tests: [],
        errors: [
          { message: 'SyntaxError: Unexpected token', stack: 'SyntaxError: Unexpected token\n    at x' },
        ],
        records: [],
      },
    ]);
    expect(checks).toEqual([
      {
        name: 'suites/policy.test.ts',
        outcome: 'failed',
        durationMs: 0,
        message: 'SyntaxError: Unexpected token',
        details: 'SyntaxError: Unexpected token\n    at x',
      },
    ]);
  });

  it('merges what the file, its suites and its tests recorded: grids, probes, policy results, checks', () => {
    const grid = { title: 'g', peers: ['x/a'], expected: {}, observed: {} } as never;
    const scenario = {
      name: 'deny-all',
      tags: ['x'],
      outcome: 'passed' as const,
      rounds: 3,
      grids: [],
      namespaceSet: 1,
      durationMs: 900,
    };
    const r = suiteResults([
      {
        file: 'suites/policy.test.ts',
        state: 'passed',
        tests: [
          {
            fullName: 'p > deny-all [x]',
            state: 'passed',
            durationMs: 950,
            errors: [],
            record: {
              check: { name: 'deny-all', outcome: 'passed', durationMs: 900 },
              policy: [scenario],
              grids: [grid],
            },
          },
        ],
        errors: [],
        records: [{ checks: [{ name: 'IPPool matches the cell', outcome: 'passed', durationMs: 0 }] }],
      },
    ]);
    expect(r.checks.map((c) => c.name)).toEqual(['IPPool matches the cell', 'deny-all']);
    expect(r.policy).toEqual([scenario]);
    expect(r.grids).toEqual([grid]);
    expect(r.probes).toEqual([]);
  });
});
