/**
 * The two-stage audit verdict of a cell.
 *
 * 1. After the upstream uninstall, the findings are compared with the known-leftovers baseline for the
 *    cell's install path and Calico version (baseline.ts): a finding an applicable entry describes is
 *    **expected**; one that no entry describes (and `--allow` does not allow) is **new**, a regression, and
 *    fails the cell; an applicable entry that matched nothing is **fixed** (upstream no longer leaves it),
 *    reported so the baseline gets updated, never a failure.
 * 2. After the complete uninstall (complete-uninstall.ts) the second audit must be clean: every finding
 *    counts unless `--allow` allows it. What the kernel itself keeps is no finding in the first place (the
 *    fallback tunl0, judged by its configuration); it is listed as kept by the kernel.
 * A node where nothing could be collected makes either audit fail: an audit that could not look passes
 * nothing.
 */
import type { Cell } from '../config/cell.js';
import type { AuditReport, CellAudit, CompleteAudit, Finding, UpstreamAudit } from '../model/audit.js';
import type { NodeDump } from '../node-state/dump.js';
import { parseIpAddrs, parseIpLinks } from '../node-state/parse.js';
import { BASELINE_PATH, type BaselineEntry, entriesFor, entryMatches } from './baseline.js';
import { allowInReport } from './rules.js';

/** A finding the upstream verdict counts: neither expected by the baseline nor allowed. */
export function isNew(f: Finding): boolean {
  return !f.baseline && !f.allowed;
}

/** Findings without their `fix` steps (argv for the complete uninstall; not part of the results). */
export function withoutFix(report: AuditReport): AuditReport {
  return { ...report, findings: report.findings.map(({ fix: _fix, ...f }) => f) };
}

export function judgeUpstream(
  report: AuditReport,
  cell: Cell,
  opts: { allow?: readonly string[]; entries?: readonly BaselineEntry[]; file?: string } = {},
): UpstreamAudit {
  const applicable = entriesFor(cell, opts.entries);
  const allowed = allowInReport(withoutFix(report), opts.allow);
  const findings = allowed.findings.map((f) => {
    const e = applicable.find((x) => entryMatches(x, f));
    return e ? { ...f, baseline: e.id } : f;
  });
  const seen = new Set(findings.flatMap((f) => (f.baseline ? [f.baseline] : [])));
  const fixed = applicable
    .filter((e) => !e.optional && !seen.has(e.id))
    .map((e) => ({
      id: e.id,
      rule: e.rule,
      ...(e.name.length ? { name: e.name } : {}),
      why: e.why,
      source: e.source,
      evidence: e.evidence,
    }));
  return {
    report: { ...allowed, findings },
    baseline: { file: opts.file ?? BASELINE_PATH, applicable: applicable.map((e) => e.id) },
    fixed,
    passed: allowed.complete && !findings.some(isNew),
  };
}

export function judgeComplete(
  report: AuditReport,
  dumps: readonly NodeDump[],
  opts: { allow?: readonly string[] } = {},
): CompleteAudit {
  const allowed = allowInReport(withoutFix(report), opts.allow);
  return { report: allowed, kernelKept: kernelKept(dumps), passed: allowed.clean };
}

/**
 * What the kernel keeps that the audit rightly does not count: a tunl0 that is the kernel's unconfigured
 * fallback device (present in every netns while `ipip` is loaded on the host, not deletable).
 */
export function kernelKept(dumps: readonly NodeDump[]): string[] {
  const out: string[] = [];
  for (const d of dumps) {
    const linksText = d.files['ip-link.json'];
    if (linksText === undefined) continue;
    const tunl0 = parseIpLinks(linksText).find((l) => l.ifname === 'tunl0');
    if (!tunl0) continue;
    const addrs = d.files['ip-addr.json'] !== undefined ? parseIpAddrs(d.files['ip-addr.json']) : [];
    const inet = addrs.some((a) => a.ifname === 'tunl0' && a.addr_info.some((i) => i.family === 'inet'));
    if (!inet && !tunl0.flags.includes('UP'))
      out.push(
        `${d.node}: tunl0, the kernel's fallback ipip device (DOWN, no address): kept by the kernel, not counted`,
      );
  }
  return out;
}

/** One line per audit for evidence and summaries: "3 expected, 1 new, 0 allowed; 2 fixed". */
export function upstreamCounts(a: UpstreamAudit): {
  expected: number;
  new: number;
  allowed: number;
  fixed: number;
} {
  const f = a.report.findings;
  return {
    expected: f.filter((x) => x.baseline).length,
    new: f.filter(isNew).length,
    allowed: f.filter((x) => !x.baseline && x.allowed).length,
    fixed: a.fixed.length,
  };
}

/**
 * Results written by an older harness carry one AuditReport as `audit`: read it as the upstream audit
 * with no baseline (every unallowed finding new), which is what it meant then.
 */
export function normaliseCellAudit(raw: unknown): CellAudit | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if ('afterUpstreamUninstall' in r || 'afterCompleteUninstall' in r) return r as CellAudit;
  if (Array.isArray(r.findings)) {
    const old = r as unknown as Partial<AuditReport> & { findings: Finding[] };
    const report: AuditReport = {
      ...old,
      clean: old.clean === true,
      notChecked: old.notChecked ?? [],
      complete: old.complete ?? true,
    };
    return {
      afterUpstreamUninstall: {
        report,
        baseline: { file: '(none: written before the baseline existed)', applicable: [] },
        fixed: [],
        passed: report.clean === true,
      },
    };
  }
  return undefined;
}

/** What an audit phase records: whether it passed, why not, and the evidence lines. */
export interface AuditPhaseSummary {
  passed: boolean;
  reason?: string;
  evidence: string[];
}

const findingLine = (f: Finding) => `${f.node} ${f.category} ${f.name}: ${f.detail}`;

function notAudited(report: AuditReport): { reasons: string[]; evidence: string[] } {
  const uncollected = report.uncollected ?? [];
  return {
    reasons: uncollected.length
      ? [`nothing could be collected on ${uncollected.map((u) => u.node).join(', ')}`]
      : report.complete
        ? []
        : ['nothing could be audited (no node dump and no API state)'],
    evidence: uncollected.map((u) => `node ${u.node}: nothing could be collected (${u.reason})`),
  };
}

function notCheckedLines(report: AuditReport): string[] {
  return report.notChecked
    .slice(0, 10)
    .map((n) => `not checked: ${n.node} ${n.category} ${n.what}: ${n.reason}`);
}

/** The first audit's phase: fails on new findings (and on an audit that could not look); fixed entries are evidence. */
export function upstreamPhase(v: UpstreamAudit, where: string): AuditPhaseSummary {
  const c = upstreamCounts(v);
  const fresh = v.report.findings.filter(isNew);
  const na = notAudited(v.report);
  const evidence = [
    where,
    `left by upstream uninstall: ${c.expected} expected, ${c.new} new, ${c.allowed} allowed; ${c.fixed} baseline entr${c.fixed === 1 ? 'y' : 'ies'} not seen (fixed upstream?) — baseline ${v.baseline.file}, ${v.baseline.applicable.length} entries apply`,
    ...fresh.slice(0, 20).map((f) => `new: ${findingLine(f)}`),
    ...v.fixed.map(
      (e) => `fixed: baseline entry ${e.id} (${e.rule}) did not appear; update the baseline (${e.source})`,
    ),
    ...notCheckedLines(v.report),
    ...na.evidence,
  ];
  if (v.passed) return { passed: true, evidence };
  const cats = [...new Set(fresh.map((f) => f.category))].join(', ');
  const reasons = [
    ...(fresh.length
      ? [`${fresh.length} new leftover(s) after uninstall, not in the known-leftovers baseline (${cats})`]
      : []),
    ...na.reasons,
  ];
  return { passed: false, reason: reasons.join('; ') || 'the audit is not clean', evidence };
}

/** The second audit's phase: everything counts unless allowed; what the kernel keeps is evidence. */
export function completePhase(v: CompleteAudit, where: string): AuditPhaseSummary {
  const counted = v.report.findings.filter((f) => !f.allowed);
  const na = notAudited(v.report);
  const evidence = [
    where,
    `after complete uninstall: ${counted.length} leftover(s), ${v.report.findings.length - counted.length} allowed`,
    ...counted.slice(0, 20).map(findingLine),
    ...v.kernelKept,
    ...notCheckedLines(v.report),
    ...na.evidence,
  ];
  if (v.passed) return { passed: true, evidence };
  const cats = [...new Set(counted.map((f) => f.category))].join(', ');
  const reasons = [
    ...(counted.length ? [`${counted.length} leftover(s) after the complete uninstall (${cats})`] : []),
    ...na.reasons,
  ];
  return { passed: false, reason: reasons.join('; ') || 'the audit is not clean', evidence };
}
