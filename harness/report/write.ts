/**
 * Writes every report format from the one results model, reads result directories back, and merges the
 * shards of a CI matrix.
 *
 * The results directory layout (the pipeline writes it, `report --from` reads it, CI uploads it):
 *
 *   <report-dir>/
 *     results.json        the RunResults model (harness/model/results.ts), the only file `report` reads
 *     probes.jsonl        one JSON object per probe, every cell: {"cell": "<cell-id>", ...ProbeRecord}
 *     junit.xml           one <testsuite> per cell, one <testcase> per check
 *     summary.md          the Markdown summary (also appended to $GITHUB_STEP_SUMMARY when set)
 *     report.html         the self-contained HTML report
 *     cells/<cell-id>/    per-cell data, referenced by relative paths from results.json:
 *       vitest/           each suite run's JUnit report (what the suites recorded is in results.json)
 *       verify-dump/      what the mode verification read, for verifying again offline
 *       node-dump/        node dumps (docs/contracts.md, "Node dump" layout)
 *       diagnostics/      the diagnostics bundle of a failed cell (CellResult.diagnostics points here)
 *
 * `report --from A B --out C` copies each shard's cells/ into C so the HTML report's links keep working.
 */
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { normaliseCellAudit } from '../audit/verdict.js';
import { UsageError } from '../errors.js';
import type { CellResult, RunResults } from '../model/results.js';
import { renderHtml } from './html.js';
import { renderJUnit } from './junit.js';
import { renderMarkdown } from './markdown.js';

export const REPORT_FILES = {
  results: 'results.json',
  probes: 'probes.jsonl',
  junit: 'junit.xml',
  summary: 'summary.md',
  html: 'report.html',
} as const;

/** GitHub caps one step's summary at 1 MiB; past that the upload fails and nothing is shown. */
export const STEP_SUMMARY_LIMIT = 1024 * 1024 - 4096;

export function renderProbesJsonl(results: RunResults): string {
  const lines: string[] = [];
  for (const c of results.cells) {
    for (const p of c.probes) lines.push(JSON.stringify({ cell: c.cell.id, ...p }));
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}

export async function writeReports(
  results: RunResults,
  outDir: string,
  opts: { githubStepSummary?: string } = {},
): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const summary = renderMarkdown(results);
  const files: [string, string][] = [
    [REPORT_FILES.results, `${JSON.stringify(results, null, 2)}\n`],
    [REPORT_FILES.probes, renderProbesJsonl(results)],
    [REPORT_FILES.junit, renderJUnit(results)],
    [REPORT_FILES.summary, summary],
    [REPORT_FILES.html, renderHtml(results)],
  ];
  const written: string[] = [];
  for (const [name, text] of files) {
    const path = join(outDir, name);
    await writeFile(path, text);
    written.push(path);
  }
  if (opts.githubStepSummary) {
    const bytes = Buffer.byteLength(summary);
    const text =
      bytes <= STEP_SUMMARY_LIMIT
        ? summary
        : `${Buffer.from(summary)
            .subarray(0, STEP_SUMMARY_LIMIT)
            .toString('utf8')
            .replace(/\uFFFD$/, '')}\n\n` +
          `(summary cut at GitHub's 1 MiB step-summary limit; the full text is in ${REPORT_FILES.summary} and ${REPORT_FILES.html})\n`;
    await appendFile(opts.githubStepSummary, text);
  }
  return written;
}

function fieldError(source: string, field: string, want: string): UsageError {
  return new UsageError(`${source}: ${field} must be ${want}`, field);
}

/** Checks the shape the reports rely on and fills arrays an older writer may have left out. */
export function normaliseResults(raw: unknown, source: string): RunResults {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw fieldError(source, '(root)', 'a JSON object (RunResults)');
  const r = raw as Record<string, unknown>;
  const tool = r.tool as Record<string, unknown> | undefined;
  if (tool?.name !== 'calico-conformance')
    throw fieldError(
      source,
      'tool.name',
      '"calico-conformance" (is this a calico-conformance results.json?)',
    );
  if (!Array.isArray(r.cells)) throw fieldError(source, 'cells', 'an array');
  const cells = r.cells.map((c: unknown, i: number): CellResult => {
    const cell = c as Partial<CellResult> | null;
    if (!cell || typeof cell !== 'object') throw fieldError(source, `cells[${i}]`, 'an object');
    if (typeof cell.cell?.id !== 'string' || cell.cell.id === '')
      throw fieldError(source, `cells[${i}].cell.id`, 'a non-empty string');
    const outcomes = ['passed', 'failed', 'skipped', 'not-run', 'error'];
    if (!outcomes.includes(String(cell.outcome)))
      throw fieldError(source, `cells[${i}].outcome`, `one of ${outcomes.join(', ')}`);
    return {
      ...cell,
      startedAt: cell.startedAt ?? '',
      durationMs: cell.durationMs ?? 0,
      phases: (cell.phases ?? []).map((p) => ({ ...p, evidence: p.evidence ?? [], checks: p.checks ?? [] })),
      grids: cell.grids ?? [],
      probes: cell.probes ?? [],
      policy: (cell.policy ?? []).map((s) => ({ ...s, tags: s.tags ?? [], grids: s.grids ?? [] })),
      // results from before the two-stage audit carry one AuditReport: read as the upstream audit
      ...(cell.audit !== undefined ? { audit: normaliseCellAudit(cell.audit) } : {}),
    } as CellResult;
  });
  return {
    tool: { name: 'calico-conformance', version: String(tool.version ?? 'unknown') },
    startedAt: String(r.startedAt ?? ''),
    finishedAt: String(r.finishedAt ?? ''),
    durationMs: Number(r.durationMs ?? 0),
    host: (r.host as RunResults['host']) ?? { platform: 'unknown', node: 'unknown' },
    cells,
    leftBehind: Array.isArray(r.leftBehind) ? r.leftBehind.map(String) : [],
    ...(typeof r.interrupted === 'string' ? { interrupted: r.interrupted } : {}),
  };
}

export async function readResultsDir(dir: string): Promise<RunResults> {
  const path = join(dir, REPORT_FILES.results);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(
      `--from ${dir}: no ${REPORT_FILES.results} there (${code ?? (err as Error).message}); ` +
        'pass a directory written by `run --report-dir` or `upgrade --report-dir`',
      'from',
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${path}: not valid JSON: ${(err as Error).message}`, 'from');
  }
  return normaliseResults(raw, path);
}

/**
 * Merges the shards of a CI matrix into one run. The same cell in two shards is an error naming both
 * (it would be counted twice, and which result is right cannot be decided here). `sources` names each
 * shard in that message (the result directories); it defaults to the shard's position.
 */
export function mergeResults(list: RunResults[], sources?: string[]): RunResults {
  if (list.length === 0) throw new UsageError('nothing to merge: no results given', 'from');
  const name = (i: number) => sources?.[i] ?? `results #${i + 1}`;
  const seen = new Map<string, number>();
  const cells: CellResult[] = [];
  list.forEach((r, i) => {
    for (const c of r.cells) {
      const first = seen.get(c.cell.id);
      if (first !== undefined) {
        throw new UsageError(
          `cell ${JSON.stringify(c.cell.id)} appears twice: in ${name(first)} and in ${name(i)}; ` +
            'each cell must come from one shard (check the matrix --cells selections)',
          'from',
        );
      }
      seen.set(c.cell.id, i);
      cells.push(c);
    }
  });
  const starts = list.map((r) => Date.parse(r.startedAt)).filter(Number.isFinite);
  const ends = list.map((r) => Date.parse(r.finishedAt)).filter(Number.isFinite);
  const startedAt = starts.length ? new Date(Math.min(...starts)).toISOString() : list[0]!.startedAt;
  const finishedAt = ends.length ? new Date(Math.max(...ends)).toISOString() : list[0]!.finishedAt;
  const durationMs =
    starts.length && ends.length
      ? Math.max(0, Math.max(...ends) - Math.min(...starts))
      : Math.max(...list.map((r) => r.durationMs));
  return {
    tool: list[0]!.tool,
    startedAt,
    finishedAt,
    durationMs,
    host: list[0]!.host,
    cells,
    leftBehind: list.flatMap((r) => r.leftBehind),
    ...(list.some((r) => r.interrupted)
      ? { interrupted: [...new Set(list.flatMap((r) => (r.interrupted ? [r.interrupted] : [])))].join(', ') }
      : {}),
  };
}
