/**
 * The policy oracle: the expected truth table for a model (namespaces × pods × ports) and a set of
 * policies. Pure code, no I/O.
 *
 * Kubernetes NetworkPolicy semantics (kubernetes.io/docs/concepts/services-networking/network-policies and
 * the networking.k8s.io/v1 API reference):
 * - `policyTypes` defaults to Ingress always, plus Egress when the policy has egress rules (an empty
 *   `egress: []` is no rules). A listed type with no rules isolates that direction and allows nothing.
 * - A pod is isolated for a direction when any policy of that type selects it (`podSelector` in the
 *   policy's namespace; `{}` = every pod of the namespace); an isolated pod allows the union of every
 *   selecting policy's rules; a non-isolated pod allows everything.
 * - A connection is allowed when the source's egress AND the destination's ingress allow it.
 * - Rule peers: absent or empty `from`/`to` = everyone; several peers OR; a peer's `podSelector` alone =
 *   pods of the policy's namespace; `namespaceSelector` alone = every pod of the selected namespaces; both
 *   = AND; `ipBlock` (cidr minus except) matches pod IPs. Absent or empty `ports` = all ports; a port's
 *   protocol defaults to TCP; no `port` = every port of that protocol; `endPort` makes a range; a named
 *   port resolves on the destination pod (in the model, every pod names every port the same way).
 *
 * Calico semantics (docs.tigera.io/calico/latest/reference/resources/{networkpolicy,globalnetworkpolicy,
 * tier} and network-policy/policy-tiers/tiered-policy):
 * - Every policy of the modelled set sits in the `default` tier; Kubernetes NetworkPolicies are converted by
 *   Calico into policies of that tier with order 1000. Policies apply in ascending `order`; a policy without
 *   `order` comes last; equal orders are broken by name (Felix sorts by order, then name; Kubernetes ones are
 *   named `knp.default.<name>`). Do not write scenarios that depend on that tie.
 * - For each direction of an endpoint, the policies that apply to it are evaluated in order, each rule in
 *   order: the first rule that matches decides; `Allow` and `Deny` are final; `Log` continues; `Pass` skips
 *   the rest of the tier, and with no later tier that applies the packet goes to the endpoint's profile,
 *   which for a Kubernetes namespace (`kns.<ns>`) allows everything (libcalico-go's k8s conversion
 *   `NamespaceToProfile` gives that profile a single Allow rule in each direction; docs _rule.mdx: "Pass …
 *   jump[s] to the first profile assigned to the endpoint").
 * - If at least one policy applies to the endpoint in that direction and no rule matched, the tier's default
 *   action drops the packet ("If the Tier applies to the endpoint, but takes no action on the packet the
 *   packet is dropped"). If none applies, the tier is skipped and the profile allows it.
 * - `types` defaults to Ingress, or Egress when there are only egress rules, or both when both are present.
 * - A NetworkPolicy applies to endpoints of its namespace matching `selector` (default all()); a
 *   GlobalNetworkPolicy to endpoints of namespaces matching its `namespaceSelector` matching `selector`.
 * - Entity rules (source/destination): all given criteria AND. `selector`/`notSelector` are scoped to the
 *   rule's `namespaceSelector` if set, else to the policy's namespace (NetworkPolicy) or to all namespaces
 *   (GlobalNetworkPolicy). `namespaceSelector` alone matches every endpoint of the selected namespaces.
 *   `notSelector` scopes the rule the same way and excludes the in-scope endpoints it matches (only the
 *   policy's own namespace remains for a namespaced policy's `notSelector` alone); `nets`/`notNets` match the endpoint IP. No
 *   criteria = every endpoint. Namespaces carry `projectcalico.org/name`; pods carry
 *   `projectcalico.org/namespace` and `projectcalico.org/orchestrator: k8s` for selectors.
 *
 * Scale: selections, peer sets and results are bitsets over pods (32 pods a word). Each endpoint walks only
 * the policies that select it, each rule costing N/32 word operations per port, so 1,000 pods × 100
 * policies × 4 ports stays well inside the 2 s budget (bench/oracle.bench.ts).
 */

import type { Protocol, ReachabilityGrid } from '../model/connectivity.js';
import { cidrContainsIp, isIpv6Text, mustParseIpv4Cidr, parseIpv4 } from '../net/cidr.js';
import { compileCalicoSelector, compileLabelSelector, type Labels } from './selector.js';
import {
  type CalicoAction,
  type CalicoEntityRule,
  type CalicoPolicy,
  type CalicoRule,
  isCalicoPolicy,
  type ModelPort,
  type NetworkPolicy,
  type NetworkPolicyPeer,
  type NetworkPolicyPort,
  type PolicyDocument,
  type PolicyModel,
  podKey,
} from './types.js';

export const K8S_POLICY_ORDER = 1000;

export interface TruthTableEntry {
  from: string;
  to: string;
  port: number;
  protocol: Protocol;
  /** the source side (its egress policies) allows it */
  egress: boolean;
  /** the destination side (its ingress policies) allows it */
  ingress: boolean;
  allowed: boolean;
}

type Bits = Uint32Array;

/** The expected table: bit matrices per port, rows by source (bit d of row s: s → d). */
export class TruthTable {
  readonly words: number;
  constructor(
    /** "namespace/pod", in model order */
    readonly peers: readonly string[],
    readonly ports: readonly ModelPort[],
    private readonly egressBits: readonly Bits[],
    private readonly ingressBits: readonly Bits[],
    private readonly allowedBits: readonly Bits[],
  ) {
    this.words = (peers.length + 31) >>> 5;
  }

  private bit(m: readonly Bits[], from: number, to: number, portIndex: number): boolean {
    return ((m[portIndex]![from * this.words + (to >>> 5)]! >>> (to & 31)) & 1) === 1;
  }
  egress(from: number, to: number, portIndex: number): boolean {
    return this.bit(this.egressBits, from, to, portIndex);
  }
  ingress(from: number, to: number, portIndex: number): boolean {
    return this.bit(this.ingressBits, from, to, portIndex);
  }
  allowed(from: number, to: number, portIndex: number): boolean {
    return this.bit(this.allowedBits, from, to, portIndex);
  }

  /** every ordered pair of distinct pods × every port */
  get size(): number {
    const n = this.peers.length;
    return n * (n - 1) * this.ports.length;
  }

  portIndex(port: number, protocol: Protocol): number {
    return this.ports.findIndex((p) => p.port === port && p.protocol === protocol);
  }

  /** One entry by names; undefined for an unknown pod or port or a self pair. */
  get(from: string, to: string, port: number, protocol: Protocol = 'TCP'): TruthTableEntry | undefined {
    const s = this.peers.indexOf(from);
    const d = this.peers.indexOf(to);
    const q = this.portIndex(port, protocol);
    if (s < 0 || d < 0 || q < 0 || s === d) return undefined;
    return this.entry(s, d, q);
  }

  entry(s: number, d: number, q: number): TruthTableEntry {
    const p = this.ports[q]!;
    return {
      from: this.peers[s]!,
      to: this.peers[d]!,
      port: p.port,
      protocol: p.protocol,
      egress: this.egress(s, d, q),
      ingress: this.ingress(s, d, q),
      allowed: this.allowed(s, d, q),
    };
  }

  /** Entries in contract order: by source, then destination, then port. */
  *entries(): Generator<TruthTableEntry> {
    const n = this.peers.length;
    for (let s = 0; s < n; s++)
      for (let d = 0; d < n; d++) {
        if (s === d) continue;
        for (let q = 0; q < this.ports.length; q++) yield this.entry(s, d, q);
      }
  }

  /** How many entries are allowed (all ports). */
  allowedCount(): number {
    let c = 0;
    const n = this.peers.length;
    for (let q = 0; q < this.ports.length; q++)
      for (let s = 0; s < n; s++) for (let d = 0; d < n; d++) if (s !== d && this.allowed(s, d, q)) c++;
    return c;
  }

  /** The expected side of one port's reachability grid (observed left empty for the prober to fill). */
  grid(portIndex: number, title?: string): ReachabilityGrid {
    const p = this.ports[portIndex]!;
    const expected: Record<string, Record<string, boolean>> = {};
    this.peers.forEach((from, s) => {
      const row: Record<string, boolean> = {};
      this.peers.forEach((to, d) => {
        if (s !== d) row[to] = this.allowed(s, d, portIndex);
      });
      expected[from] = row;
    });
    return {
      title: title ?? `${p.protocol}/${p.port}`,
      port: p.port,
      protocol: p.protocol,
      peers: [...this.peers],
      expected,
      observed: {},
    };
  }

  grids(titlePrefix = ''): ReachabilityGrid[] {
    return this.ports.map((p, q) => this.grid(q, `${titlePrefix}${p.protocol}/${p.port}`));
  }
}

// ---------------------------------------------------------------------------------------------------------
// bitsets over pods

class PodSets {
  readonly n: number;
  readonly w: number;
  constructor(n: number) {
    this.n = n;
    this.w = (n + 31) >>> 5;
  }
  empty(): Bits {
    return new Uint32Array(this.w);
  }
  full(): Bits {
    const b = new Uint32Array(this.w).fill(0xffffffff);
    const rest = this.n & 31;
    if (rest !== 0) b[this.w - 1] = (1 << rest) - 1;
    return b;
  }
  of(pred: (i: number) => boolean): Bits {
    const b = this.empty();
    for (let i = 0; i < this.n; i++) if (pred(i)) b[i >>> 5]! |= 1 << (i & 31);
    return b;
  }
  static has(b: Bits, i: number): boolean {
    return ((b[i >>> 5]! >>> (i & 31)) & 1) === 1;
  }
}

// ---------------------------------------------------------------------------------------------------------
// compiled policies

type Action = Exclude<CalicoAction, never>;

interface CompiledRule {
  action: Action;
  /** per model port: 1 when the rule's protocol/port criteria match it */
  portMask: Uint8Array;
  /** the other end of the connection: sources for ingress, destinations for egress */
  peers: Bits;
  /** this end's own constraint (Calico destination criteria on ingress, source on egress); undefined = any */
  local?: Bits;
}

interface CompiledPolicy {
  order: number;
  sortName: string;
  selected: Bits;
  ingress?: CompiledRule[];
  egress?: CompiledRule[];
}

interface Context {
  model: PolicyModel;
  sets: PodSets;
  ports: readonly ModelPort[];
  podIps: number[];
  /** k8s view: labels as given */
  podLabels: Labels[];
  /** Calico view: plus projectcalico.org/namespace and orchestrator */
  podCalicoLabels: Labels[];
  nsLabels: Map<string, Labels>;
  nsCalicoLabels: Map<string, Labels>;
  podNs: string[];
  cache: Map<string, Bits>;
}

function context(model: PolicyModel): Context {
  const nsLabels = new Map<string, Labels>();
  const nsCalicoLabels = new Map<string, Labels>();
  for (const ns of model.namespaces) {
    // the API server labels every namespace with its name (Kubernetes ≥1.21)
    const k8s = { ...ns.labels, 'kubernetes.io/metadata.name': ns.name };
    nsLabels.set(ns.name, k8s);
    nsCalicoLabels.set(ns.name, { ...k8s, 'projectcalico.org/name': ns.name });
  }
  return {
    model,
    sets: new PodSets(model.pods.length),
    ports: model.ports,
    podIps: model.pods.map((p) => parseIpv4(p.ip) ?? -1),
    podLabels: model.pods.map((p) => p.labels),
    podCalicoLabels: model.pods.map((p) => ({
      ...p.labels,
      'projectcalico.org/namespace': p.namespace,
      'projectcalico.org/orchestrator': 'k8s',
    })),
    nsLabels,
    nsCalicoLabels,
    podNs: model.pods.map((p) => p.namespace),
    cache: new Map(),
  };
}

function cached(ctx: Context, key: string, make: () => Bits): Bits {
  let b = ctx.cache.get(key);
  if (!b) {
    b = make();
    ctx.cache.set(key, b);
  }
  return b;
}

/** pods whose namespace's labels satisfy `pred` */
function podsInNamespaces(
  ctx: Context,
  key: string,
  pred: (labels: Labels) => boolean,
  calico: boolean,
): Bits {
  return cached(ctx, `ns:${key}`, () => {
    const labels = calico ? ctx.nsCalicoLabels : ctx.nsLabels;
    const ok = new Map<string, boolean>();
    for (const [name, l] of labels) ok.set(name, pred(l));
    return ctx.sets.of((i) => ok.get(ctx.podNs[i]!) === true);
  });
}

function ipBlockSet(ctx: Context, cidr: string, except: readonly string[]): Bits {
  return cached(ctx, `ip:${cidr}|${except.join(',')}`, () => {
    // IPv6 blocks are valid input but never contain the model's IPv4 pod IPs
    if (isIpv6Text(cidr)) return ctx.sets.empty();
    const outer = mustParseIpv4Cidr(cidr);
    const holes = except.filter((e) => !isIpv6Text(e)).map((e) => mustParseIpv4Cidr(e));
    return ctx.sets.of((i) => {
      const ip = ctx.podIps[i]!;
      return cidrContainsIp(outer, ip) && !holes.some((h) => cidrContainsIp(h, ip));
    });
  });
}

function and(a: Bits, b: Bits): Bits {
  const out = new Uint32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! & b[i]!;
  return out;
}
function or(into: Bits, b: Bits): void {
  for (let i = 0; i < into.length; i++) into[i]! |= b[i]!;
}
function andNot(a: Bits, b: Bits): Bits {
  const out = new Uint32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! & ~b[i]!;
  return out;
}

// ---- Kubernetes ----

function k8sPeerSet(ctx: Context, policyNs: string, peer: NetworkPolicyPeer): Bits {
  if (peer.ipBlock) return ipBlockSet(ctx, peer.ipBlock.cidr, peer.ipBlock.except ?? []);
  const nsSet = peer.namespaceSelector
    ? podsInNamespaces(
        ctx,
        `k8s:${JSON.stringify(peer.namespaceSelector)}`,
        compileLabelSelector(peer.namespaceSelector),
        false,
      )
    : podsInNamespaces(ctx, `name:${policyNs}`, (l) => l['kubernetes.io/metadata.name'] === policyNs, false);
  if (!peer.podSelector) return nsSet;
  const podSel = compileLabelSelector(peer.podSelector);
  const podSet = cached(ctx, `pod:${JSON.stringify(peer.podSelector)}`, () =>
    ctx.sets.of((i) => podSel(ctx.podLabels[i]!)),
  );
  return and(nsSet, podSet);
}

function k8sPortMask(ctx: Context, ports: readonly NetworkPolicyPort[] | undefined): Uint8Array {
  const mask = new Uint8Array(ctx.ports.length);
  ctx.ports.forEach((mp, q) => {
    if (!ports || ports.length === 0) {
      mask[q] = 1;
      return;
    }
    for (const p of ports) {
      if ((p.protocol ?? 'TCP') !== mp.protocol) continue;
      if (p.port === undefined) mask[q] = 1;
      else if (typeof p.port === 'string') {
        // named port: resolved on the destination pod's container port of that name and protocol
        if (mp.name === p.port) mask[q] = 1;
      } else if (mp.port >= p.port && mp.port <= (p.endPort ?? p.port)) mask[q] = 1;
    }
  });
  return mask;
}

function compileK8s(ctx: Context, np: NetworkPolicy): CompiledPolicy {
  const ns = np.metadata.namespace ?? 'default';
  const podSel = compileLabelSelector(np.spec.podSelector);
  const selected = ctx.sets.of((i) => ctx.podNs[i] === ns && podSel(ctx.podLabels[i]!));
  const egressRules = np.spec.egress ?? [];
  // the API server defaults an absent or empty policyTypes (len == 0), so [] behaves like no field
  const listed = np.spec.policyTypes?.length ? np.spec.policyTypes : undefined;
  const types = listed ?? (egressRules.length > 0 ? ['Ingress', 'Egress'] : ['Ingress']);
  const rule = (
    peers: NetworkPolicyPeer[] | undefined,
    ports: NetworkPolicyPort[] | undefined,
  ): CompiledRule => {
    let set: Bits;
    if (!peers || peers.length === 0) set = ctx.sets.full();
    else {
      set = ctx.sets.empty();
      for (const p of peers) or(set, k8sPeerSet(ctx, ns, p));
    }
    return { action: 'Allow', portMask: k8sPortMask(ctx, ports), peers: set };
  };
  const out: CompiledPolicy = {
    order: K8S_POLICY_ORDER,
    sortName: `knp.default.${np.metadata.name}`,
    selected,
  };
  if (types.includes('Ingress')) out.ingress = (np.spec.ingress ?? []).map((r) => rule(r.from, r.ports));
  if (types.includes('Egress')) out.egress = egressRules.map((r) => rule(r.to, r.ports));
  return out;
}

// ---- Calico ----

const PROTOCOL_NUMBERS: Record<number, string> = {
  6: 'TCP',
  17: 'UDP',
  132: 'SCTP',
  1: 'ICMP',
  58: 'ICMPv6',
  136: 'UDPLite',
};
const protocolName = (p: string | number) => (typeof p === 'number' ? (PROTOCOL_NUMBERS[p] ?? String(p)) : p);

function calicoPortMatches(spec: number | string, mp: ModelPort): boolean {
  if (typeof spec === 'number') return mp.port === spec;
  const range = /^(\d+):(\d+)$/.exec(spec);
  if (range) return mp.port >= Number(range[1]) && mp.port <= Number(range[2]);
  return mp.name === spec;
}

function calicoPortMask(ctx: Context, rule: CalicoRule): Uint8Array {
  const mask = new Uint8Array(ctx.ports.length);
  const dst = rule.destination;
  ctx.ports.forEach((mp, q) => {
    if (rule.protocol !== undefined && protocolName(rule.protocol) !== mp.protocol) return;
    if (rule.notProtocol !== undefined && protocolName(rule.notProtocol) === mp.protocol) return;
    if (dst?.ports && !dst.ports.some((s) => calicoPortMatches(s, mp))) return;
    if (dst?.notPorts?.some((s) => calicoPortMatches(s, mp))) return;
    mask[q] = 1;
  });
  return mask;
}

function calicoEntitySet(
  ctx: Context,
  e: CalicoEntityRule | undefined,
  policyNs: string | undefined,
): Bits | undefined {
  if (!e) return undefined;
  const hasCriteria =
    e.selector !== undefined ||
    e.notSelector !== undefined ||
    e.namespaceSelector !== undefined ||
    e.nets !== undefined ||
    e.notNets !== undefined;
  if (!hasCriteria) return undefined;
  let set = ctx.sets.full();
  const scope =
    e.namespaceSelector !== undefined
      ? podsInNamespaces(
          ctx,
          `calico:${e.namespaceSelector}`,
          compileCalicoSelector(e.namespaceSelector, 'namespaceSelector'),
          true,
        )
      : policyNs !== undefined
        ? podsInNamespaces(
            ctx,
            `name:${policyNs}`,
            (l) => l['kubernetes.io/metadata.name'] === policyNs,
            false,
          )
        : ctx.sets.full();
  if (e.namespaceSelector !== undefined) set = and(set, scope);
  if (e.selector !== undefined) {
    const sel = compileCalicoSelector(e.selector, 'selector');
    set = and(
      set,
      and(
        scope,
        ctx.sets.of((i) => sel(ctx.podCalicoLabels[i]!)),
      ),
    );
  }
  if (e.notSelector !== undefined) {
    // notSelector scopes the rule as every selector field does: in a namespaced policy, endpoints of other
    // namespaces do not match a rule with only a notSelector (libcalico-go updateprocessors/rules.go
    // getEndpointSelector; seen on the lab: calico-not-selector denied x and y to z/b)
    const sel = compileCalicoSelector(e.notSelector, 'notSelector');
    set = andNot(
      and(set, scope),
      ctx.sets.of((i) => sel(ctx.podCalicoLabels[i]!)),
    );
  }
  if (e.nets !== undefined) {
    const nets = e.nets;
    const inNets = ctx.sets.empty();
    for (const n of nets) or(inNets, ipBlockSet(ctx, n, []));
    set = and(set, inNets);
  }
  for (const n of e.notNets ?? []) set = andNot(set, ipBlockSet(ctx, n, []));
  return set;
}

function compileCalico(ctx: Context, cp: CalicoPolicy): CompiledPolicy {
  const isGlobal = cp.kind === 'GlobalNetworkPolicy';
  const ns = isGlobal ? undefined : (cp.metadata.namespace ?? 'default');
  const sel = compileCalicoSelector(cp.spec.selector ?? 'all()', 'spec.selector');
  const nsSel =
    cp.spec.namespaceSelector !== undefined
      ? compileCalicoSelector(cp.spec.namespaceSelector, 'spec.namespaceSelector')
      : undefined;
  const nsOk = new Map<string, boolean>();
  for (const [name, l] of ctx.nsCalicoLabels)
    nsOk.set(name, ns !== undefined ? name === ns : nsSel ? nsSel(l) : true);
  const selected = ctx.sets.of((i) => nsOk.get(ctx.podNs[i]!) === true && sel(ctx.podCalicoLabels[i]!));
  const ingress = cp.spec.ingress ?? [];
  const egress = cp.spec.egress ?? [];
  const types =
    (cp.spec.types?.length ? cp.spec.types : undefined) ??
    (egress.length > 0 ? (ingress.length > 0 ? ['Ingress', 'Egress'] : ['Egress']) : ['Ingress']);
  const rule = (r: CalicoRule, dir: 'ingress' | 'egress'): CompiledRule => {
    const src = calicoEntitySet(ctx, r.source, ns);
    const dst = calicoEntitySet(ctx, r.destination, ns);
    const far = dir === 'ingress' ? src : dst;
    const near = dir === 'ingress' ? dst : src;
    const out: CompiledRule = {
      action: r.action,
      portMask: calicoPortMask(ctx, r),
      peers: far ?? ctx.sets.full(),
    };
    if (near) out.local = near;
    return out;
  };
  const out: CompiledPolicy = {
    // "If the order is not specified, the policy is applied last"
    order: cp.spec.order ?? Number.POSITIVE_INFINITY,
    sortName: isGlobal ? cp.metadata.name : `${ns}/${cp.metadata.name}`,
    selected,
  };
  if (types.includes('Ingress')) out.ingress = ingress.map((r) => rule(r, 'ingress'));
  if (types.includes('Egress')) out.egress = egress.map((r) => rule(r, 'egress'));
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// evaluation

/**
 * For one direction: row e = the peers endpoint e lets through on port q (sources for ingress,
 * destinations for egress).
 */
function evaluateDirection(
  ctx: Context,
  policies: readonly CompiledPolicy[],
  dir: 'ingress' | 'egress',
  q: number,
): Bits {
  const { n, w } = ctx.sets;
  const rows = new Uint32Array(n * w);
  const full = ctx.sets.full();
  const undecided = new Uint32Array(w);
  const applying: CompiledPolicy[] = policies.filter((p) => p[dir] !== undefined);
  for (let e = 0; e < n; e++) {
    const base = e * w;
    let applied = false;
    undecided.set(full);
    let open = true;
    for (const p of applying) {
      if (!PodSets.has(p.selected, e)) continue;
      applied = true;
      for (const r of p[dir]!) {
        if (r.portMask[q] === 0) continue;
        if (r.local && !PodSets.has(r.local, e)) continue;
        if (r.action === 'Log') continue;
        const peers = r.peers;
        let any = 0;
        for (let i = 0; i < w; i++) {
          const m = peers[i]! & undecided[i]!;
          if (m === 0) continue;
          // Allow, and Pass to the namespace profile (which allows), decide "allowed"; Deny decides "denied"
          if (r.action !== 'Deny') rows[base + i]! |= m;
          undecided[i]! &= ~m;
        }
        for (let i = 0; i < w; i++) any |= undecided[i]!;
        if (any === 0) {
          open = false;
          break;
        }
      }
      if (!open) break;
    }
    // no policy applies in this direction: the tier is skipped and the profile allows everything
    if (!applied) rows.set(full, base);
  }
  return rows;
}

function transpose(m: Bits, n: number, w: number): Bits {
  const out = new Uint32Array(n * w);
  for (let r = 0; r < n; r++) {
    const base = r * w;
    for (let word = 0; word < w; word++) {
      let v = m[base + word]!;
      while (v !== 0) {
        const bit = 31 - Math.clz32(v & -v);
        v &= v - 1;
        const c = (word << 5) + bit;
        out[c * w + (r >>> 5)]! |= 1 << (r & 31);
      }
    }
  }
  return out;
}

/** Compiles the policies against the model (exported for tests and the bench's phase timing). */
export function compilePolicies(model: PolicyModel, policies: readonly PolicyDocument[]) {
  const ctx = context(model);
  const compiled = policies.map((p) => (isCalicoPolicy(p) ? compileCalico(ctx, p) : compileK8s(ctx, p)));
  compiled.sort(
    (a, b) => a.order - b.order || (a.sortName < b.sortName ? -1 : a.sortName > b.sortName ? 1 : 0),
  );
  return { ctx, compiled };
}

/**
 * The expected truth table (docs/contracts.md, "Policy model and truth table"). `policies` must be valid (see
 * parse.ts `validatePolicies`); Kubernetes and Calico documents may be mixed.
 */
export function expectTruthTable(model: PolicyModel, policies: readonly PolicyDocument[]): TruthTable {
  const { ctx, compiled } = compilePolicies(model, policies);
  const { n, w } = ctx.sets;
  const egress: Bits[] = [];
  const ingress: Bits[] = [];
  const allowed: Bits[] = [];
  for (let q = 0; q < ctx.ports.length; q++) {
    const e = evaluateDirection(ctx, compiled, 'egress', q);
    // ingress rows are by destination (bit s: d admits s); flip them to rows by source
    const i = transpose(evaluateDirection(ctx, compiled, 'ingress', q), n, w);
    const a = new Uint32Array(n * w);
    for (let k = 0; k < a.length; k++) a[k] = e[k]! & i[k]!;
    egress.push(e);
    ingress.push(i);
    allowed.push(a);
  }
  return new TruthTable(model.pods.map(podKey), ctx.ports, egress, ingress, allowed);
}

export type { NetworkPolicy, PolicyDocument, PolicyModel };
