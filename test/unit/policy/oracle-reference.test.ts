/**
 * The bitset oracle against a deliberately naive reference (a direct per-pair reading of the Kubernetes
 * rules, written here without bitsets) on random models of 70 pods, so that pods sit on both sides of the
 * 32-bit word boundaries (bits 31/32, 63/64) the oracle packs them into.
 */
import { describe, expect, it } from 'vitest';
import { cidrContainsIp, mustParseIpv4Cidr, parseIpv4 } from '../../../harness/net/cidr.js';
import { expectTruthTable } from '../../../harness/policy/oracle.js';
import { validatePolicies } from '../../../harness/policy/parse.js';
import { compileLabelSelector, type LabelSelector } from '../../../harness/policy/selector.js';
import type {
  ModelPod,
  ModelPort,
  NetworkPolicy,
  NetworkPolicyPeer,
  NetworkPolicyPort,
  PolicyModel,
} from '../../../harness/policy/types.js';

function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomCase(seed: number): { model: PolicyModel; policies: NetworkPolicy[] } {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const namespaces = ['n0', 'n1', 'n2', 'n3', 'n4'].map((name, i) => ({
    name,
    labels: { team: i % 2 ? 'odd' : 'even' },
  }));
  const pods: ModelPod[] = Array.from({ length: 70 }, (_, i) => ({
    namespace: `n${i % 5}`,
    name: `p${i}`,
    labels: { app: `a${i % 7}`, ...(i % 3 === 0 ? { role: 'db' } : {}) },
    ip: `10.9.${i >> 4}.${(i & 15) * 4}`,
  }));
  const ports: ModelPort[] = [
    { port: 80, protocol: 'TCP', name: 'http' },
    { port: 81, protocol: 'UDP', name: 'dns-ish' },
    { port: 443, protocol: 'TCP' },
  ];
  const sel = (): LabelSelector =>
    pick<LabelSelector>([
      {},
      { matchLabels: { app: `a${Math.floor(r() * 7)}` } },
      { matchExpressions: [{ key: 'role', operator: pick(['Exists', 'DoesNotExist'] as const) }] },
      {
        matchExpressions: [
          { key: 'app', operator: pick(['In', 'NotIn'] as const), values: [`a${Math.floor(r() * 7)}`, 'a1'] },
        ],
      },
    ]);
  const peer = (): NetworkPolicyPeer =>
    pick<() => NetworkPolicyPeer>([
      () => ({ podSelector: sel() }),
      () => ({ namespaceSelector: { matchLabels: { team: pick(['odd', 'even']) } } }),
      () => ({ namespaceSelector: sel(), podSelector: sel() }),
      () => ({ ipBlock: { cidr: '10.9.0.0/16', except: [`10.9.${Math.floor(r() * 5)}.0/24`] } }),
      () => ({ ipBlock: { cidr: `10.9.${Math.floor(r() * 5)}.0/26` } }),
    ])();
  const portList = (): NetworkPolicyPort[] | undefined =>
    pick([
      undefined,
      [{ port: 80 }],
      [{ port: 'dns-ish', protocol: 'UDP' as const }],
      [{ port: 80, endPort: 443 }],
      [{ protocol: 'UDP' as const }],
    ]);
  const rule = <K extends 'from' | 'to'>(k: K) => {
    const ports = portList();
    return {
      ...(r() < 0.2 ? {} : { [k]: Array.from({ length: 1 + Math.floor(r() * 2) }, peer) }),
      ...(ports ? { ports } : {}),
    };
  };
  const policies = Array.from({ length: 15 }, (_, i) => {
    const egress = r() < 0.4;
    return {
      apiVersion: 'networking.k8s.io/v1' as const,
      kind: 'NetworkPolicy' as const,
      metadata: { name: `np${i}`, namespace: pick(namespaces).name },
      spec: {
        podSelector: sel(),
        ...(egress
          ? {
              policyTypes: pick([['Egress'], ['Ingress', 'Egress']]) as ('Ingress' | 'Egress')[],
              egress: Array.from({ length: Math.floor(r() * 3) }, () => rule('to')),
            }
          : {}),
        ingress: Array.from({ length: Math.floor(r() * 3) }, () => rule('from')),
      },
    };
  });
  return { model: { namespaces, pods, ports }, policies: validatePolicies(policies) as NetworkPolicy[] };
}

/** The Kubernetes rules, read pair by pair. */
function naive(model: PolicyModel, policies: NetworkPolicy[]) {
  const nsLabels = (ns: string) => ({
    ...model.namespaces.find((n) => n.name === ns)!.labels,
    'kubernetes.io/metadata.name': ns,
  });
  const types = (p: NetworkPolicy) =>
    p.spec.policyTypes ?? ((p.spec.egress ?? []).length ? ['Ingress', 'Egress'] : ['Ingress']);
  const selects = (p: NetworkPolicy, pod: ModelPod) =>
    pod.namespace === p.metadata.namespace && compileLabelSelector(p.spec.podSelector)(pod.labels);
  const peerMatches = (p: NetworkPolicy, peer: NetworkPolicyPeer, other: ModelPod) => {
    if (peer.ipBlock) {
      const ip = parseIpv4(other.ip)!;
      return (
        cidrContainsIp(mustParseIpv4Cidr(peer.ipBlock.cidr), ip) &&
        !(peer.ipBlock.except ?? []).some((e) => cidrContainsIp(mustParseIpv4Cidr(e), ip))
      );
    }
    const nsOk = peer.namespaceSelector
      ? compileLabelSelector(peer.namespaceSelector)(nsLabels(other.namespace))
      : other.namespace === p.metadata.namespace;
    return nsOk && (!peer.podSelector || compileLabelSelector(peer.podSelector)(other.labels));
  };
  const portMatches = (ports: NetworkPolicyPort[] | undefined, mp: ModelPort) =>
    !ports?.length ||
    ports.some(
      (x) =>
        (x.protocol ?? 'TCP') === mp.protocol &&
        (x.port === undefined ||
          (typeof x.port === 'string'
            ? x.port === mp.name
            : mp.port >= x.port && mp.port <= (x.endPort ?? x.port))),
    );
  const side = (dir: 'Ingress' | 'Egress', self: ModelPod, other: ModelPod, mp: ModelPort) => {
    const applying = policies.filter((p) => types(p).includes(dir) && selects(p, self));
    if (applying.length === 0) return true;
    return applying.some((p) =>
      (dir === 'Ingress'
        ? (p.spec.ingress ?? []).map((x) => ({ peers: x.from, ports: x.ports }))
        : (p.spec.egress ?? []).map((x) => ({ peers: x.to, ports: x.ports }))
      ).some(
        (rule) =>
          portMatches(rule.ports, mp) &&
          (!rule.peers?.length || rule.peers.some((peer) => peerMatches(p, peer, other))),
      ),
    );
  };
  return (s: ModelPod, d: ModelPod, mp: ModelPort) => ({
    egress: side('Egress', s, d, mp),
    ingress: side('Ingress', d, s, mp),
  });
}

describe('oracle vs a naive per-pair reference (70 pods, across 32-bit word boundaries)', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`random case ${seed}`, () => {
      const { model, policies } = randomCase(seed);
      const table = expectTruthTable(model, policies);
      const ref = naive(model, policies);
      let wrong = 0;
      let allowed = 0;
      const examples: string[] = [];
      for (const s of model.pods)
        for (const d of model.pods) {
          if (s === d) continue;
          for (const mp of model.ports) {
            const got = table.get(
              `${s.namespace}/${s.name}`,
              `${d.namespace}/${d.name}`,
              mp.port,
              mp.protocol,
            )!;
            const exp = ref(s, d, mp);
            if (
              got.egress !== exp.egress ||
              got.ingress !== exp.ingress ||
              got.allowed !== (exp.egress && exp.ingress)
            ) {
              wrong++;
              if (examples.length < 5) examples.push(`${s.name}>${d.name} ${mp.protocol}/${mp.port}`);
            }
            if (got.allowed) allowed++;
          }
        }
      expect(examples, `${wrong} wrong`).toEqual([]);
      // the random policies must produce a mix, or the comparison proves little
      expect(allowed).toBeGreaterThan(0);
      expect(allowed).toBeLessThan(table.size);
    });
  }
});
