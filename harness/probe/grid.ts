/**
 * Reachability grids: the one text format, legend and judgement of a grid, used by the connectivity checks,
 * the policy runner and every report. After the Kubernetes netpol e2e, which prints an expected, an observed
 * and a difference table for a failed probe matrix (test/e2e/network/netpol/truthtable.go and
 * reachability.go): one character per cell, so a person can scan a failure in a CI log, a JUnit failure or a
 * Markdown code block. Rows are sources and columns destinations; then the count and, for each failed cell
 * (observed ≠ expected, or a probe error), the probe's own detail and the command that repeats that one
 * probe by hand (probe/command.ts).
 *
 * The expectation comes from the policy oracle's truth table (policy/oracle.ts `TruthTable.grid`) or, for
 * the connectivity checks, from a function of the pair (`gridsFromRecords`); the grid itself is data
 * (model/connectivity.ts `ReachabilityGrid`) that the results model keeps and the reports read.
 */
import type { FailedProbe, ProbeRecord, Protocol, ReachabilityGrid, Verdict } from '../model/connectivity.js';
import { VERDICTS } from '../model/connectivity.js';

/** One symbol per verdict kind; never blank, since blank means "not probed". */
export const VERDICT_SYMBOL: Record<Verdict, string> = {
  connected: '.',
  refused: 'R',
  timeout: 'T',
  'dns-failure': 'D',
  unreachable: 'U',
  error: 'E',
};
export const NOT_PROBED_SYMBOL = ' ';
/** a pod to itself, which is never probed */
export const SELF_SYMBOL = '-';
export const EXPECTED_SYMBOL = { allowed: '.', denied: 'X' } as const;
export const DIFFERENCE_SYMBOL = { match: '.', mismatch: 'X', error: 'E' } as const;

export interface LegendEntry {
  symbol: string;
  meaning: string;
}

/** The legend as data: the text legend and the HTML report's legend are both made from it. */
export const GRID_LEGEND_PARTS: Readonly<Record<'observed' | 'expected' | 'difference', LegendEntry[]>> = {
  observed: [
    ...VERDICTS.map((v) => ({ symbol: VERDICT_SYMBOL[v], meaning: v })),
    { symbol: NOT_PROBED_SYMBOL, meaning: 'not probed' },
    { symbol: SELF_SYMBOL, meaning: 'self' },
  ],
  expected: [
    { symbol: EXPECTED_SYMBOL.allowed, meaning: 'allowed' },
    { symbol: EXPECTED_SYMBOL.denied, meaning: 'denied' },
  ],
  difference: [
    { symbol: DIFFERENCE_SYMBOL.match, meaning: 'as expected' },
    { symbol: DIFFERENCE_SYMBOL.mismatch, meaning: 'expected≠observed' },
    { symbol: DIFFERENCE_SYMBOL.error, meaning: 'probe error (never counted as a deny)' },
  ],
};

export const GRID_LEGEND = Object.entries(GRID_LEGEND_PARTS)
  .map(
    ([part, entries]) =>
      `${part}: ${entries.map((e) => `${e.symbol === NOT_PROBED_SYMBOL ? '(blank)' : e.symbol} ${e.meaning}`).join('  ')}`,
  )
  .join('; ');

export function verdictSymbol(v: Verdict | undefined): string {
  return v === undefined ? NOT_PROBED_SYMBOL : VERDICT_SYMBOL[v];
}

export type CellState = 'match' | 'mismatch' | 'not-probed' | 'error';

/** `connected` is allowed; `error` is an infrastructure failure; anything else is a deny. */
export function verdictAllowed(v: Verdict): boolean {
  return v === 'connected';
}

/**
 * Whether one from→to pair matched its expectation. A self pair or an unprobed pair is 'not-probed'; a
 * probe that failed as infrastructure is 'error', never counted as a deny (nor as a mismatch).
 */
export function cellState(grid: ReachabilityGrid, from: string, to: string): CellState {
  const observed = grid.observed[from]?.[to];
  const expected = grid.expected[from]?.[to];
  if (observed === undefined || expected === undefined) return 'not-probed';
  if (observed === 'error') return 'error';
  return verdictAllowed(observed) === expected ? 'match' : 'mismatch';
}

/**
 * The rows (sources: peers with a row of expectations or observations) and columns (destinations: peers
 * named in any row), both in `peers` order. A policy grid is square; a connectivity grid usually is not.
 */
export function gridAxes(grid: ReachabilityGrid): { rows: string[]; cols: string[] } {
  const hasRow = (p: string) => p in grid.expected || p in grid.observed;
  const named = new Set<string>();
  for (const table of [grid.expected, grid.observed])
    for (const row of Object.values(table)) for (const to of Object.keys(row)) named.add(to);
  const rows = grid.peers.filter(hasRow);
  const cols = grid.peers.filter((p) => named.has(p));
  // peers named by a row but missing from `peers` (a hand-written grid) still show, after the rest
  for (const p of [...Object.keys(grid.expected), ...Object.keys(grid.observed)])
    if (!rows.includes(p)) rows.push(p);
  for (const p of named) if (!cols.includes(p)) cols.push(p);
  return { rows, cols };
}

export interface GridMismatch {
  from: string;
  to: string;
  expected: 'allowed' | 'denied';
  observed: Verdict;
}

/** A failed cell: observed ≠ expected, or a probe error. */
export interface GridFailure extends GridMismatch {
  state: 'mismatch' | 'error';
}

/** The failed cells, row by row: mismatches and probe errors. */
export function gridFailures(grid: ReachabilityGrid): GridFailure[] {
  const { rows, cols } = gridAxes(grid);
  const out: GridFailure[] = [];
  for (const from of rows)
    for (const to of cols) {
      const state = cellState(grid, from, to);
      if (state !== 'mismatch' && state !== 'error') continue;
      out.push({
        from,
        to,
        state,
        expected: grid.expected[from]?.[to] ? 'allowed' : 'denied',
        observed: grid.observed[from]?.[to] as Verdict,
      });
    }
  return out;
}

/** The pairs whose observation differs from the expectation (errors and unprobed cells excluded). */
export function gridMismatches(grid: ReachabilityGrid): GridMismatch[] {
  return gridFailures(grid)
    .filter((f) => f.state === 'mismatch')
    .map(({ from, to, expected, observed }) => ({ from, to, expected, observed }));
}

/** Every probed cell as expected: no mismatch and no probe error. */
export function gridPasses(grid: ReachabilityGrid): boolean {
  return gridFailures(grid).length === 0;
}

export type GridView = 'expected' | 'observed' | 'difference';

/** The symbol of one cell in one of the three tables. */
export function gridSymbol(grid: ReachabilityGrid, view: GridView, from: string, to: string): string {
  if (from === to) return SELF_SYMBOL;
  if (view === 'expected') {
    const e = grid.expected[from]?.[to];
    return e === undefined ? NOT_PROBED_SYMBOL : e ? EXPECTED_SYMBOL.allowed : EXPECTED_SYMBOL.denied;
  }
  if (view === 'observed') return verdictSymbol(grid.observed[from]?.[to]);
  const s = cellState(grid, from, to);
  return s === 'not-probed' ? NOT_PROBED_SYMBOL : DIFFERENCE_SYMBOL[s];
}

/**
 * Row labels are numbered in order, then the columns that are no row; a column header shows its number
 * (mod 10, as the e2e does).
 */
export function gridNumbering(grid: ReachabilityGrid): {
  rows: string[];
  cols: string[];
  index: Map<string, number>;
  colsOnly: string[];
} {
  const { rows, cols } = gridAxes(grid);
  const colsOnly = cols.filter((c) => !rows.includes(c));
  const index = new Map([...rows, ...colsOnly].map((p, i) => [p, i]));
  return { rows, cols, index, colsOnly };
}

function indexWidth(index: Map<string, number>): number {
  return String(Math.max(index.size - 1, 0)).length;
}

/** One table of a grid: a `view:` line, the column numbers, one labelled row per source. */
export function formatGridView(grid: ReachabilityGrid, view: GridView): string {
  const { rows, cols, index } = gridNumbering(grid);
  const w = indexWidth(index);
  const labelWidth = Math.max(0, ...rows.map((p) => p.length));
  const head = `${' '.repeat(w + 1 + labelWidth)} ${cols.map((c) => String(index.get(c)! % 10)).join(' ')}`;
  const lines = rows.map(
    (from) =>
      `${String(index.get(from)).padStart(w)} ${from.padEnd(labelWidth)} ${cols.map((to) => gridSymbol(grid, view, from, to)).join(' ')}`,
  );
  return [`${view}:`, head, ...lines].map((l) => l.trimEnd()).join('\n');
}

/** What the failure list says of one failed cell (without its detail or command). */
export function failureText(f: GridFailure): string {
  return f.state === 'error'
    ? `${f.from} → ${f.to}: probe error, not a verdict`
    : `${f.from} → ${f.to}: expected ${f.expected}, observed ${f.observed}`;
}

/** The detail and command recorded for a failed cell, if any. */
export function failedProbe(grid: ReachabilityGrid, from: string, to: string): FailedProbe | undefined {
  return grid.failures?.[from]?.[to];
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/**
 * The grid as text: the title, the legend, the columns that are no row (if any), the expected, observed and
 * difference tables, the count, and the failure list (each failed cell with its detail and, on the next
 * line, the command that repeats that one probe).
 */
export function formatGridText(grid: ReachabilityGrid): string {
  const { index, colsOnly } = gridNumbering(grid);
  const w = indexWidth(index);
  const failures = gridFailures(grid);
  const mismatches = failures.filter((f) => f.state === 'mismatch').length;
  const errors = failures.length - mismatches;
  const count =
    (mismatches === 0 ? 'no differences' : plural(mismatches, 'difference')) +
    (errors ? `, ${plural(errors, 'probe error')}` : '');
  const list = failures.flatMap((f) => {
    const known = failedProbe(grid, f.from, f.to);
    return [
      `  ${failureText(f)}${known?.detail ? ` (${known.detail})` : ''}`,
      ...(known?.command ? [`    ${known.command}`] : []),
    ];
  });
  return [
    `${grid.title} (${grid.protocol}/${grid.port})`,
    `legend: ${GRID_LEGEND}`,
    ...(colsOnly.length
      ? ['columns only:', ...colsOnly.map((p) => `${String(index.get(p)).padStart(w)} ${p}`)]
      : []),
    formatGridView(grid, 'expected'),
    formatGridView(grid, 'observed'),
    formatGridView(grid, 'difference'),
    count,
    ...(list.length ? ['failures:', ...list] : []),
  ].join('\n');
}

/**
 * Records, for each failed cell of `grid`, the detail and command of the probe record that observed it
 * (records of other ports or protocols are ignored). Returns the grid, changed in place.
 */
export function attachFailedProbes(
  grid: ReachabilityGrid,
  records: readonly ProbeRecord[],
): ReachabilityGrid {
  const failures: NonNullable<ReachabilityGrid['failures']> = {};
  let any = false;
  for (const r of records) {
    if (r.port !== grid.port || r.protocol !== grid.protocol) continue;
    const s = cellState(grid, r.from, r.to);
    if (s !== 'mismatch' && s !== 'error') continue;
    if (r.detail === undefined && r.command === undefined) continue;
    const row = failures[r.from] ?? {};
    failures[r.from] = row;
    row[r.to] = {
      ...(r.detail !== undefined ? { detail: r.detail } : {}),
      ...(r.command !== undefined ? { command: r.command } : {}),
    };
    any = true;
  }
  if (any) grid.failures = failures;
  else delete grid.failures;
  return grid;
}

/**
 * Builds one grid per port/protocol from records, with an expectation function: rows are the sources and
 * columns the destinations of that port's records, in `peers` order (others after them), every pair
 * expected by `expect`; each failed cell keeps its record's detail and command.
 */
export function gridsFromRecords(
  records: readonly ProbeRecord[],
  peers: readonly string[],
  expect: (from: string, to: string, port: number, protocol: Protocol) => boolean,
  title = 'reachability',
): ReachabilityGrid[] {
  const combos = new Map<string, { port: number; protocol: Protocol }>();
  for (const r of records) combos.set(`${r.protocol}/${r.port}`, { port: r.port, protocol: r.protocol });
  return [...combos.values()].map(({ port, protocol }) => {
    const mine = records.filter((r) => r.port === port && r.protocol === protocol);
    const froms = peers.filter((p) => mine.some((r) => r.from === p));
    const tos = peers.filter((p) => mine.some((r) => r.to === p));
    for (const r of mine) {
      if (!froms.includes(r.from)) froms.push(r.from);
      if (!tos.includes(r.to)) tos.push(r.to);
    }
    const expected: ReachabilityGrid['expected'] = {};
    const observed: ReachabilityGrid['observed'] = {};
    for (const f of froms) {
      const row: Record<string, boolean> = {};
      for (const t of tos) row[t] = expect(f, t, port, protocol);
      expected[f] = row;
      observed[f] = {};
    }
    for (const r of mine) (observed[r.from] as Record<string, Verdict | undefined>)[r.to] = r.verdict;
    const grid: ReachabilityGrid = {
      title,
      port,
      protocol,
      peers: [...new Set([...froms, ...tos])],
      expected,
      observed,
    };
    return attachFailedProbes(grid, mine);
  });
}
