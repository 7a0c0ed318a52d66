/** What every report format shows the same way: which phases to show, counts, outcome symbols. */
import { type CellResult, type Outcome, PHASES, type PhaseName, type RunResults } from './model.js';

export const OUTCOMES: readonly Outcome[] = ['passed', 'failed', 'error', 'skipped', 'not-run'];

/** Text symbols (Markdown, terminal). */
export const OUTCOME_MARK: Record<Outcome, string> = {
  passed: '✅',
  failed: '❌',
  error: '💥',
  skipped: '⏭️',
  'not-run': '·',
};

/** The phases any cell recorded, in pipeline order: columns of the matrix overview. */
export function phasesShown(results: RunResults): PhaseName[] {
  const seen = new Set<PhaseName>();
  for (const c of results.cells) for (const p of c.phases) seen.add(p.name);
  return PHASES.filter((p) => seen.has(p));
}

export function countOutcomes(cells: CellResult[]): Record<Outcome, number> {
  const counts: Record<Outcome, number> = { passed: 0, failed: 0, error: 0, skipped: 0, 'not-run': 0 };
  for (const c of cells) counts[c.outcome]++;
  return counts;
}

export function isBad(o: Outcome): boolean {
  return o === 'failed' || o === 'error';
}

/** Findings that make the audit unclean (not kept by design, not allowed by configuration). */
export function unclean(cell: CellResult) {
  return (cell.audit?.findings ?? []).filter((f) => !f.byDesign && !f.allowed);
}
