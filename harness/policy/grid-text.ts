/**
 * The policy runner's view of reachability grids: the one text format lives in harness/report/grid.ts
 * (netpol e2e style, one character per cell); this module names it in the runner's vocabulary.
 */

import type { ReachabilityGrid, Verdict } from '../probe/types.js';
import { formatGridText, gridMismatches } from '../report/grid.js';

export { formatGridView, GRID_LEGEND, type GridView as CellView, verdictAllowed } from '../report/grid.js';

/** Title, then the expected, observed and difference tables, then the count of differences. */
export const formatGrid: (grid: ReachabilityGrid) => string = formatGridText;

/** The pairs whose observation differs from the expectation (errors and unprobed cells excluded). */
export function gridDifferences(
  grid: ReachabilityGrid,
): { from: string; to: string; expected: boolean; observed: Verdict }[] {
  return gridMismatches(grid).map((m) => ({
    from: m.from,
    to: m.to,
    expected: m.expected === 'allowed',
    observed: m.observed,
  }));
}
