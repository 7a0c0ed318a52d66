/**
 * The policy runner's view of reachability grids: the one text format, legend and judgement live in
 * harness/probe/grid.ts (netpol e2e style, one character per cell, then each failed cell with the command
 * that repeats it); this module names them in the runner's vocabulary.
 */

import type { ProbeRecord, ReachabilityGrid, Verdict } from '../model/connectivity.js';
import { attachFailedProbes, formatGridText, gridMismatches } from '../probe/grid.js';

export { formatGridView, GRID_LEGEND, type GridView as CellView, verdictAllowed } from '../probe/grid.js';

/** Title, legend, the expected, observed and difference tables, the count, then the failure list. */
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

/**
 * Gives each failed cell of the grids (observed ≠ expected, or a probe error) the detail and the
 * paste-able command of the probe record that observed it: pass the records of the round the grids show
 * (the prober puts a `command` on every record). Returns the same grids, changed in place.
 */
export function withProbeCommands(
  grids: ReachabilityGrid[],
  records: readonly ProbeRecord[],
): ReachabilityGrid[] {
  for (const g of grids) attachFailedProbes(g, records);
  return grids;
}
