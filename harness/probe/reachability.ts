/**
 * The reachability vocabulary of the Kubernetes netpol e2e (test/e2e/network/netpol: Model, Peer,
 * TruthTable, Reachability), rebuilt for this harness: expectations are data, observations are verdicts
 * (not booleans), and failures print the expected, observed and difference grids. The grids are also kept
 * as data (ReachabilityGrid) for the reports.
 */
import type { ProbeRecord, Protocol, ReachabilityGrid, Verdict } from './types.js';

/** A pod (or named endpoint) that sends or receives probes: "namespace/pod". */
export interface Peer {
  namespace: string;
  pod: string;
}

export function peerKey(p: Peer): string {
  return `${p.namespace}/${p.pod}`;
}

export interface ModelPort {
  port: number;
  protocol: Protocol;
}

/** Namespaces × pods × ports × protocols: the space a reachability table covers. */
export class Model {
  constructor(
    readonly peers: Peer[],
    readonly ports: ModelPort[],
  ) {
    const keys = peers.map(peerKey);
    const dup = keys.find((k, i) => keys.indexOf(k) !== i);
    if (dup) throw new Error(`model.peers: ${dup} appears twice`);
    if (ports.length === 0) throw new Error('model.ports: at least one port/protocol is needed');
  }

  keys(): string[] {
    return this.peers.map(peerKey);
  }
}

/**
 * A peer filter in an expectation: an exact "ns/pod", "ns/*", "*\/pod" or "*" (the e2e's ExpectPeer with
 * empty fields as wildcards).
 */
export function matchesPeer(filter: string, key: string): boolean {
  if (filter === '*') return true;
  const [fns, fpod] = filter.split('/');
  const [kns, kpod] = key.split('/');
  return (fns === '*' || fns === kns) && (fpod === '*' || fpod === kpod);
}

/** from × to → value, with a default for cells nobody set. */
export class TruthTable<T> {
  private readonly cells = new Map<string, Map<string, T>>();

  constructor(
    readonly froms: string[],
    readonly tos: string[],
    readonly defaultValue: T,
  ) {}

  set(from: string, to: string, value: T): void {
    this.check(from, to);
    let row = this.cells.get(from);
    if (!row) {
      row = new Map();
      this.cells.set(from, row);
    }
    row.set(to, value);
  }

  get(from: string, to: string): T {
    return this.cells.get(from)?.get(to) ?? this.defaultValue;
  }

  has(from: string, to: string): boolean {
    return this.cells.get(from)?.has(to) ?? false;
  }

  /** Sets every cell whose source matches `fromFilter` and destination matches `toFilter`. */
  setMatching(fromFilter: string, toFilter: string, value: T): void {
    for (const f of this.froms) {
      if (!matchesPeer(fromFilter, f)) continue;
      for (const t of this.tos) if (matchesPeer(toFilter, t)) this.set(f, t, value);
    }
  }

  private check(from: string, to: string): void {
    if (!this.froms.includes(from)) throw new Error(`truth table: unknown source peer ${from}`);
    if (!this.tos.includes(to)) throw new Error(`truth table: unknown destination peer ${to}`);
  }
}

/** Verdicts that mean "the network did not carry it" (policy drop → timeout, reject → refused/unreachable). */
export function isDenied(v: Verdict): boolean {
  return v === 'timeout' || v === 'refused' || v === 'unreachable';
}

/** Whether an observed verdict agrees with an expectation (dns-failure and error never agree). */
export function agrees(expected: boolean, observed: Verdict | undefined): boolean {
  if (observed === undefined) return false;
  return expected ? observed === 'connected' : isDenied(observed);
}

export interface ReachabilitySummary {
  right: number;
  wrong: number;
  ignored: number;
  wrongCells: { from: string; to: string; expected: boolean; observed: Verdict | undefined }[];
}

/** Expected (booleans) and observed (verdicts) for one port/protocol of a model. */
export class Reachability {
  readonly expected: TruthTable<boolean>;
  readonly observed: TruthTable<Verdict | undefined>;

  constructor(
    readonly peers: string[],
    readonly port: number,
    readonly protocol: Protocol,
    defaultExpect: boolean,
    readonly froms: string[] = peers,
    readonly tos: string[] = peers,
  ) {
    this.expected = new TruthTable<boolean>(froms, tos, defaultExpect);
    this.observed = new TruthTable<Verdict | undefined>(froms, tos, undefined);
  }

  expect(from: string, to: string, allowed: boolean): this {
    this.expected.setMatching(from, to, allowed);
    return this;
  }

  expectAllIngress(to: string, allowed: boolean): this {
    return this.expect('*', to, allowed);
  }

  expectAllEgress(from: string, allowed: boolean): this {
    return this.expect(from, '*', allowed);
  }

  observe(from: string, to: string, verdict: Verdict): this {
    this.observed.set(from, to, verdict);
    return this;
  }

  /** Takes the records of this port/protocol (others are ignored). */
  observeRecords(records: readonly ProbeRecord[]): this {
    for (const r of records) {
      if (r.port === this.port && r.protocol === this.protocol) this.observe(r.from, r.to, r.verdict);
    }
    return this;
  }

  /** Right/wrong per probed cell; loopback (from = to) is ignored when asked, as the e2e does. */
  summary(ignoreLoopback = true): ReachabilitySummary {
    const s: ReachabilitySummary = { right: 0, wrong: 0, ignored: 0, wrongCells: [] };
    for (const f of this.froms) {
      for (const t of this.tos) {
        if ((ignoreLoopback && f === t) || !this.observed.has(f, t)) {
          s.ignored++;
          continue;
        }
        const e = this.expected.get(f, t);
        const o = this.observed.get(f, t);
        if (agrees(e, o)) s.right++;
        else {
          s.wrong++;
          s.wrongCells.push({ from: f, to: t, expected: e, observed: o });
        }
      }
    }
    return s;
  }

  toGrid(title: string): ReachabilityGrid {
    const expected: ReachabilityGrid['expected'] = {};
    const observed: ReachabilityGrid['observed'] = {};
    for (const f of this.froms) {
      expected[f] = {};
      observed[f] = {};
      for (const t of this.tos) {
        (expected[f] as Record<string, boolean>)[t] = this.expected.get(f, t);
        (observed[f] as Record<string, Verdict | undefined>)[t] = this.observed.get(f, t);
      }
    }
    const grid: ReachabilityGrid = {
      title,
      port: this.port,
      protocol: this.protocol,
      peers: [...new Set([...this.froms, ...this.tos])],
      expected,
      observed,
    };
    return grid;
  }
}

/** Glyph per verdict in text grids (cyclonus style): `.` connected, X timeout, R refused, … */
export const VERDICT_GLYPH: Record<Verdict, string> = {
  connected: '.',
  timeout: 'X',
  refused: 'R',
  unreachable: 'U',
  'dns-failure': 'D',
  error: 'E',
};

/**
 * Three text grids (expected, observed, difference) for one port/protocol. Rows are sources, columns
 * destinations, both numbered with a legend so long pod names stay readable.
 */
export function formatGrids(grid: ReachabilityGrid): string {
  const froms = Object.keys(grid.expected).length > 0 ? Object.keys(grid.expected) : grid.peers;
  const toSet = new Set<string>();
  for (const f of froms) for (const t of Object.keys(grid.expected[f] ?? {})) toSet.add(t);
  const tos = toSet.size > 0 ? [...toSet] : grid.peers;
  const all = [...new Set([...froms, ...tos])];
  const idx = (p: string) => String(all.indexOf(p) + 1);
  const w = Math.max(2, String(all.length).length + 1);
  const header = `${' '.repeat(w + 1)}${tos.map((t) => idx(t).padStart(w)).join('')}`;
  const table = (name: string, cell: (f: string, t: string) => string) =>
    [
      `  ${name}`,
      `  ${header}`,
      ...froms.map((f) => `  ${idx(f).padStart(w)} ${tos.map((t) => cell(f, t).padStart(w)).join('')}`),
    ].join('\n');
  const exp = (f: string, t: string) => grid.expected[f]?.[t];
  const obs = (f: string, t: string) => grid.observed[f]?.[t];
  let wrong = 0;
  const diff = (f: string, t: string) => {
    const o = obs(f, t);
    if (o === undefined) return '?';
    const e = exp(f, t);
    if (agrees(e ?? false, o)) return '.';
    wrong++;
    return 'X';
  };
  const diffTable = table('difference (X = wrong)', diff);
  return [
    `${grid.title} — ${grid.protocol}/${grid.port}: ${wrong} wrong`,
    `  peers: ${all.map((p) => `${idx(p)}=${p}`).join('  ')}`,
    `  legend: expected . allow, X deny; observed ${Object.entries(VERDICT_GLYPH)
      .map(([v, g]) => `${g} ${v}`)
      .join(', ')}, ? not probed`,
    table('expected', (f, t) => {
      const e = exp(f, t);
      return e === undefined ? '?' : e ? '.' : 'X';
    }),
    table('observed', (f, t) => {
      const o = obs(f, t);
      return o === undefined ? '?' : VERDICT_GLYPH[o];
    }),
    diffTable,
  ].join('\n');
}

/**
 * Builds one grid per port/protocol from records, with an expectation function. Sources and destinations
 * are taken from `peers` in that order when they appear in the records.
 */
export function gridsFromRecords(
  records: readonly ProbeRecord[],
  peers: readonly string[],
  expect: (from: string, to: string, port: number, protocol: Protocol) => boolean,
  title = 'reachability',
): ReachabilityGrid[] {
  const combos = new Map<string, { port: number; protocol: Protocol }>();
  for (const r of records) combos.set(`${r.protocol}/${r.port}`, { port: r.port, protocol: r.protocol });
  return [...combos.values()].map(({ port, protocol }) => {
    const mine = records.filter((r) => r.port === port && r.protocol === protocol);
    const froms = peers.filter((p) => mine.some((r) => r.from === p));
    const tos = peers.filter((p) => mine.some((r) => r.to === p));
    for (const r of mine) {
      if (!froms.includes(r.from)) froms.push(r.from);
      if (!tos.includes(r.to)) tos.push(r.to);
    }
    const reach = new Reachability([...new Set([...froms, ...tos])], port, protocol, true, froms, tos);
    for (const f of froms) for (const t of tos) reach.expected.set(f, t, expect(f, t, port, protocol));
    reach.observeRecords(mine);
    return reach.toGrid(title);
  });
}

/** Whether every probed cell of a grid agrees with its expectation. */
export function gridPasses(grid: ReachabilityGrid): boolean {
  for (const [f, row] of Object.entries(grid.observed)) {
    for (const [t, o] of Object.entries(row)) {
      if (o === undefined) continue;
      if (!agrees(grid.expected[f]?.[t] ?? false, o)) return false;
    }
  }
  return true;
}
