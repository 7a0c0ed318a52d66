import { planView } from '../../config/cell.js';
import { ExitCode } from '../../errors.js';
import { parseCellsRegex, parseShard, selectCells } from '../../pipeline/select.js';
import { CELL_OPTIONS, cellsFromValues, outputFormat, parseCommandArgs } from '../args.js';
import type { CliIO } from '../io.js';

export const planHelp = `calico-conformance plan [cell options] [--cells REGEX] [--shard i/n] [--output text|json]
  Expands and validates the matrix; needs no Docker. --cells and --shard select exactly what
  \`run\` with the same flags runs (a CI job per shard).`;

export async function planCommand(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs('plan', argv, {
    ...CELL_OPTIONS,
    output: { type: 'string' },
    cells: { type: 'string' },
    shard: { type: 'string' },
  });
  const format = outputFormat('plan', values.output);
  const re = parseCellsRegex(typeof values.cells === 'string' ? values.cells : undefined);
  const shard = parseShard(typeof values.shard === 'string' ? values.shard : undefined);
  const cells = selectCells(cellsFromValues(values), {
    ...(re ? { cells: re } : {}),
    ...(shard ? { shard } : {}),
  });
  if (format === 'json') {
    io.out(JSON.stringify({ cells: cells.map(planView) }, null, 2));
    return ExitCode.Ok;
  }
  io.out(`${cells.length} cell${cells.length === 1 ? '' : 's'}${cells.length ? ':' : ''}`);
  if (cells.length === 0) return ExitCode.Ok;
  const rows = cells.map((c) => [
    c.id,
    c.install,
    c.encapsulation,
    c.podCIDR,
    `/${c.blockSize}`,
    c.natOutgoing ? 'nat' : 'no-nat',
    `${c.workers}w`,
    c.topology,
  ]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) io.out(`  ${r.map((v, i) => v.padEnd(widths[i]!)).join('  ')}`.trimEnd());
  return ExitCode.Ok;
}
