/**
 * harness/audit/README.md's rule table is for people; the registry (registry.ts) is what runs. Every rule
 * id of the registry is in the table, in the row of its category, and the table names no rule the registry
 * does not have.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RULES } from '../../../harness/audit/registry.js';

const README = readFileSync(
  join(resolve(import.meta.dirname, '../../..'), 'harness/audit/README.md'),
  'utf8',
);

/** The rows of the table under "## Rules": rule ids (backquoted in the first column) → the category column. */
function tableRows(): Map<string, string> {
  const section = README.slice(README.indexOf('## Rules'));
  const rows = new Map<string, string>();
  for (const line of section.split('\n')) {
    const cols = line.split('|').map((c) => c.trim());
    if (cols.length < 4 || !cols[1]!.startsWith('`')) continue;
    for (const m of cols[1]!.matchAll(/`([\w-]+)`/g)) rows.set(m[1]!, cols[2]!);
  }
  return rows;
}

describe("the audit README's rule table", () => {
  const rows = tableRows();

  it('lists every rule of the registry under its category', () => {
    expect(rows.size).toBeGreaterThan(0);
    for (const r of RULES) expect(rows.get(r.id), `${r.id} (${r.category})`).toBe(r.category);
  });

  it('lists no rule the registry does not have', () => {
    const ids = new Set(RULES.map((r) => r.id));
    expect([...rows.keys()].filter((id) => !ids.has(id))).toEqual([]);
  });
});
