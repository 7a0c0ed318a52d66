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
    throw new UsageError(`${command}: ${parseProblem(err as Error & { code?: string }, options)}`);
  }
}

/**
 * What was wrong with the command line, in one clause naming the flag or argument, followed by every flag
 * the command accepts (`--help` included: the CLI answers it for every command).
 */
function parseProblem(err: Error & { code?: string }, options: Options): string {
  const valid = validFlags(options);
  const list = `; valid options: ${valid.map((f) => f.usage).join(', ')}`;
  const quoted = /'([^']+)'/.exec(err.message)?.[1];
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const flag = quoted ?? '?';
      const near = nearest(
        flag,
        valid.map((f) => f.flag),
      );
      return `Unknown option '${flag}'${near ? ` (did you mean ${near}?)` : ''}${list}`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const flag = /--[a-z0-9-]+/.exec(err.message)?.[0] ?? quoted ?? '?';
      if (/does not take an argument/.test(err.message)) return `option ${flag} takes no value${list}`;
      const dashed = /ambiguous/.test(err.message)
        ? ` (a value that starts with a dash is written ${flag}=-value)`
        : '';
      return `option ${flag} needs a value${dashed}${list}`;
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${JSON.stringify(quoted ?? '')} (this command takes options only)${list}`;
    default:
      return `${err.message}${list}`;
  }
}

function validFlags(options: Options): { flag: string; usage: string }[] {
  const out = Object.entries(options)
    .filter(([name]) => name !== 'help')
    .map(([name, o]) => ({
      flag: `--${name}`,
      usage: o.type === 'string' ? `--${name} <value>` : `--${name}`,
    }));
  return [...out, { flag: '--help', usage: '--help' }];
}

/** The valid flag closest to a mistyped one (at most 2 edits apart), if any. */
function nearest(flag: string, valid: readonly string[]): string | undefined {
  let best: { flag: string; d: number } | undefined;
  for (const v of valid) {
    const d = editDistance(flag, v);
    if (d <= 2 && (!best || d < best.d)) best = { flag: v, d };
  }
  return best?.flag;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const swap =
        i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]
          ? prev[j - 2]!
          : Number.POSITIVE_INFINITY;
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1), swap);
    }
    prev = cur;
  }
  return prev[b.length]!;
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

/**
 * `--no-goldmane-whisker` (off) / `--goldmane-whisker` (on, refused before v3.30) / neither: what upstream's
 * custom-resources.yaml creates. Shared by render, run and upgrade.
 */
export function goldmaneWhiskerOption(
  command: string,
  values: Record<string, unknown>,
): { goldmaneWhisker?: boolean } {
  const on = values['goldmane-whisker'] === true;
  const off = values['no-goldmane-whisker'] === true;
  if (on && off)
    throw new UsageError(
      `${command}: --goldmane-whisker and --no-goldmane-whisker exclude each other; pick one`,
      'goldmane-whisker',
    );
  return on ? { goldmaneWhisker: true } : off ? { goldmaneWhisker: false } : {};
}
