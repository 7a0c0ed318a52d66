import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildMatrix } from '../../../harness/config/matrix.js';
import { checksFromJsonReport, PROJECT_ROOT, runVitestSuite } from '../../../harness/pipeline/suites.js';

const root = mkdtempSync(join(tmpdir(), 'cc-suites-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const cell = {
  ...buildMatrix({ flags: { install: 'manifest', encapsulation: 'VXLAN' } })[0]!,
  id: 'sample-vxlan',
};

describe('suites through the vitest Node API', () => {
  it('provides the cell context, turns the JSON report into checks and writes JUnit beside it', async () => {
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
      ['sample suite sees the provided cell', 'passed'],
      ['sample suite fails when the context asks it to', 'failed'],
      ['sample suite runs only for one cluster name', 'skipped'],
    ]);
    expect(run.checks[1]!.message).toMatch(/expected 'fail' not to be 'fail'/);
    expect(run.evidence[0]).toBe(
      'vitest test/unit/pipeline/fixtures/sample.suite.ts: 1 passed, 1 failed, 1 skipped',
    );
    expect(readFileSync(join(cellDir, 'vitest', 'sample.junit.xml'), 'utf8')).toMatch(
      /<testsuites[\s\S]*failures="1"/,
    );
    // the suite saw the provided context: it wrote its data into the cell directory it was given
    expect(existsSync(join(cellDir, 'suite-data', 'checks--sample.json'))).toBe(true);
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
    expect(a.checks.map((c) => c.outcome)).toEqual(['passed', 'failed', 'skipped']);
    expect(b.checks.map((c) => c.outcome)).toEqual(['passed', 'passed', 'passed']);
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
      ['hook suite first scenario', 'skipped'],
      ['hook suite second scenario', 'skipped'],
      ['test/unit/pipeline/fixtures/hook-fails.suite.ts > hook suite: failed outside its tests', 'failed'],
    ]);
    expect(run.checks[2]!.message).toBe('control round before any policy did not reach full reachability:');
    expect(run.checks[2]!.details).toContain('the grids');
    expect(run.evidence[0]).toMatch(/: 0 passed, 1 failed, 2 skipped$/);
  }, 60_000);

  it('a file vitest marks failed with only skipped tests and no error handed in is still a failed check', () => {
    // the JSON report exactly as vitest wrote it for that run: no message, every assertion pending
    const checks = checksFromJsonReport({
      testResults: [
        {
          name: join(PROJECT_ROOT, 'suites/policy.test.ts'),
          status: 'failed',
          message: '',
          assertionResults: [
            {
              fullName: 'NetworkPolicy conformance deny-all-ingress',
              status: 'pending',
              failureMessages: [],
            },
            { fullName: 'NetworkPolicy conformance deny-all-egress', status: 'pending', failureMessages: [] },
          ],
        },
      ],
    });
    expect(checks.map((c) => [c.name, c.outcome])).toEqual([
      ['NetworkPolicy conformance deny-all-ingress', 'skipped'],
      ['NetworkPolicy conformance deny-all-egress', 'skipped'],
      ['suites/policy.test.ts: failed outside its tests', 'failed'],
    ]);
    expect(checks[2]!.message).toMatch(/beforeAll\/afterAll hook/);
    // a failed file whose failure is a failed test needs no extra check
    const withFailure = checksFromJsonReport({
      testResults: [
        {
          name: join(PROJECT_ROOT, 'suites/mode.test.ts'),
          status: 'failed',
          message: '',
          assertionResults: [{ fullName: 'mode x', status: 'failed', failureMessages: ['boom'] }],
        },
      ],
    });
    expect(withFailure.map((c) => c.outcome)).toEqual(['failed']);
  });

  it('reports a suite file that failed to load as one failed check', () => {
    const checks = checksFromJsonReport({
      testResults: [
        {
          name: join(PROJECT_ROOT, 'suites/policy.test.ts'),
          status: 'failed',
          message: 'SyntaxError: Unexpected token\n    at x',
          assertionResults: [],
        },
      ],
    });
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
});
