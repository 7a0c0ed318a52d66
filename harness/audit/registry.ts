/**
 * The audit's rule registry: every node rule (node-rules.ts) and API rule (api-rules.ts), one entry each.
 * `--allow` (audit, run, upgrade) and the known-leftovers baseline name rules by id and are validated here,
 * so a mistyped rule is a usage error that lists the valid ones instead of an allow-list that allows nothing.
 */
import { UsageError } from '../errors.js';
import { API_RULES } from './api-rules.js';
import { NODE_RULES } from './node-rules.js';
import type { AuditRule } from './rule.js';

export const RULES: readonly AuditRule[] = [...NODE_RULES, ...API_RULES];

/** Every rule id the audit knows. */
export const RULE_IDS: readonly string[] = RULES.map((r) => r.id);

/** `--allow by-design` allows every finding of a rule marked byDesign. */
export const ALLOW_KEYWORDS = ['by-design'] as const;

/** Rules whose findings Calico leaves by design (annotations and the NetworkUnavailable condition). */
export const BY_DESIGN_RULES: readonly string[] = RULES.filter((r) => r.byDesign).map((r) => r.id);

/** A bare word (letters, digits, hyphens) names a rule; anything else is a finding-name pattern. */
const RULE_WORD = /^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$/;

/**
 * Parses and validates a comma-separated `--allow` value. Each item is a rule id, `by-design`, or a
 * finding-name pattern (`*` matches any run of characters). A bare word must be a rule id or `by-design`:
 * anything else there is a mistyped rule, a UsageError (exit 2) listing the valid ones. A name pattern is
 * anything with another character (`vxlan.calico`, `/opt/cni/bin/*`), or any text after `name:`
 * (`name:cali40all-ipam-pools`).
 */
export function parseAllowList(value: string | undefined, flag = '--allow'): string[] {
  if (value === undefined) return [];
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0)
    throw new UsageError(
      `${flag}: empty list; give rule ids or finding names, comma-separated (valid rules: ${validRules()})`,
      'allow',
    );
  for (const item of items) {
    if (item.startsWith('name:')) {
      if (item.length === 'name:'.length)
        throw new UsageError(`${flag}: "name:" needs a finding-name pattern after it`, 'allow');
      continue;
    }
    if (
      RULE_WORD.test(item) &&
      !RULE_IDS.includes(item) &&
      !(ALLOW_KEYWORDS as readonly string[]).includes(item)
    )
      throw new UsageError(
        `${flag}: ${JSON.stringify(item)} is not an audit rule; valid rules: ${validRules()}. ` +
          'A finding name is a pattern with a dot, slash or * (vxlan.calico, /opt/cni/bin/*), or name:PATTERN',
        'allow',
      );
  }
  return items;
}

function validRules(): string {
  return [...RULE_IDS, ...ALLOW_KEYWORDS].join(', ');
}
