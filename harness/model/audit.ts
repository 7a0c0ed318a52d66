/**
 * The audit's part of the results model: the findings (the `audit --output json` contract, plus evidence and
 * context) and both verdicts of a cell. The audit (audit/) writes it; the pipeline and the reports read it.
 */

export const FINDING_CATEGORIES = [
  'interface',
  'route',
  'iptables',
  'nftables',
  'ipset',
  'bpf',
  'mount',
  'file',
  'api',
] as const;
export type FindingCategory = (typeof FINDING_CATEGORIES)[number];

export interface Finding {
  /** node name, or "cluster" for API-level findings */
  node: string;
  category: FindingCategory;
  /** what is left: the device, route, chain, set, table, path or object */
  name: string;
  /** the evidence: the exact line or fields seen */
  detail: string;
  /** the exact command that removes it */
  remediation: string;
  /** why it matters */
  why?: string;
  /** Calico keeps this by design (node annotations, the NetworkUnavailable condition) */
  byDesign?: boolean;
  /** allowed by configuration: reported, but does not make the audit unclean */
  allowed?: boolean;
  /** the rule that found it (e.g. `tunl0-configured`, `node-annotations`); `--allow` accepts rule ids */
  rule?: string;
  /**
   * the known-leftovers baseline entry this finding matched (harness/audit/known-leftovers.yaml): an
   * expected leftover of the upstream uninstall, reported but not counted by the upstream verdict
   */
  baseline?: string;
  /**
   * the remediation as argv steps, run in this order inside the node (`docker exec`); `via: 'ipset'` steps
   * run with an `ipset` in the node's network namespace (the node's own, or the helper container's). The
   * complete uninstall runs exactly these. Node findings only; never written into results.json.
   */
  fix?: FixStep[];
}

export interface FixStep {
  argv: string[];
  /** stdin for the command (an iptables-restore script) */
  input?: string;
  via?: 'ipset';
}

/** A check the audit could not make (command missing on the node): never clean, never a finding. */
export interface NotChecked {
  node: string;
  category: FindingCategory;
  what: string;
  reason: string;
}

/** A node the audit could not look at: not one of its dump commands produced a file. */
export interface Uncollected {
  node: string;
  /** why, from the collector's notes (e.g. the docker exec error) */
  reason: string;
}

export interface AuditReport {
  /** no open finding AND every node could be audited (a node with nothing collected is never clean) */
  clean: boolean;
  findings: Finding[];
  notChecked: NotChecked[];
  /**
   * false when some node produced no dump file at all, or when there was neither a node dump nor cluster
   * state to audit. Individual checks that could not be made (notChecked) do not make it false.
   */
  complete: boolean;
  /** nodes where nothing could be collected (each makes the audit unclean) */
  uncollected?: Uncollected[];
}

/** How a known-leftovers baseline entry is known (audit/baseline.ts). */
export const BASELINE_EVIDENCE = ['upstream-source-only', 'seen-on-lab'] as const;
export type BaselineEvidence = (typeof BASELINE_EVIDENCE)[number];

/** An applicable baseline entry that no finding matched (as reported). */
export interface BaselineMiss {
  id: string;
  rule: string;
  name?: string[];
  why: string;
  source: string;
  evidence: BaselineEvidence;
}

export interface UpstreamAudit {
  /** findings carry `baseline` (the entry they matched) and `allowed` */
  report: AuditReport;
  /** the baseline file and the ids of the entries that apply to the cell */
  baseline: { file: string; applicable: string[] };
  /** applicable, non-optional entries no finding matched: upstream fixed it, update the baseline */
  fixed: BaselineMiss[];
  /** complete, and no new (unexpected, not allowed) finding */
  passed: boolean;
}

export interface CompleteAudit {
  report: AuditReport;
  /** what the kernel keeps and the audit does not count (the fallback tunl0), per node */
  kernelKept: string[];
  /** complete, and every finding allowed */
  passed: boolean;
}

/** Both audits of a cell, side by side (CellResult.audit). */
export interface CellAudit {
  /** left by the upstream uninstall: expected / new / fixed against the baseline */
  afterUpstreamUninstall?: UpstreamAudit;
  /** after the complete uninstall: must be clean */
  afterCompleteUninstall?: CompleteAudit;
}
