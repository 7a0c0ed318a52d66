/** A leftover the audit found (the `audit --output json` contract, plus evidence and context). */
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
