/**
 * Reachability grids as text, after the Kubernetes netpol e2e (`test/e2e/network/netpol/reachability.go`
 * prints expected, observed and a difference table): one character per cell so a person can scan a
 * failure in a CI log, a JUnit failure or a Markdown code block.
 */
import type { ReachabilityGrid, Verdict } from '../probe/types.js';

/** One symbol per verdict kind; ' ' where the pair was not probed. */
export const VERDICT_SYMBOL: Record<Verdict, string> = {
  connected: '.',
  refused: 'R',
  timeout: 'T',
  'dns-failure': 'D',
  unreachable: 'U',
  error: 'E',
};
export const NOT_PROBED_SYMBOL = ' ';

export const GRID_LEGEND =
  'observed: . connected  R refused  T timeout  D dns-failure  U unreachable  E error  (blank) not probed  - self; ' +
  'expected: . allowed  X denied; difference: X expected≠observed  E probe error (never counted as a deny)';

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

export interface GridMismatch {
  from: string;
  to: string;
  expected: 'allowed' | 'denied';
  observed: Verdict;
}

export function gridMismatches(grid: ReachabilityGrid): GridMismatch[] {
  const out: GridMismatch[] = [];
  for (const from of grid.peers) {
    for (const to of grid.peers) {
      if (cellState(grid, from, to) !== 'mismatch') continue;
      out.push({
        from,
        to,
        expected: grid.expected[from]?.[to] ? 'allowed' : 'denied',
        observed: grid.observed[from]?.[to] as Verdict,
      });
    }
  }
  return out;
}

function table(
  name: string,
  peers: string[],
  symbol: (from: string, to: string) => string,
  labelWidth: number,
): string[] {
  const idxWidth = String(Math.max(peers.length - 1, 0)).length;
  const head = `${' '.repeat(idxWidth + 1 + labelWidth)} ${peers.map((_, i) => String(i % 10)).join(' ')}`;
  const rows = peers.map(
    (from, i) =>
      `${String(i).padStart(idxWidth)} ${from.padEnd(labelWidth)} ${peers.map((to) => symbol(from, to)).join(' ')}`,
  );
  return [`${name}:`, head.trimEnd(), ...rows.map((r) => r.trimEnd())];
}

export type GridView = 'expected' | 'observed' | 'difference';

/** One table of a grid: `-` marks the pod itself, which is never probed. */
export function formatGridView(grid: ReachabilityGrid, view: GridView): string {
  const labelWidth = Math.max(0, ...grid.peers.map((p) => p.length));
  const symbol = (from: string, to: string): string => {
    if (from === to) return '-';
    if (view === 'expected') {
      const e = grid.expected[from]?.[to];
      return e === undefined ? NOT_PROBED_SYMBOL : e ? '.' : 'X';
    }
    if (view === 'observed') return verdictSymbol(grid.observed[from]?.[to]);
    const s = cellState(grid, from, to);
    return s === 'mismatch' ? 'X' : s === 'match' ? '.' : s === 'error' ? 'E' : NOT_PROBED_SYMBOL;
  };
  return table(view, grid.peers, symbol, labelWidth).join('\n');
}

/**
 * The grid as text: a title line, then the expected, observed and difference tables (rows are sources,
 * columns destinations, numbered like the rows), then the count of mismatches.
 */
export function formatGridText(grid: ReachabilityGrid): string {
  const mismatches = gridMismatches(grid).length;
  return [
    `${grid.title} (${grid.protocol}/${grid.port})`,
    formatGridView(grid, 'expected'),
    formatGridView(grid, 'observed'),
    formatGridView(grid, 'difference'),
    mismatches === 0 ? 'no differences' : `${mismatches} difference${mismatches === 1 ? '' : 's'}`,
  ].join('\n');
}
