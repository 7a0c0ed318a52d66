/**
 * The leftover audit (pure): node dumps and API state in, one report out. The rules themselves live in the
 * registry's two files, node-rules.ts (the node dump) and api-rules.ts (cluster.json); this module runs
 * them, applies `--allow`, and says whether the audit could look at all.
 */

import type { AuditReport, Finding, NotChecked, Uncollected } from '../model/audit.js';
import { BASELINE_FILE, type DumpFile, type NodeDump } from '../node-state/dump.js';
import { auditClusterState as runApiRules } from './api-rules.js';
import type { ClusterState } from './cluster-state.js';
import { type NodeAuditOptions, type PartialAudit, auditNodeDump as runNodeRules } from './node-rules.js';

export type { PartialAudit } from './node-rules.js';
export { BY_DESIGN_RULES, RULE_IDS } from './registry.js';

export interface AuditOptions extends NodeAuditOptions {
  /**
   * Findings to allow (parseAllowList validates them): a rule id (`node-annotations`, …), `by-design` for
   * every leftover Calico keeps on purpose, or a finding-name pattern (`*` matches any run of characters;
   * `name:PATTERN` says so explicitly).
   */
  allow?: readonly string[];
}

/** The node rules over one node dump, with `--allow` applied. */
export function auditNodeDump(dump: NodeDump, opts: AuditOptions = {}): PartialAudit {
  const r = runNodeRules(dump, opts);
  return { findings: r.findings.map((x) => applyAllow(x, opts.allow)), notChecked: r.notChecked };
}

/** The API rules over cluster.json, with `--allow` applied. */
export function auditClusterState(state: ClusterState, opts: AuditOptions = {}): PartialAudit {
  const r = runApiRules(state);
  return { findings: r.findings.map((x) => applyAllow(x, opts.allow)), notChecked: r.notChecked };
}

function globMatch(pattern: string, text: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(text);
}

/**
 * Marks a finding allowed when an `--allow` item names its rule, `by-design` covers it, or a name pattern
 * matches its name (`name:PATTERN` or a bare pattern). Idempotent.
 */
export function applyAllow(f: Finding, allow: readonly string[] = []): Finding {
  const allowed = allow.some((a) =>
    a.startsWith('name:')
      ? globMatch(a.slice('name:'.length), f.name)
      : a === f.rule || (a === 'by-design' && f.byDesign === true) || globMatch(a, f.name),
  );
  return allowed ? { ...f, allowed: true } : f;
}

/** The report with `--allow` applied to every finding and `clean` recomputed. */
export function allowInReport(report: AuditReport, allow: readonly string[] = []): AuditReport {
  const findings = report.findings.map((f) => applyAllow(f, allow));
  return { ...report, findings, clean: report.complete && findings.every((f) => f.allowed === true) };
}

export function auditReport(
  parts: { dumps?: readonly NodeDump[]; cluster?: ClusterState },
  opts: AuditOptions = {},
): AuditReport {
  const findings: Finding[] = [];
  const notCheckedAll: NotChecked[] = [];
  const uncollected: Uncollected[] = [];
  for (const d of parts.dumps ?? []) {
    const u = nothingCollected(d);
    if (u) uncollected.push(u);
    const r = auditNodeDump(d, opts);
    findings.push(...r.findings);
    notCheckedAll.push(...r.notChecked);
  }
  if (parts.cluster) findings.push(...auditClusterState(parts.cluster, opts).findings);
  else
    notCheckedAll.push({
      node: 'cluster',
      category: 'api',
      what: 'API-level leftovers (CRDs, namespaces, RBAC, webhooks, APIService, IPPools, node annotations/conditions)',
      reason: 'no cluster.json (API state) available',
    });
  // nothing audited at all (no node, no API state) is not "clean": the audit could not look
  // (docs/contracts.md: an unavailable command is "not checked", never clean)
  const nothingAudited = (parts.dumps ?? []).length === 0 && !parts.cluster;
  return {
    clean: !nothingAudited && uncollected.length === 0 && findings.every((f) => f.allowed === true),
    findings,
    notChecked: notCheckedAll,
    complete: !nothingAudited && uncollected.length === 0,
    uncollected,
  };
}

/**
 * A node whose dump holds no command output at all (every `docker exec` failed: container gone, daemon
 * down): its checks would all be "not checked", and an audit of it must not read as clean. The baseline
 * is not counted: it was taken earlier, not from the node now.
 */
export function nothingCollected(d: NodeDump): Uncollected | undefined {
  const collected = Object.keys(d.files).filter(
    (f) => f !== BASELINE_FILE && d.files[f as DumpFile] !== undefined,
  );
  if (collected.length > 0) return undefined;
  const reasons = [...new Set(Object.values(d.notes.unavailable ?? {}).filter(Boolean))];
  return {
    node: d.node,
    reason: reasons.length
      ? reasons.slice(0, 3).join('; ')
      : 'the dump holds no command output (no file of the node dump contract)',
  };
}
