/**
 * Command-line parsing on node:util parseArgs, with errors that name the flag. Cell options are shared by
 * plan, render, run and upgrade.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { Cell } from '../config/cell.js';
import { buildMatrix, CELL_FIELDS, type CellField } from '../config/matrix.js';
import { UsageError } from '../errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export const CELL_OPTIONS: Options = {
  ...Object.fromEntries(
    Object.values(CELL_FIELDS).map((flag) => [flag.slice(2), { type: 'string' as const }]),
  ),
  config: { type: 'string' },
};

export function parseCommandArgs(
  command: string,
  argv: string[],
  options: Options,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    const known = Object.keys(options)
      .map((o) => `--${o}`)
      .join(' ');
    throw new UsageError(`${command}: ${(err as Error).message}. Options: ${known}`);
  }
}

/** The cell flags present in parsed values, keyed by config field. */
export function cellFlags(values: Record<string, unknown>): Partial<Record<CellField, string>> {
  const out: Partial<Record<CellField, string>> = {};
  for (const [field, flag] of Object.entries(CELL_FIELDS) as [CellField, string][]) {
    const v = values[flag.slice(2)];
    if (typeof v === 'string') out[field] = v;
  }
  return out;
}

export function cellsFromValues(values: Record<string, unknown>): Cell[] {
  const configFile = typeof values.config === 'string' ? values.config : undefined;
  return buildMatrix({ flags: cellFlags(values), ...(configFile ? { configFile } : {}) });
}

/** Exactly one cell (render): a list in any flag is an error that names it. */
export function singleCell(command: string, values: Record<string, unknown>): Cell {
  const cells = cellsFromValues(values);
  if (cells.length !== 1) {
    const listed = Object.entries(CELL_FIELDS)
      .filter(
        ([, flag]) =>
          typeof values[flag.slice(2)] === 'string' && String(values[flag.slice(2)]).includes(','),
      )
      .map(([, flag]) => flag);
    throw new UsageError(
      `${command} takes exactly one cell but the options give ${cells.length}; pass one value each for ` +
        `--install and --encapsulation${listed.length ? ` (lists given: ${listed.join(', ')})` : ''}`,
      'cells',
    );
  }
  return cells[0]!;
}

export function outputFormat(
  command: string,
  value: unknown,
  allowed: readonly string[] = ['text', 'json'],
): string {
  const v = value === undefined ? allowed[0]! : String(value);
  if (!allowed.includes(v))
    throw new UsageError(
      `${command} --output: ${JSON.stringify(v)} is not allowed; allowed: ${allowed.join(', ')}`,
      'output',
    );
  return v;
}
