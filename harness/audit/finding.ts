/** A leftover the audit found (the `audit --output json` contract, plus evidence and context). */
export const FINDING_CATEGORIES = [
  'interface',
  'route',
  'iptables',
  'nftables',
  'ipset',
  'bpf',
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
}

/** A check the audit could not make (command missing on the node): never clean, never a finding. */
export interface NotChecked {
  node: string;
  category: FindingCategory;
  what: string;
  reason: string;
}

export interface AuditReport {
  clean: boolean;
  findings: Finding[];
  notChecked: NotChecked[];
}
