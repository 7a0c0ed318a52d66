/**
 * Reachability grids as text, in the style of the Kubernetes netpol e2e (`Reachability.PrintSummary`
 * prints expected, observed and a comparison table): one character per cell, rows are sources, columns
 * destinations numbered like the rows, so a failure reads at a glance in a CI log, JUnit or Markdown.
 *
 *   expected / observed:  `.` allowed (connected)   `X` denied (refused, timeout, unreachable, dns-failure)
 *                         `E` probe error (infrastructure, never counted as a deny)   `?` not probed
 *                         `-` the pod itself (not probed)
 *   difference:           `.` as expected   `X` observed ≠ expected   `E` probe error   `?` not probed
 */
import type { ReachabilityGrid, Verdict } from '../probe/types.js';

export const GRID_LEGEND =
  '. allowed  X denied  E probe error  ? not probed  - self; difference: . as expected  X differs';

export type CellView = 'expected' | 'observed' | 'difference';

/** `connected` is allowed; `error` is an infrastructure failure; anything else is a deny. */
export function verdictAllowed(v: Verdict): boolean {
  return v === 'connected';
}

function cellChar(grid: ReachabilityGrid, view: CellView, from: string, to: string): string {
  if (from === to) return '-';
  const exp = grid.expected[from]?.[to];
  const obs = grid.observed[from]?.[to];
  if (view === 'expected') return exp === undefined ? '?' : exp ? '.' : 'X';
  if (view === 'observed')
    return obs === undefined ? '?' : obs === 'error' ? 'E' : verdictAllowed(obs) ? '.' : 'X';
  if (obs === undefined || exp === undefined) return '?';
  if (obs === 'error') return 'E';
  return verdictAllowed(obs) === exp ? '.' : 'X';
}

/** One table (expected, observed or difference) of a grid. */
export function formatGridView(grid: ReachabilityGrid, view: CellView): string {
  const peers = grid.peers;
  const width = Math.max(0, ...peers.map((p) => p.length));
  const idx = String(Math.max(peers.length - 1, 0)).length;
  const head = `${' '.repeat(idx + 1 + width)} ${peers.map((_, i) => String(i % 10)).join(' ')}`;
  const rows = peers.map(
    (from, i) =>
      `${String(i).padStart(idx)} ${from.padEnd(width)} ${peers.map((to) => cellChar(grid, view, from, to)).join(' ')}`,
  );
  return [`${view}:`, head.trimEnd(), ...rows].join('\n');
}

/** The pairs whose observation differs from the expectation (errors and unprobed cells excluded). */
export function gridDifferences(
  grid: ReachabilityGrid,
): { from: string; to: string; expected: boolean; observed: Verdict }[] {
  const out: { from: string; to: string; expected: boolean; observed: Verdict }[] = [];
  for (const from of grid.peers)
    for (const to of grid.peers) {
      if (from === to) continue;
      const exp = grid.expected[from]?.[to];
      const obs = grid.observed[from]?.[to];
      if (exp === undefined || obs === undefined || obs === 'error') continue;
      if (verdictAllowed(obs) !== exp) out.push({ from, to, expected: exp, observed: obs });
    }
  return out;
}

/** Title, then the expected, observed and difference tables, then the count of differences. */
export function formatGrid(grid: ReachabilityGrid): string {
  const n = gridDifferences(grid).length;
  return [
    `${grid.title} (${grid.protocol}/${grid.port})`,
    formatGridView(grid, 'expected'),
    formatGridView(grid, 'observed'),
    formatGridView(grid, 'difference'),
    n === 0 ? 'no differences' : `${n} difference${n === 1 ? '' : 's'}`,
  ].join('\n');
}
