/**
 * One entry of the audit's rule registry: what a rule matches, why it matters, how its findings are
 * removed and where upstream says so. Node rules (node-rules.ts) read the node dump; API rules
 * (api-rules.ts) read cluster.json. `--allow` and the known-leftovers baseline name rules by `id`, and are
 * validated against the registry (registry.ts).
 */
import type { FindingCategory } from '../model/audit.js';

export interface AuditRule {
  /** stable id: what findings carry as `rule`, what `--allow` and the baseline name */
  id: string;
  scope: 'node' | 'api';
  category: FindingCategory;
  /** what it matches, in words */
  matches: string;
  /** why a match matters (a finding may say more about its own case) */
  why: string;
  /** how its findings are removed, in words (each finding carries the exact command) */
  remediation: string;
  /** the upstream code, manifest or issue that says Calico leaves this */
  source: string;
  /** Calico keeps it on purpose (node annotations, the NetworkUnavailable condition) */
  byDesign?: boolean;
}
