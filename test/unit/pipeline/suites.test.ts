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
