/** What every report format shows the same way: which phases to show, counts, outcome symbols, audit rows. */

import { upstreamCounts } from '../audit/verdict.js';
import type { Finding, NotChecked } from '../model/audit.js';
import { type CellResult, type Outcome, PHASES, type PhaseName, type RunResults } from '../model/results.js';

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

export type AuditStage = 'upstream' | 'complete';

/** How its audit judged a finding. */
export type FindingState = 'expected' | 'new' | 'allowed' | 'leftover';

export interface AuditRow {
  stage: AuditStage;
  finding: Finding;
  state: FindingState;
}

/** The column heads of the two audits, the same in every format. */
export const STAGE_TITLE: Record<AuditStage, string> = {
  upstream: 'left by upstream uninstall',
  complete: 'after complete uninstall',
};

/** Every finding of both audits of a cell, each with how its audit judged it. */
export function auditRows(cell: CellResult): AuditRow[] {
  const up = cell.audit?.afterUpstreamUninstall;
  const done = cell.audit?.afterCompleteUninstall;
  return [
    ...(up?.report.findings ?? []).map(
      (f): AuditRow => ({
        stage: 'upstream',
        finding: f,
        state: f.baseline ? 'expected' : f.allowed ? 'allowed' : 'new',
      }),
    ),
    ...(done?.report.findings ?? []).map(
      (f): AuditRow => ({
        stage: 'complete',
        finding: f,
        state: f.allowed ? 'allowed' : 'leftover',
      }),
    ),
  ];
}

/** The findings that fail a cell's audits: new after the upstream uninstall, any left after the complete one. */
export function unclean(cell: CellResult): AuditRow[] {
  return auditRows(cell).filter((r) => r.state === 'new' || r.state === 'leftover');
}

/** Checks either audit could not make. */
export function auditNotChecked(cell: CellResult): { stage: AuditStage; n: NotChecked }[] {
  return [
    ...(cell.audit?.afterUpstreamUninstall?.report.notChecked ?? []).map((n) => ({
      stage: 'upstream' as const,
      n,
    })),
    ...(cell.audit?.afterCompleteUninstall?.report.notChecked ?? []).map((n) => ({
      stage: 'complete' as const,
      n,
    })),
  ];
}

/** One cell's two audits in a few words each, e.g. "18 expected / 0 new / 1 fixed" and "clean". */
export function auditCells(cell: CellResult): { upstream: string; complete: string } | undefined {
  const up = cell.audit?.afterUpstreamUninstall;
  const done = cell.audit?.afterCompleteUninstall;
  if (!up && !done) return undefined;
  const upstream = up
    ? (() => {
        const c = upstreamCounts(up);
        const gaps = (up.report.uncollected ?? []).length ? ', not every node collected' : '';
        return `${c.expected} expected / ${c.new} new / ${c.fixed} fixed${c.allowed ? ` (+${c.allowed} allowed)` : ''}${gaps}`;
      })()
    : 'not run';
  const complete = done
    ? (() => {
        const left = done.report.findings.filter((f) => !f.allowed).length;
        const allowed = done.report.findings.length - left;
        const gaps = (done.report.uncollected ?? []).length ? ', not every node collected' : '';
        return `${left === 0 ? 'clean' : `${left} leftover${left === 1 ? '' : 's'}`}${allowed ? ` (+${allowed} allowed)` : ''}${done.kernelKept.length ? `; ${done.kernelKept.length} kept by the kernel` : ''}${gaps}`;
      })()
    : 'not run';
  return { upstream, complete };
}

/** Whether an audit passed: undefined when it did not run. */
export function auditPassed(cell: CellResult, stage: AuditStage): boolean | undefined {
  return stage === 'upstream'
    ? cell.audit?.afterUpstreamUninstall?.passed
    : cell.audit?.afterCompleteUninstall?.passed;
}
