/**
 * Oracle benchmark: the expected truth table for 1,000 pods × 100 policies × 4 ports (about 4 million
 * entries) must be computed in under 2 s. Measures computing the table (parse-free, print-free), with a
 * deterministic mix of Kubernetes policies (pod/namespace selectors, matchExpressions, ipBlock with except,
 * numbered/named ports, endPort, egress) and Calico policies (ordered Allow/Deny/Pass).
 * Last line: `pods=1000 policies=100 ports=4 entries=N seconds=X`; exit 1 when over budget.
 */
import { expectTruthTable } from '../harness/policy/oracle.js';
import { validatePolicies } from '../harness/policy/parse.js';
import type { PolicyModel } from '../harness/policy/types.js';

const PODS = 1000;
const POLICIES = 100;
const NAMESPACES = 20;
const BUDGET_S = 2;

// mulberry32: a small deterministic PRNG so every run measures the same input
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
const rand = rng(42);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

const apps = Array.from({ length: 10 }, (_, i) => `app${i}`);
const tiers = ['web', 'api', 'db'];
const model: PolicyModel = {
  namespaces: Array.from({ length: NAMESPACES }, (_, i) => ({
    name: `ns${i}`,
    labels: { team: `team${i % 4}`, env: i % 2 === 0 ? 'prod' : 'dev' },
  })),
  pods: Array.from({ length: PODS }, (_, i) => ({
    namespace: `ns${i % NAMESPACES}`,
    name: `pod${i}`,
    labels: { app: apps[i % apps.length]!, tier: tiers[i % 3]!, ...(i % 5 === 0 ? { canary: 'true' } : {}) },
    ip: `10.${1 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`,
  })),
  ports: [
    { port: 80, protocol: 'TCP', name: 'serve-80-tcp' },
    { port: 80, protocol: 'UDP', name: 'serve-80-udp' },
    { port: 81, protocol: 'TCP', name: 'serve-81-tcp' },
    { port: 81, protocol: 'UDP', name: 'serve-81-udp' },
  ],
};

function k8sPolicy(i: number): object {
  const ns = `ns${i % NAMESPACES}`;
  const peer = () =>
    pick([
      () => ({ podSelector: { matchLabels: { app: pick(apps) } } }),
      () => ({ namespaceSelector: { matchLabels: { team: `team${Math.floor(rand() * 4)}` } } }),
      () => ({
        namespaceSelector: { matchLabels: { env: pick(['prod', 'dev']) } },
        podSelector: {
          matchExpressions: [{ key: 'tier', operator: 'In', values: [pick(tiers), pick(tiers)] }],
        },
      }),
      () => ({ podSelector: { matchExpressions: [{ key: 'canary', operator: 'DoesNotExist' }] } }),
      () => ({ ipBlock: { cidr: '10.1.0.0/16', except: [`10.1.${Math.floor(rand() * 4)}.0/24`] } }),
    ])();
  const ports = () =>
    pick([
      undefined,
      [{ port: 80 }],
      [{ port: 'serve-81-udp', protocol: 'UDP' }],
      [{ port: 80, endPort: 81, protocol: 'TCP' }],
    ]);
  const rules = (key: 'from' | 'to') =>
    Array.from({ length: 1 + Math.floor(rand() * 3) }, () => ({
      [key]: Array.from({ length: 1 + Math.floor(rand() * 2) }, peer),
      ...(() => {
        const p = ports();
        return p ? { ports: p } : {};
      })(),
    }));
  const withEgress = rand() < 0.3;
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: `np${i}`, namespace: ns },
    spec: {
      podSelector: rand() < 0.3 ? {} : { matchLabels: { tier: pick(tiers) } },
      ...(withEgress ? { policyTypes: ['Ingress', 'Egress'], egress: rules('to') } : {}),
      ingress: rules('from'),
    },
  };
}

function calicoPolicy(i: number): object {
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
    metadata: { name: `gnp${i}` },
    spec: {
      order: Math.floor(rand() * 2000),
      selector: `app == '${pick(apps)}' || tier == '${pick(tiers)}'`,
      ingress: [
        {
          action: pick(['Allow', 'Deny', 'Pass']),
          source: { selector: `app in {'${pick(apps)}', '${pick(apps)}'}` },
        },
        { action: 'Deny', protocol: 'UDP', destination: { ports: ['80:81'] } },
      ],
      egress: [
        { action: 'Allow', destination: { namespaceSelector: `team == 'team${Math.floor(rand() * 4)}'` } },
      ],
    },
  };
}

const docs = Array.from({ length: POLICIES }, (_, i) => (i % 10 === 9 ? calicoPolicy(i) : k8sPolicy(i)));
const policies = validatePolicies(docs, 'bench');

// one warm-up on a small slice so the JIT does not count against the budget of the measured run
expectTruthTable({ ...model, pods: model.pods.slice(0, 50) }, policies);

const start = process.hrtime.bigint();
const table = expectTruthTable(model, policies);
const seconds = Number(process.hrtime.bigint() - start) / 1e9;

// worst case for evaluation: every policy applies to every pod and no rule decides for everyone, so each
// endpoint walks all 100 policies (reported, not budgeted: the budget is for the catalogue-like mix above)
const dense = validatePolicies(
  Array.from({ length: POLICIES }, (_, i) => ({
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
    metadata: { name: `dense${i}` },
    spec: {
      order: i,
      types: ['Ingress', 'Egress'],
      ingress: [
        { action: 'Allow', protocol: 'TCP', source: { selector: `app == '${apps[i % apps.length]}'` } },
        { action: 'Deny', source: { nets: [`10.1.${i % 4}.0/26`] } },
      ],
      egress: [
        {
          action: 'Allow',
          destination: { namespaceSelector: `team == 'team${i % 4}'`, selector: 'has(canary)' },
        },
      ],
    },
  })),
  'bench-dense',
);
const denseStart = process.hrtime.bigint();
expectTruthTable(model, dense);
const denseSeconds = Number(process.hrtime.bigint() - denseStart) / 1e9;
console.log(`dense (every policy selects every pod): seconds=${denseSeconds.toFixed(3)}`);

const allowed = table.allowedCount();
console.log(`allowed=${allowed} denied=${table.size - allowed}`);
console.log(
  `pods=${PODS} policies=${POLICIES} ports=${model.ports.length} entries=${table.size} seconds=${seconds.toFixed(3)}`,
);
if (seconds > BUDGET_S) {
  console.error(`oracle took ${seconds.toFixed(3)}s, over the ${BUDGET_S}s budget`);
  process.exit(1);
}
