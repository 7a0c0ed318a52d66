import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryIO } from '../../../harness/cli/io.js';
import { main } from '../../../harness/cli/main.js';
import { UsageError } from '../../../harness/errors.js';
import type { RunResults } from '../../../harness/model/results.js';
import {
  mergeResults,
  REPORT_FILES,
  readResultsDir,
  STEP_SUMMARY_LIMIT,
  writeReports,
} from '../../../harness/report/write.js';
import { loadFixture } from './support.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'cc-report-unit-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Splits the fixture into shards, as CI matrix jobs would write them. */
function shard(results: RunResults, ids: string[], startedAt: string, finishedAt: string): RunResults {
  return { ...results, startedAt, finishedAt, cells: results.cells.filter((c) => ids.includes(c.cell.id)) };
}

describe('writeReports', () => {
  it('writes every format, and the results read back equal to what was written', async () => {
    const dir = tmp();
    const results = loadFixture();
    const written = await writeReports(results, dir);
    expect(written.map((p) => p.slice(dir.length + 1)).sort()).toEqual(Object.values(REPORT_FILES).sort());
    expect(await readResultsDir(dir)).toEqual(results);
    expect(readFileSync(join(dir, 'junit.xml'), 'utf8')).toMatch(/^<\?xml/);
    expect(readFileSync(join(dir, 'report.html'), 'utf8')).toMatch(/^<!DOCTYPE html>/);
  });

  it('appends the summary to $GITHUB_STEP_SUMMARY, keeping what was there', async () => {
    const dir = tmp();
    const summary = join(dir, 'step-summary.md');
    writeFileSync(summary, '# earlier step\n');
    await writeReports(loadFixture(), join(dir, 'out'), { githubStepSummary: summary });
    const text = readFileSync(summary, 'utf8');
    expect(text.startsWith('# earlier step\n## Calico conformance')).toBe(true);
    expect(text).toBe(`# earlier step\n${readFileSync(join(dir, 'out', 'summary.md'), 'utf8')}`);
  });

  it("cuts a summary over GitHub's 1 MiB step-summary limit and says where the rest is", async () => {
    const dir = tmp();
    const summary = join(dir, 'step-summary.md');
    const results = loadFixture();
    const check = results.cells[1]!.phases[5]!.checks[0]!;
    check.message = 'x'.repeat(4000);
    results.cells = Array.from({ length: 300 }, (_, i) => ({
      ...results.cells[1]!,
      cell: { ...results.cells[1]!.cell, id: `cell-${i}` },
    }));
    await writeReports(results, join(dir, 'out'), { githubStepSummary: summary });
    const appended = readFileSync(summary);
    expect(appended.length).toBeLessThan(1024 * 1024);
    expect(appended.length).toBeGreaterThan(STEP_SUMMARY_LIMIT - 10);
    expect(appended.toString()).toContain("cut at GitHub's 1 MiB step-summary limit");
  });
});

describe('readResultsDir', () => {
  it('names the directory and what is wrong', async () => {
    const dir = tmp();
    await expect(readResultsDir(dir)).rejects.toThrow(/--from .*: no results.json there/);
    writeFileSync(join(dir, 'results.json'), '{"tool":');
    await expect(readResultsDir(dir)).rejects.toThrow(/results.json: not valid JSON/);
    writeFileSync(join(dir, 'results.json'), JSON.stringify({ tool: { name: 'other' }, cells: [] }));
    await expect(readResultsDir(dir)).rejects.toThrow(/tool.name must be "calico-conformance"/);
    writeFileSync(
      join(dir, 'results.json'),
      JSON.stringify({
        tool: { name: 'calico-conformance' },
        cells: [{ cell: { id: 'a' }, outcome: 'maybe' }],
      }),
    );
    const err = await readResultsDir(dir).catch((e) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toMatch(/cells\[0\]\.outcome must be one of passed, failed, skipped, not-run, error/);
  });

  it('fills the lists an older writer left out', async () => {
    const dir = tmp();
    writeFileSync(
      join(dir, 'results.json'),
      JSON.stringify({
        tool: { name: 'calico-conformance', version: '0.0.1' },
        cells: [{ cell: { id: 'a' }, outcome: 'passed', phases: [{ name: 'install', outcome: 'passed' }] }],
      }),
    );
    const r = await readResultsDir(dir);
    expect(r.cells[0]).toMatchObject({
      grids: [],
      probes: [],
      policy: [],
      phases: [{ evidence: [], checks: [] }],
    });
    expect(r.leftBehind).toEqual([]);
  });
});

describe('mergeResults', () => {
  const all = loadFixture();
  const ids = all.cells.map((c) => c.cell.id);

  it('joins shards in order, spanning from the first start to the last finish', () => {
    const a = shard(all, ids.slice(0, 2), '2026-11-25T18:00:00.000Z', '2026-11-25T18:10:00.000Z');
    const b = shard(all, ids.slice(2), '2026-11-25T18:01:00.000Z', '2026-11-25T18:30:00.000Z');
    b.leftBehind = ['docker network cc-x'];
    b.interrupted = 'SIGTERM';
    const m = mergeResults([a, b]);
    expect(m.cells.map((c) => c.cell.id)).toEqual(ids);
    expect(m.startedAt).toBe('2026-11-25T18:00:00.000Z');
    expect(m.finishedAt).toBe('2026-11-25T18:30:00.000Z');
    expect(m.durationMs).toBe(30 * 60_000);
    expect(m.leftBehind).toEqual(['docker network cc-x']);
    expect(m.interrupted).toBe('SIGTERM');
  });

  it('refuses the same cell twice and names both sources', () => {
    const a = shard(all, ids.slice(0, 2), all.startedAt, all.finishedAt);
    const b = shard(all, ids.slice(1), all.startedAt, all.finishedAt);
    expect(() => mergeResults([a, b], ['shards/results-a', 'shards/results-b'])).toThrow(
      `cell "${ids[1]}" appears twice: in shards/results-a and in shards/results-b`,
    );
    expect(() => mergeResults([])).toThrow(UsageError);
  });
});

describe('report command', () => {
  function writeShards(): { a: string; b: string; root: string } {
    const root = tmp();
    const all = loadFixture();
    const ids = all.cells.map((c) => c.cell.id);
    const a = join(root, 'results-a');
    const b = join(root, 'results-b');
    for (const [dir, part] of [
      [a, shard(all, ids.slice(0, 2), all.startedAt, all.finishedAt)],
      [b, shard(all, ids.slice(2), all.startedAt, all.finishedAt)],
    ] as const) {
      mkdirSync(join(dir, 'cells', part.cells[0]!.cell.id, 'diagnostics'), { recursive: true });
      writeFileSync(join(dir, 'cells', part.cells[0]!.cell.id, 'diagnostics', 'index.json'), '{}');
      writeFileSync(join(dir, 'results.json'), JSON.stringify(part));
    }
    return { a, b, root };
  }

  it('merges `--from A B` into --out, copies cells/, appends the step summary, exits 0 though cells failed', async () => {
    const { a, b, root } = writeShards();
    const out = join(root, 'merged');
    const summary = join(root, 'summary.md');
    const io = memoryIO({ GITHUB_STEP_SUMMARY: summary });
    expect(await main(['report', '--from', a, b, '--out', out], io)).toBe(0);
    expect(io.stdout).toContain('report: 4 cells from 2 directories, outcome failed (2 failed)');
    for (const f of Object.values(REPORT_FILES)) expect(existsSync(join(out, f)), f).toBe(true);
    expect((await readResultsDir(out)).cells.map((c) => c.cell.id)).toEqual(
      loadFixture().cells.map((c) => c.cell.id),
    );
    expect(existsSync(join(out, 'cells', 'v3.30.7-manifest-ipip', 'diagnostics', 'index.json'))).toBe(true);
    expect(existsSync(join(out, 'cells', 'v3.30.7-manifest-none-split-subnet', 'diagnostics'))).toBe(true);
    expect(readFileSync(summary, 'utf8')).toContain('## Calico conformance: ❌ failed');
  });

  it('exits 1 with --fail-on-failure when a cell failed, and 0 when every cell passed', async () => {
    const { a, b, root } = writeShards();
    expect(
      await main(
        ['report', '--from', a, '--from', b, '--out', join(root, 'o1'), '--fail-on-failure'],
        memoryIO(),
      ),
    ).toBe(1);
    const passed = loadFixture();
    passed.cells = passed.cells.slice(0, 1);
    const p = join(root, 'passed');
    mkdirSync(p);
    writeFileSync(join(p, 'results.json'), JSON.stringify(passed));
    expect(
      await main(['report', '--from', p, '--out', join(root, 'o2'), '--fail-on-failure'], memoryIO()),
    ).toBe(0);
  });

  it('exits 2 naming the problem: no --from, no --out, a directory without results, a cell twice', async () => {
    const { a, root } = writeShards();
    const cases: [string[], RegExp][] = [
      [['report', '--out', root], /--from DIR is required/],
      [['report', '--from', a], /--out DIR is required/],
      [['report', '--from', join(root, 'nothing'), '--out', join(root, 'o')], /no results.json there/],
      [
        ['report', '--from', a, a, '--out', join(root, 'o')],
        /appears twice: in .*results-a and in .*results-a/,
      ],
      [['report', '--from', a, '--out', root, '--colour'], /Unknown option '--colour'/],
    ];
    for (const [argv, message] of cases) {
      const io = memoryIO();
      expect(await main(argv, io), argv.join(' ')).toBe(2);
      expect(io.stderr).toMatch(message);
    }
  });
});
