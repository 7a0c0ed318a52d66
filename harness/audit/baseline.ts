/**
 * The known-leftovers baseline (known-leftovers.yaml): what the upstream uninstall is known to leave, per
 * install path and Calico version, each entry with its upstream source and whether a lab run has seen it.
 * Loaded and validated here (a wrong field is an error naming it), matched against a cell, and used by the
 * upstream verdict (verdict.ts): a finding no applicable entry matches is new, an applicable entry no
 * finding matches is fixed.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { ENCAPSULATIONS, INSTALL_PATHS } from '../config/catalogue.js';
import { BGP_MODES, type Cell, TOPOLOGIES } from '../config/cell.js';
import { BASELINE_EVIDENCE, type BaselineEvidence, type Finding } from '../model/audit.js';
import { RULE_IDS } from './registry.js';

/** The cell fields an entry can be limited to, with their allowed values. */
const WHEN_FIELDS = {
  install: INSTALL_PATHS,
  encapsulation: ENCAPSULATIONS,
  bgp: BGP_MODES,
  topology: TOPOLOGIES,
} as const satisfies Record<string, readonly string[]>;
type WhenField = keyof typeof WHEN_FIELDS;

export interface BaselineWhen {
  install?: string[];
  encapsulation?: string[];
  bgp?: string[];
  topology?: string[];
  /** by minor version, inclusive: `v3.30` covers every v3.30.x; `master` is newer than any release */
  versions?: { from?: string; to?: string };
}

export interface BaselineEntry {
  id: string;
  rule: string;
  /** finding-name globs (any of them); none = any name */
  name: string[];
  /** evidence globs (any of them); none = any */
  detail: string[];
  when: BaselineWhen;
  /** why it may not appear; an optional entry is never reported as fixed */
  optional?: string;
  why: string;
  source: string;
  evidence: BaselineEvidence;
  /** for seen-on-lab: which lab run */
  seen?: string;
}

export const BASELINE_FILE_URL = new URL('./known-leftovers.yaml', import.meta.url);
export const BASELINE_PATH = 'harness/audit/known-leftovers.yaml';

let cached: BaselineEntry[] | undefined;

/** The repository's baseline, validated (cached). */
export function knownLeftovers(): BaselineEntry[] {
  cached ??= parseBaseline(readFileSync(fileURLToPath(BASELINE_FILE_URL), 'utf8'), BASELINE_PATH);
  return cached;
}

/** Parses and validates baseline YAML; any wrong field throws an Error naming the entry and the field. */
export function parseBaseline(text: string, where = BASELINE_PATH): BaselineEntry[] {
  const doc = parse(text) as unknown;
  const bad = (field: string, want: string): never => {
    throw new Error(`${where}: ${field} must be ${want}`);
  };
  if (!isObj(doc) || !Array.isArray(doc.entries)) return bad('entries', 'a list');
  const ids = new Set<string>();
  return doc.entries.map((raw: unknown, i: number): BaselineEntry => {
    const at = `entries[${i}]`;
    if (!isObj(raw)) return bad(at, 'a mapping');
    const known = ['id', 'rule', 'name', 'detail', 'when', 'optional', 'why', 'source', 'evidence', 'seen'];
    for (const k of Object.keys(raw)) if (!known.includes(k)) bad(`${at}.${k}`, `one of ${known.join(', ')}`);
    const str = (k: string, required = true): string | undefined => {
      const v = raw[k];
      if (v === undefined && !required) return undefined;
      if (typeof v !== 'string' || v.trim() === '') return bad(`${at}.${k}`, 'a non-empty string');
      return v;
    };
    const id = str('id') as string;
    const name = `${at} (${id})`;
    if (ids.has(id)) bad(`${name}.id`, 'unique');
    ids.add(id);
    const rule = str('rule') as string;
    if (!RULE_IDS.includes(rule)) bad(`${name}.rule`, `an audit rule (${RULE_IDS.join(', ')})`);
    const globs = (k: string): string[] => {
      const v = raw[k];
      if (v === undefined) return [];
      const list = Array.isArray(v) ? v : [v];
      if (list.length === 0 || !list.every((x) => typeof x === 'string' && x !== ''))
        return bad(`${name}.${k}`, 'a glob or a list of globs');
      return list as string[];
    };
    const evidence = str('evidence') as string;
    if (!(BASELINE_EVIDENCE as readonly string[]).includes(evidence))
      bad(`${name}.evidence`, BASELINE_EVIDENCE.join(' or '));
    const seen = str('seen', false);
    if (evidence === 'seen-on-lab' && !seen)
      bad(`${name}.seen`, 'the lab run that saw it (evidence: seen-on-lab)');
    const optional = str('optional', false);
    return {
      id,
      rule,
      name: globs('name'),
      detail: globs('detail'),
      when: parseWhen(raw.when, `${name}.when`, bad),
      ...(optional ? { optional } : {}),
      why: str('why') as string,
      source: str('source') as string,
      evidence: evidence as BaselineEvidence,
      ...(seen ? { seen } : {}),
    };
  });
}

function parseWhen(v: unknown, at: string, bad: (field: string, want: string) => never): BaselineWhen {
  if (v === undefined) return {};
  if (!isObj(v)) return bad(at, 'a mapping');
  const out: BaselineWhen = {};
  for (const [k, val] of Object.entries(v)) {
    if (k === 'versions') {
      if (!isObj(val)) bad(`${at}.versions`, 'a mapping with from and/or to');
      const range = val as Record<string, unknown>;
      for (const [rk, rv] of Object.entries(range)) {
        if (rk !== 'from' && rk !== 'to') bad(`${at}.versions.${rk}`, 'from or to');
        if (typeof rv !== 'string' || minorOf(rv) === undefined)
          bad(`${at}.versions.${rk}`, 'a minor version like v3.30, or master');
      }
      out.versions = {
        ...(typeof range.from === 'string' ? { from: range.from } : {}),
        ...(typeof range.to === 'string' ? { to: range.to } : {}),
      };
      continue;
    }
    if (!(k in WHEN_FIELDS))
      bad(`${at}.${k}`, `one of ${[...Object.keys(WHEN_FIELDS), 'versions'].join(', ')}`);
    const allowed = WHEN_FIELDS[k as WhenField] as readonly string[];
    if (!Array.isArray(val) || val.length === 0 || !val.every((x) => allowed.includes(String(x))))
      bad(`${at}.${k}`, `a list of ${allowed.join(', ')}`);
    out[k as WhenField] = (val as unknown[]).map(String);
  }
  return out;
}

/** v3.30 / v3.30.7 → 30; master → Infinity (newer than every release). */
export function minorOf(version: string): number | undefined {
  if (version === 'master') return Number.POSITIVE_INFINITY;
  const m = /^v3\.(\d+)(\.\d+)?$/.exec(version);
  return m ? Number(m[1]) : undefined;
}

/** Whether an entry applies to a cell (every condition of `when` holds). */
export function appliesTo(entry: BaselineEntry, cell: Cell): boolean {
  for (const field of Object.keys(WHEN_FIELDS) as WhenField[]) {
    const values = entry.when[field];
    if (values && !values.includes(String(cell[field]))) return false;
  }
  const range = entry.when.versions;
  if (range) {
    const v = minorOf(cell.calicoVersion);
    if (v === undefined) return false;
    if (range.from !== undefined && v < (minorOf(range.from) as number)) return false;
    if (range.to !== undefined && v > (minorOf(range.to) as number)) return false;
  }
  return true;
}

export function entriesFor(
  cell: Cell,
  entries: readonly BaselineEntry[] = knownLeftovers(),
): BaselineEntry[] {
  return entries.filter((e) => appliesTo(e, cell));
}

export function globMatch(pattern: string, text: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
    's',
  );
  return re.test(text);
}

/** Whether a finding is the leftover an entry describes. */
export function entryMatches(entry: BaselineEntry, f: Finding): boolean {
  if (f.rule !== entry.rule) return false;
  if (entry.name.length && !entry.name.some((g) => globMatch(g, f.name))) return false;
  if (entry.detail.length && !entry.detail.some((g) => globMatch(g, f.detail))) return false;
  return true;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
