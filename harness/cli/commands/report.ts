import { cp, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ExitCode, UsageError } from '../../errors.js';
import { runOutcome } from '../../model/results.js';
import { mergeResults, readResultsDir, writeReports } from '../../report/write.js';
import { parseCommandArgs } from '../args.js';
import type { CliIO } from '../io.js';

export const reportHelp = `calico-conformance report --from DIR [--from DIR | DIR...] --out DIR [--fail-on-failure]
  Merges the results directories of a run's shards (each holds results.json, e.g. one per CI matrix job)
  and writes every report format to --out: results.json, probes.jsonl, junit.xml, summary.md, report.html
  (the summary is also appended to $GITHUB_STEP_SUMMARY when that is set), and copies each shard's cells/.
  Exit 0 when the reports were rendered, whatever the cells' outcomes; with --fail-on-failure, exit 1 when
  any cell failed. Exit 2 for bad input (a missing results.json, the same cell in two shards).`;

export async function reportCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'report',
    argv,
    {
      from: { type: 'string', multiple: true },
      out: { type: 'string' },
      'fail-on-failure': { type: 'boolean' },
    },
    true,
  );
  // `--from A B C` (the documented form) leaves B and C as positionals; `--from A --from B` also works.
  const from = [...((values.from as string[] | undefined) ?? []), ...positionals];
  if (from.length === 0)
    throw new UsageError('report: --from DIR is required (one or more results directories)', 'from');
  const out = values.out as string | undefined;
  if (!out) throw new UsageError('report: --out DIR is required (where the merged reports go)', 'out');
  const outAbs = resolve(io.cwd, out);
  const dirs = from.map((d) => resolve(io.cwd, d));

  const shards = [];
  for (const dir of dirs) shards.push(await readResultsDir(dir));
  const merged = mergeResults(shards, from);

  for (const dir of dirs) {
    if (dir === outAbs) continue;
    const cells = join(dir, 'cells');
    if (await isDir(cells)) await cp(cells, join(outAbs, 'cells'), { recursive: true, force: true });
  }
  const summaryPath = io.env.GITHUB_STEP_SUMMARY;
  const written = await writeReports(merged, outAbs, summaryPath ? { githubStepSummary: summaryPath } : {});
  const outcome = runOutcome(merged);
  const failed = merged.cells.filter((c) => c.outcome === 'failed' || c.outcome === 'error').length;
  io.out(
    `report: ${merged.cells.length} cell${merged.cells.length === 1 ? '' : 's'} from ${dirs.length} ` +
      `director${dirs.length === 1 ? 'y' : 'ies'}, outcome ${outcome}${failed ? ` (${failed} failed)` : ''}`,
  );
  for (const w of written) io.out(`  wrote ${w}`);
  if (summaryPath) io.out(`  appended the summary to $GITHUB_STEP_SUMMARY`);
  return values['fail-on-failure'] && outcome === 'failed' ? ExitCode.Failed : ExitCode.Ok;
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
