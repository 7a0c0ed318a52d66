/**
 * The scenario catalogue, as data (as Cilium's connectivity test declares scenarios,
 * cilium-cli/connectivity/, and the Kubernetes netpol e2e its expectations, test/e2e/network/netpol/). Every
 * scenario targets the netpol e2e model (namespaces x,y,z labelled `ns: <name>`, pods a,b,c labelled `pod:
 * <name>`, ports 80/81 TCP/UDP named `serve-<port>-<proto>`). The runner computes each expected table with
 * the oracle; `expect` holds hand-checked cells that the unit tests compare with the oracle, so the Calico
 * ordering semantics are checked by hand and not only by the oracle itself.
 *
 * Live-cluster safety: every GlobalNetworkPolicy limits itself to the model's namespaces with
 * `namespaceSelector: has(ns)` (no system namespace carries the `ns` label), so a Deny can never reach DNS,
 * the API server or Calico's own pods. A unit test enforces it.
 */
import { UsageError } from '../errors.js';
import type { Protocol } from '../model/connectivity.js';
import type { Requirement } from '../model/requirements.js';
import { MODEL_NAMESPACES } from './model.js';

/**
 * Hand-checked cells for some ports, written like the e2e's Reachability: every pair starts at `base`,
 * then pairs matching a `deny` pattern are denied, then pairs matching an `allow` pattern are allowed.
 * A pattern is "from>to", each side "ns/pod", "ns/*", "*\/pod" or "*".
 */
export interface HandExpectation {
  ports: `${Protocol}/${number}`[];
  base: 'allowed' | 'denied';
  deny?: string[];
  allow?: string[];
}

export interface PolicyScenario {
  name: string;
  tags: string[];
  description: string;
  /** Kubernetes and/or Calico policy objects, in the model's namespace names (x, y, z) */
  policies: object[];
  expect?: HandExpectation[];
  /**
   * what the scenario needs beyond a Kubernetes cluster with Calico (harness/model/requirements.ts judges it
   * and gives the skip reason); absent: nothing
   */
  requires?: readonly Requirement[];
}

/** What a scenario declares it needs. */
export function requirementsOf(s: PolicyScenario): readonly Requirement[] {
  return s.requires ?? [];
}

/**
 * Its policies use the projectcalico.org/v3 API (the Calico API server, or calicoctl on the manifest path):
 * such a scenario must declare `requires: ['calico-api']` (a unit test holds the catalogue to it).
 */
export function usesCalicoApi(s: PolicyScenario): boolean {
  return s.policies.some((p) => (p as { apiVersion?: string }).apiVersion === 'projectcalico.org/v3');
}

/** The policy kinds whose effect stays inside their own namespace (what a namespace set can isolate). */
const NAMESPACED_POLICY_KINDS = new Set([
  'networking.k8s.io/v1 NetworkPolicy',
  'projectcalico.org/v3 NetworkPolicy',
  'projectcalico.org/v3 NetworkSet',
]);

/**
 * Why a scenario must run alone (no other scenario at the same time), or undefined when it can share the
 * cluster with others, each in its own namespace set: anything cluster-scoped (GlobalNetworkPolicy, tiers,
 * global sets, host endpoints), a Calico policy in a tier of its own, or a policy outside the model's
 * namespaces (the default namespace, kube-system).
 */
export function exclusiveReason(s: PolicyScenario): string | undefined {
  for (const p of s.policies) {
    const d = p as {
      apiVersion?: string;
      kind?: string;
      metadata?: { namespace?: string };
      spec?: { tier?: string };
    };
    const kind = `${d.apiVersion} ${d.kind}`;
    if (!NAMESPACED_POLICY_KINDS.has(kind)) return `${d.kind} is cluster-scoped`;
    const ns = d.metadata?.namespace;
    if (!ns || !(MODEL_NAMESPACES as readonly string[]).includes(ns))
      return `${d.kind} in namespace ${ns ?? '(none)'}, outside the model`;
    if (d.spec?.tier && d.spec.tier !== 'default') return `${d.kind} in tier ${d.spec.tier}`;
  }
  return undefined;
}

// ---- builders (keep the catalogue short and readable) ----

type Sel = Record<string, unknown>;
const pods = (pod: string): Sel => ({ matchLabels: { pod } });
const nsSel = (ns: string): Sel => ({ matchLabels: { ns } });

function np(name: string, namespace: string, spec: Record<string, unknown>): object {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace }, spec };
}
function cnp(name: string, namespace: string, spec: Record<string, unknown>): object {
  return { apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy', metadata: { name, namespace }, spec };
}
function gnp(name: string, spec: Record<string, unknown>): object {
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
    metadata: { name },
    spec: { namespaceSelector: 'has(ns)', ...spec },
  };
}
const denyAllIngress = (ns: string) =>
  np(`deny-all-ingress-${ns}`, ns, { podSelector: {}, policyTypes: ['Ingress'] });
const ALL: HandExpectation['ports'] = ['TCP/80', 'TCP/81', 'UDP/80', 'UDP/81'];

// ---- the catalogue ----

export const SCENARIOS: readonly PolicyScenario[] = [
  // --- isolation and policyTypes
  {
    name: 'deny-all-ingress',
    tags: ['ingress', 'deny-all', 'target-namespace', 'upstream-e2e'],
    description: "default-deny-ingress in x: nothing reaches x's pods, x still reaches out",
    policies: [denyAllIngress('x')],
    expect: [{ ports: ALL, base: 'allowed', deny: ['*>x/*'] }],
  },
  {
    name: 'deny-all-egress',
    tags: ['egress', 'deny-all', 'target-namespace', 'upstream-e2e'],
    description: "default-deny-egress in x: x's pods reach nobody, others still reach x",
    policies: [np('deny-all-egress', 'x', { podSelector: {}, policyTypes: ['Egress'] })],
    expect: [{ ports: ALL, base: 'allowed', deny: ['x/*>*'] }],
  },
  {
    name: 'deny-all-both-directions',
    tags: ['ingress', 'egress', 'deny-all', 'target-namespace'],
    description: 'policyTypes [Ingress, Egress] without rules isolates x both ways',
    policies: [np('deny-all', 'x', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })],
    expect: [{ ports: ALL, base: 'allowed', deny: ['x/*>*', '*>x/*'] }],
  },
  {
    name: 'deny-ingress-one-pod',
    tags: ['ingress', 'deny-all', 'target-pod-selector'],
    description: 'a podSelector target isolates y/b only',
    policies: [np('deny-b', 'y', { podSelector: pods('b') })],
    expect: [{ ports: ALL, base: 'allowed', deny: ['*>y/b'] }],
  },
  {
    name: 'default-deny-plus-allow-all',
    tags: ['ingress', 'allow-all', 'union', 'upstream-e2e'],
    description: 'deny-all and an allow-all ({} from) in x: the union allows everything',
    policies: [denyAllIngress('x'), np('allow-all', 'x', { podSelector: {}, ingress: [{}] })],
    expect: [{ ports: ALL, base: 'allowed', deny: [] }],
  },
  {
    name: 'egress-rules-imply-egress-type',
    tags: ['egress', 'policy-types'],
    description: 'no policyTypes but egress rules: Ingress+Egress, so x/a is isolated both ways',
    policies: [np('eg', 'x', { podSelector: pods('a'), egress: [{ to: [{ podSelector: {} }] }] })],
    expect: [{ ports: ALL, base: 'allowed', deny: ['*>x/a', 'x/a>y/*', 'x/a>z/*'] }],
  },
  {
    name: 'empty-egress-list-is-ingress-only',
    tags: ['egress', 'policy-types'],
    description: 'egress: [] is no egress rules: the policy defaults to Ingress only',
    policies: [np('e', 'z', { podSelector: pods('c'), egress: [] })],
    expect: [{ ports: ALL, base: 'allowed', deny: ['*>z/c'] }],
  },
  {
    name: 'egress-type-ignores-ingress-rules',
    tags: ['egress', 'policy-types'],
    description: 'policyTypes [Egress] with an ingress rule: ingress stays open, egress is denied',
    policies: [np('e', 'y', { podSelector: {}, policyTypes: ['Egress'], ingress: [{}] })],
    expect: [{ ports: ALL, base: 'allowed', deny: ['y/*>*'] }],
  },
  // --- peers
  {
    name: 'allow-same-namespace',
    tags: ['ingress', 'peer-pods', 'all-pods', 'upstream-e2e'],
    description: 'x admits only its own pods (podSelector {} peer)',
    policies: [np('same-ns', 'x', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] })],
    expect: [{ ports: ALL, base: 'allowed', deny: ['y/*>x/*', 'z/*>x/*'] }],
  },
  {
    name: 'allow-from-pod-label',
    tags: ['ingress', 'peer-pods', 'pods-by-label', 'upstream-e2e'],
    description: 'x/a admits x/b only (a podSelector peer stays in the policy namespace)',
    policies: [
      np('from-b', 'x', { podSelector: pods('a'), ingress: [{ from: [{ podSelector: pods('b') }] }] }),
    ],
    expect: [{ ports: ['TCP/80'], base: 'allowed', deny: ['x/c>x/a', 'y/*>x/a', 'z/*>x/a'] }],
  },
  {
    name: 'allow-from-namespace-label',
    tags: ['ingress', 'peer-pods', 'namespaces-by-label', 'upstream-e2e'],
    description: 'x admits every pod of y',
    policies: [
      np('from-y', 'x', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: nsSel('y') }] }] }),
    ],
  },
  {
    name: 'allow-from-namespace-default-label',
    tags: ['ingress', 'peer-pods', 'namespaces-by-default-label'],
    description: 'x admits z by kubernetes.io/metadata.name',
    policies: [
      np('from-z', 'x', {
        podSelector: {},
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'z' } } }] }],
      }),
    ],
  },
  {
    name: 'allow-from-all-namespaces',
    tags: ['ingress', 'peer-pods', 'all-namespaces', 'allow-all'],
    description: 'namespaceSelector {} admits every pod of every namespace',
    policies: [
      denyAllIngress('y'),
      np('from-all', 'y', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: {} }] }] }),
    ],
  },
  {
    name: 'namespace-and-pod-selector-and',
    tags: ['ingress', 'peer-pods', 'namespaces-by-label', 'pods-by-label', 'upstream-e2e'],
    description: 'one peer with namespaceSelector y AND podSelector b: only y/b reaches x/a',
    policies: [
      np('and', 'x', {
        podSelector: pods('a'),
        ingress: [{ from: [{ namespaceSelector: nsSel('y'), podSelector: pods('b') }] }],
      }),
    ],
  },
  {
    name: 'namespace-or-pod-selector',
    tags: ['ingress', 'peer-pods', 'multi-peer', 'upstream-e2e'],
    description: 'two peers OR: all of y, plus x/b',
    policies: [
      np('or', 'x', {
        podSelector: pods('a'),
        ingress: [{ from: [{ namespaceSelector: nsSel('y') }, { podSelector: pods('b') }] }],
      }),
    ],
  },
  {
    name: 'pod-from-every-namespace',
    tags: ['ingress', 'peer-pods', 'all-namespaces', 'pods-by-label'],
    description: 'namespaceSelector {} with podSelector c: every c pod reaches z/a',
    policies: [
      np('c-anywhere', 'z', {
        podSelector: pods('a'),
        ingress: [{ from: [{ namespaceSelector: {}, podSelector: pods('c') }] }],
      }),
    ],
  },
  {
    name: 'match-expressions-in',
    tags: ['ingress', 'peer-pods', 'match-expressions'],
    description: 'pod In {b, c} from any namespace reaches x/a',
    policies: [
      np('in', 'x', {
        podSelector: pods('a'),
        ingress: [
          {
            from: [
              {
                namespaceSelector: {},
                podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['b', 'c'] }] },
              },
            ],
          },
        ],
      }),
    ],
  },
  {
    name: 'match-expressions-not-in',
    tags: ['ingress', 'peer-pods', 'match-expressions'],
    description: 'namespaces with ns NotIn {y} reach x',
    policies: [
      np('not-in', 'x', {
        podSelector: {},
        ingress: [
          {
            from: [
              { namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'NotIn', values: ['y'] }] } },
            ],
          },
        ],
      }),
    ],
    expect: [{ ports: ['TCP/80'], base: 'allowed', deny: ['y/*>x/*'] }],
  },
  {
    name: 'match-expressions-exists',
    tags: ['ingress', 'peer-pods', 'match-expressions'],
    description: 'pods of y that have a pod label (all of them) reach y; other namespaces do not',
    policies: [
      np('exists', 'y', {
        podSelector: {},
        ingress: [
          {
            from: [
              {
                podSelector: { matchExpressions: [{ key: 'pod', operator: 'Exists' }] },
              },
            ],
          },
        ],
      }),
    ],
    expect: [{ ports: ALL, base: 'allowed', deny: ['x/*>y/*', 'z/*>y/*'] }],
  },
  {
    name: 'match-expressions-does-not-exist',
    tags: ['ingress', 'peer-pods', 'match-expressions'],
    description: 'only pods without a pod label may reach y: none do, so y is closed',
    policies: [
      np('dne', 'y', {
        podSelector: {},
        ingress: [
          {
            from: [
              {
                namespaceSelector: {},
                podSelector: { matchExpressions: [{ key: 'pod', operator: 'DoesNotExist' }] },
              },
            ],
          },
        ],
      }),
    ],
    expect: [{ ports: ALL, base: 'allowed', deny: ['*>y/*'] }],
  },
  // --- ipBlock (pod IPs; the live suite substitutes the real pod IPs through the oracle's model)
  {
    name: 'ipblock-ingress-cidr',
    tags: ['ingress', 'peer-ipblock', 'ip-block-no-except'],
    description: 'x/a admits the /32 of z/b (ipBlock on a pod IP)',
    policies: [
      np('ip', 'x', {
        podSelector: pods('a'),
        ingress: [{ from: [{ ipBlock: { cidr: '{{ip z/b}}/32' } }] }],
      }),
    ],
  },
  {
    name: 'ipblock-ingress-except',
    tags: ['ingress', 'peer-ipblock', 'ip-block-with-except'],
    description: 'x/a admits 0.0.0.0/0 except the /32 of y/c',
    policies: [
      np('ip-except', 'x', {
        podSelector: pods('a'),
        ingress: [{ from: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['{{ip y/c}}/32'] } }] }],
      }),
    ],
    expect: [{ ports: ALL, base: 'allowed', deny: ['y/c>x/a'] }],
  },
  {
    name: 'ipblock-egress-except',
    tags: ['egress', 'peer-ipblock', 'ip-block-with-except'],
    description: 'z/* may reach 0.0.0.0/0 except the /32 of x/a',
    policies: [
      np('eg-ip', 'z', {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['{{ip x/a}}/32'] } }] }],
      }),
    ],
    expect: [{ ports: ALL, base: 'allowed', deny: ['z/*>x/a'] }],
  },
  // --- ports and protocols
  {
    name: 'port-numbered-defaults-to-tcp',
    tags: ['ingress', 'numbered-port', 'tcp', 'upstream-e2e'],
    description: 'port 80 without protocol is TCP/80: UDP/80 and 81 are denied',
    policies: [np('p80', 'x', { podSelector: {}, ingress: [{ ports: [{ port: 80 }] }] })],
    expect: [
      { ports: ['TCP/80'], base: 'allowed', deny: [] },
      { ports: ['UDP/80', 'TCP/81', 'UDP/81'], base: 'allowed', deny: ['*>x/*'] },
    ],
  },
  {
    name: 'port-numbered-udp',
    tags: ['ingress', 'numbered-port', 'udp'],
    description: 'UDP/81 only into y',
    policies: [np('u81', 'y', { podSelector: {}, ingress: [{ ports: [{ port: 81, protocol: 'UDP' }] }] })],
  },
  {
    name: 'port-named-tcp',
    tags: ['ingress', 'named-port', 'tcp', 'upstream-e2e'],
    description: 'named port serve-80-tcp into x, resolved on the destination pod',
    policies: [np('named', 'x', { podSelector: {}, ingress: [{ ports: [{ port: 'serve-80-tcp' }] }] })],
  },
  {
    name: 'port-named-udp',
    tags: ['ingress', 'named-port', 'udp'],
    description: 'named port serve-81-udp with protocol UDP into z/b, from x only',
    policies: [
      np('named-udp', 'z', {
        podSelector: pods('b'),
        ingress: [
          { from: [{ namespaceSelector: nsSel('x') }], ports: [{ port: 'serve-81-udp', protocol: 'UDP' }] },
        ],
      }),
    ],
  },
  {
    name: 'port-protocol-only',
    tags: ['ingress', 'any-port', 'udp'],
    description: 'protocol UDP without a port: every UDP port into x, no TCP',
    policies: [np('udp', 'x', { podSelector: {}, ingress: [{ ports: [{ protocol: 'UDP' }] }] })],
  },
  {
    name: 'port-end-port-range',
    tags: ['ingress', 'end-port', 'tcp'],
    description: 'TCP 80-81 via endPort into y; UDP denied',
    policies: [
      np('range', 'y', {
        podSelector: {},
        ingress: [{ ports: [{ port: 80, endPort: 81, protocol: 'TCP' }] }],
      }),
    ],
  },
  {
    name: 'port-end-port-excludes-below',
    tags: ['ingress', 'end-port', 'tcp'],
    description: 'TCP 81-100 via endPort into z: 80 is outside the range',
    policies: [np('range2', 'z', { podSelector: {}, ingress: [{ ports: [{ port: 81, endPort: 100 }] }] })],
    expect: [
      { ports: ['TCP/81'], base: 'allowed', deny: [] },
      { ports: ['TCP/80', 'UDP/80', 'UDP/81'], base: 'allowed', deny: ['*>z/*'] },
    ],
  },
  {
    name: 'multi-port-rule',
    tags: ['ingress', 'multi-port/protocol', 'numbered-port', 'named-port'],
    description: 'one rule with TCP/81 and the named serve-80-udp',
    policies: [
      np('multi', 'x', {
        podSelector: pods('b'),
        ingress: [{ ports: [{ port: 81 }, { port: 'serve-80-udp', protocol: 'UDP' }] }],
      }),
    ],
  },
  {
    name: 'rules-combine-peers-and-ports',
    tags: ['ingress', 'multi-rule', 'peer-pods', 'numbered-port'],
    description: 'rule 1: y on TCP/80; rule 2: z on UDP/81 (each rule pairs its own peers and ports)',
    policies: [
      np('two-rules', 'x', {
        podSelector: {},
        ingress: [
          { from: [{ namespaceSelector: nsSel('y') }], ports: [{ port: 80 }] },
          { from: [{ namespaceSelector: nsSel('z') }], ports: [{ port: 81, protocol: 'UDP' }] },
        ],
      }),
    ],
    expect: [
      { ports: ['TCP/80'], base: 'allowed', deny: ['x/*>x/*', 'z/*>x/*'] },
      { ports: ['UDP/81'], base: 'allowed', deny: ['x/*>x/*', 'y/*>x/*'] },
      { ports: ['TCP/81', 'UDP/80'], base: 'allowed', deny: ['*>x/*'] },
    ],
  },
  // --- egress and both
  {
    name: 'egress-to-namespace',
    tags: ['egress', 'peer-pods', 'namespaces-by-label'],
    description: 'y/a may only reach z',
    policies: [
      np('to-z', 'y', {
        podSelector: pods('a'),
        policyTypes: ['Egress'],
        egress: [{ to: [{ namespaceSelector: nsSel('z') }] }],
      }),
    ],
  },
  {
    name: 'egress-to-pod-named-port',
    tags: ['egress', 'named-port', 'pods-by-label'],
    description: 'x/* may reach the c pods of every namespace on serve-81-tcp only',
    policies: [
      np('to-c', 'x', {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [
          { to: [{ namespaceSelector: {}, podSelector: pods('c') }], ports: [{ port: 'serve-81-tcp' }] },
        ],
      }),
    ],
  },
  {
    name: 'egress-allow-all-empty-to',
    tags: ['egress', 'allow-all'],
    description: 'an egress rule with no to allows every destination',
    policies: [np('all-out', 'z', { podSelector: {}, policyTypes: ['Egress'], egress: [{}] })],
    expect: [{ ports: ALL, base: 'allowed', deny: [] }],
  },
  {
    name: 'ingress-and-egress-both-needed',
    tags: ['ingress', 'egress', 'union'],
    description: 'y/a may only reach x; x/b admits only z: y/a → x/b is denied by the destination',
    policies: [
      np('eg', 'y', {
        podSelector: pods('a'),
        policyTypes: ['Egress'],
        egress: [{ to: [{ namespaceSelector: nsSel('x') }] }],
      }),
      np('in', 'x', { podSelector: pods('b'), ingress: [{ from: [{ namespaceSelector: nsSel('z') }] }] }),
    ],
    expect: [
      { ports: ['TCP/80'], base: 'allowed', deny: ['y/a>y/*', 'y/a>z/*', '*>x/b'], allow: ['z/*>x/b'] },
    ],
  },
  {
    name: 'union-of-two-policies',
    tags: ['ingress', 'union', 'pods-by-label'],
    description: 'two policies on z/c: one admits b pods, one admits a pods (of z)',
    policies: [
      np('from-b', 'z', { podSelector: pods('c'), ingress: [{ from: [{ podSelector: pods('b') }] }] }),
      np('from-a', 'z', { podSelector: pods('c'), ingress: [{ from: [{ podSelector: pods('a') }] }] }),
    ],
    expect: [{ ports: ALL, base: 'allowed', deny: ['x/*>z/c', 'y/*>z/c'] }],
  },
  {
    name: 'deny-all-two-namespaces',
    tags: ['ingress', 'deny-all', 'target-namespace'],
    description: 'deny-all in y and z: only x is open',
    policies: [denyAllIngress('y'), denyAllIngress('z')],
    expect: [{ ports: ALL, base: 'denied', allow: ['*>x/*'] }],
  },
  {
    name: 'egress-deny-ingress-allow',
    tags: ['egress', 'ingress', 'deny-all'],
    description: 'x denies all egress; y admits x explicitly: still denied at the source',
    policies: [
      np('no-out', 'x', { podSelector: {}, policyTypes: ['Egress'] }),
      np('from-x', 'y', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: nsSel('x') }] }] }),
    ],
  },
  // --- Calico policy (projectcalico.org/v3)
  {
    name: 'calico-gnp-deny-before-k8s-allow',
    tags: ['calico', 'gnp', 'deny', 'order'],
    requires: ['calico-api'],
    description: 'GNP order 10 denies y → a pods; a k8s allow-all on x (order 1000) cannot override it',
    policies: [
      np('allow-all', 'x', { podSelector: {}, ingress: [{}] }),
      gnp('deny-y-to-a', {
        order: 10,
        selector: "pod == 'a'",
        ingress: [{ action: 'Deny', source: { namespaceSelector: "ns == 'y'" } }, { action: 'Pass' }],
      }),
    ],
    expect: [{ ports: ALL, base: 'allowed', deny: ['y/*>*/a'] }],
  },
  {
    name: 'calico-allow-before-deny',
    tags: ['calico', 'order', 'allow', 'deny'],
    requires: ['calico-api'],
    description: 'x/a: Allow from x/b at order 100, Deny all at order 200',
    policies: [
      cnp('allow-b', 'x', {
        order: 100,
        selector: "pod == 'a'",
        ingress: [{ action: 'Allow', source: { selector: "pod == 'b'" } }],
      }),
      cnp('deny-all', 'x', { order: 200, selector: "pod == 'a'", ingress: [{ action: 'Deny' }] }),
    ],
    expect: [{ ports: ALL, base: 'allowed', deny: ['*>x/a'], allow: ['x/b>x/a'] }],
  },
  {
    name: 'calico-deny-before-allow',
    tags: ['calico', 'order', 'allow', 'deny'],
    requires: ['calico-api'],
    description: 'the same two policies with the orders swapped: the Deny decides first',
    policies: [
      cnp('allow-b', 'x', {
        order: 300,
        selector: "pod == 'a'",
        ingress: [{ action: 'Allow', source: { selector: "pod == 'b'" } }],
      }),
      cnp('deny-all', 'x', { order: 200, selector: "pod == 'a'", ingress: [{ action: 'Deny' }] }),
    ],
    expect: [{ ports: ALL, base: 'allowed', deny: ['*>x/a'] }],
  },
  {
    name: 'calico-pass-skips-k8s-deny',
    tags: ['calico', 'pass', 'order'],
    requires: ['calico-api'],
    description:
      'k8s deny-all in x; a Calico Pass for sources in z skips the rest of the tier to the namespace profile (allow)',
    policies: [
      denyAllIngress('x'),
      cnp('pass-z', 'x', {
        order: 10,
        ingress: [{ action: 'Pass', source: { namespaceSelector: "ns == 'z'" } }],
      }),
    ],
    expect: [{ ports: ALL, base: 'allowed', deny: ['x/*>x/*', 'y/*>x/*'] }],
  },
  {
    name: 'calico-deny-udp-over-k8s-allow',
    tags: ['calico', 'deny', 'udp', 'order'],
    requires: ['calico-api'],
    description: 'k8s allow-all into y; Calico Deny UDP at order 500 wins on UDP only',
    policies: [
      np('allow-all', 'y', { podSelector: {}, ingress: [{}] }),
      cnp('deny-udp', 'y', { order: 500, ingress: [{ action: 'Deny', protocol: 'UDP' }] }),
    ],
    expect: [
      { ports: ['TCP/80', 'TCP/81'], base: 'allowed', deny: [] },
      { ports: ['UDP/80', 'UDP/81'], base: 'allowed', deny: ['*>y/*'] },
    ],
  },
  {
    name: 'calico-gnp-egress-deny',
    tags: ['calico', 'gnp', 'egress', 'deny'],
    requires: ['calico-api'],
    description: 'GNP on x: Deny egress to z, then Allow the rest',
    policies: [
      gnp('x-not-to-z', {
        order: 20,
        namespaceSelector: "ns == 'x'",
        egress: [{ action: 'Deny', destination: { namespaceSelector: "ns == 'z'" } }, { action: 'Allow' }],
      }),
    ],
    expect: [{ ports: ALL, base: 'allowed', deny: ['x/*>z/*'] }],
  },
  {
    name: 'calico-no-order-after-k8s',
    tags: ['calico', 'order', 'deny'],
    requires: ['calico-api'],
    description: 'a Calico Deny without order comes after the k8s policy (order 1000), which allows z first',
    policies: [
      np('from-z', 'y', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: nsSel('z') }] }] }),
      cnp('deny-last', 'y', { ingress: [{ action: 'Deny' }] }),
    ],
    expect: [{ ports: ALL, base: 'allowed', deny: ['x/*>y/*', 'y/*>y/*'] }],
  },
  {
    name: 'calico-log-continues',
    tags: ['calico', 'log', 'deny'],
    requires: ['calico-api'],
    description: 'Log then Allow from x: Log decides nothing; the end of the tier denies the rest',
    policies: [
      cnp('log', 'z', {
        order: 50,
        selector: "pod == 'a'",
        ingress: [{ action: 'Log' }, { action: 'Allow', source: { namespaceSelector: "ns == 'x'" } }],
      }),
    ],
    expect: [{ ports: ALL, base: 'allowed', deny: ['y/*>z/a', 'z/*>z/a'] }],
  },
  {
    name: 'calico-not-selector',
    tags: ['calico', 'selector'],
    requires: ['calico-api'],
    description:
      "z/b admits only z/a: a namespaced Calico policy's notSelector, like its selector, is scoped to the " +
      "policy's namespace (libcalico-go updateprocessors/rules.go getEndpointSelector; the lab's first " +
      'real run of this scenario showed x and y denied, which the catalogue had expected allowed)',
    policies: [
      cnp('not-c', 'z', {
        order: 60,
        selector: "pod == 'b'",
        ingress: [{ action: 'Allow', source: { notSelector: "pod == 'c'" } }],
      }),
    ],
    expect: [{ ports: ALL, base: 'allowed', deny: ['*>z/b'], allow: ['z/a>z/b'] }],
  },
  {
    name: 'calico-selector-operators',
    tags: ['calico', 'selector', 'gnp'],
    requires: ['calico-api'],
    description:
      "GNP on pods with pod != 'a' in y: Allow from pod in {'a'} of any model namespace, else end-of-tier deny",
    policies: [
      gnp('ops', {
        order: 70,
        namespaceSelector: "ns == 'y'",
        selector: "pod != 'a'",
        ingress: [{ action: 'Allow', source: { namespaceSelector: 'has(ns)', selector: "pod in {'a'}" } }],
      }),
    ],
    expect: [{ ports: ALL, base: 'allowed', deny: ['*>y/b', '*>y/c'], allow: ['*/a>y/b', '*/a>y/c'] }],
  },
  {
    name: 'calico-nets',
    tags: ['calico', 'nets'],
    requires: ['calico-api'],
    description: 'x/c admits nets = the /32 of y/a, except via notNets nothing else',
    policies: [
      cnp('nets', 'x', {
        order: 80,
        selector: "pod == 'c'",
        ingress: [
          {
            action: 'Allow',
            source: { nets: ['{{ip y/a}}/32', '{{ip y/b}}/32'], notNets: ['{{ip y/b}}/32'] },
          },
        ],
      }),
    ],
    expect: [{ ports: ALL, base: 'denied', allow: ['*>x/a', '*>x/b', '*>y/*', '*>z/*', 'y/a>x/c'] }],
  },
  {
    name: 'calico-ports-named-and-range',
    tags: ['calico', 'named-port', 'port-range'],
    requires: ['calico-api'],
    description: 'into y/c: Allow TCP serve-80-tcp, Allow UDP 80:81, deny the rest (TCP/81)',
    policies: [
      cnp('ports', 'y', {
        order: 90,
        selector: "pod == 'c'",
        ingress: [
          { action: 'Allow', protocol: 'TCP', destination: { ports: ['serve-80-tcp'] } },
          { action: 'Allow', protocol: 'UDP', destination: { ports: ['80:81'] } },
        ],
      }),
    ],
    expect: [
      { ports: ['TCP/80', 'UDP/80', 'UDP/81'], base: 'allowed', deny: [] },
      { ports: ['TCP/81'], base: 'allowed', deny: ['*>y/c'] },
    ],
  },
  {
    name: 'calico-pass-then-k8s-egress',
    tags: ['calico', 'pass', 'egress'],
    requires: ['calico-api'],
    description:
      'k8s egress deny-all in z; Calico egress Pass to x skips it (profile allows), the rest stays denied',
    policies: [
      np('no-out', 'z', { podSelector: {}, policyTypes: ['Egress'] }),
      cnp('pass-to-x', 'z', {
        order: 5,
        egress: [{ action: 'Pass', destination: { namespaceSelector: "ns == 'x'" } }],
      }),
    ],
    expect: [{ ports: ALL, base: 'allowed', deny: ['z/*>y/*', 'z/*>z/*'] }],
  },
];

/** Substitutes `{{ip ns/pod}}` placeholders (ipBlock and nets scenarios) with the model's pod IPs. */
export function resolvePlaceholders(policies: object[], ipOf: (pod: string) => string | undefined): object[] {
  return policies.map((p) =>
    JSON.parse(
      JSON.stringify(p).replace(/\{\{ip ([a-z0-9-]+\/[a-z0-9-]+)\}\}/g, (_, pod: string) => {
        const ip = ipOf(pod);
        if (!ip)
          throw new UsageError(`scenario placeholder {{ip ${pod}}}: no such pod in the model`, 'policies');
        return ip;
      }),
    ),
  );
}

export interface ScenarioSelection {
  /** regular expression over the scenario name */
  name?: string;
  /** keep scenarios carrying any of these tags */
  tags?: string[];
}

/** Selects by name regex and/or tags; a bad regex or an unknown tag is a UsageError naming the field. */
export function selectScenarios(
  sel: ScenarioSelection = {},
  from: readonly PolicyScenario[] = SCENARIOS,
): PolicyScenario[] {
  let re: RegExp | undefined;
  if (sel.name !== undefined) {
    try {
      re = new RegExp(sel.name);
    } catch (err) {
      throw new UsageError(
        `--select: ${JSON.stringify(sel.name)} is not a regular expression: ${(err as Error).message}`,
        'select',
      );
    }
  }
  const known = new Set(from.flatMap((s) => s.tags));
  for (const t of sel.tags ?? []) {
    if (!known.has(t))
      throw new UsageError(
        `--tag: ${JSON.stringify(t)} is not a tag of the catalogue; tags: ${[...known].sort().join(', ')}`,
        'tag',
      );
  }
  return from.filter(
    (s) =>
      (!re || re.test(s.name)) &&
      (!sel.tags || sel.tags.length === 0 || s.tags.some((t) => sel.tags!.includes(t))),
  );
}

/** Expands a hand expectation into per-port cells over the given pods ("ns/pod"). */
export function expandHandExpectation(
  exp: HandExpectation,
  peers: readonly string[],
): { port: number; protocol: Protocol; from: string; to: string; allowed: boolean }[] {
  const matches = (pattern: string, pod: string) => {
    if (pattern === '*') return true;
    const [pns, ppod] = pattern.split('/') as [string, string];
    const [ns, name] = pod.split('/') as [string, string];
    return (pns === '*' || pns === ns) && (ppod === '*' || ppod === name);
  };
  const split = (xs: string[] | undefined) => (xs ?? []).map((f) => f.split('>') as [string, string]);
  const deny = split(exp.deny);
  const allow = split(exp.allow);
  const hit = (pats: [string, string][], from: string, to: string) =>
    pats.some(([f, t]) => matches(f, from) && matches(t, to));
  const out: { port: number; protocol: Protocol; from: string; to: string; allowed: boolean }[] = [];
  for (const pp of exp.ports) {
    const [protocol, port] = pp.split('/') as [Protocol, string];
    for (const from of peers)
      for (const to of peers) {
        if (from === to) continue;
        let allowed = exp.base === 'allowed';
        if (hit(deny, from, to)) allowed = false;
        if (hit(allow, from, to)) allowed = true;
        out.push({ port: Number(port), protocol, from, to, allowed });
      }
  }
  return out;
}
