/**
 * The oracle against hand-written expectations, one feature at a time, on the netpol e2e model
 * (x,y,z × a,b,c; ports 80/81 TCP/UDP). Expectations are written as data the way the e2e writes them
 * (start from all-allowed or all-denied, then set rows/columns/cells), never computed by the oracle.
 */
import { describe, expect, it } from 'vitest';
import type { Protocol } from '../../../harness/model/connectivity.js';
import { standardModel } from '../../../harness/policy/model.js';
import { expectTruthTable, type TruthTable } from '../../../harness/policy/oracle.js';
import { validatePolicies } from '../../../harness/policy/parse.js';

const PODS = ['x/a', 'x/b', 'x/c', 'y/a', 'y/b', 'y/c', 'z/a', 'z/b', 'z/c'];
const model = standardModel();

/** An expected 9×9 table for one port (self pairs excluded). */
class Expect {
  readonly cells = new Map<string, boolean>();
  constructor(all: boolean) {
    for (const f of PODS) for (const t of PODS) if (f !== t) this.cells.set(`${f}>${t}`, all);
  }
  set(from: string | ((p: string) => boolean), to: string | ((p: string) => boolean), v: boolean): this {
    const mf = typeof from === 'string' ? (p: string) => p === from || from === '*' : from;
    const mt = typeof to === 'string' ? (p: string) => p === to || to === '*' : to;
    for (const f of PODS) for (const t of PODS) if (f !== t && mf(f) && mt(t)) this.cells.set(`${f}>${t}`, v);
    return this;
  }
}
const inNs = (ns: string) => (p: string) => p.startsWith(`${ns}/`);
const pods = (pod: string) => ({ matchLabels: { pod } });
const isPod = (pod: string) => (p: string) => p.endsWith(`/${pod}`);

function diff(
  table: TruthTable,
  port: number,
  protocol: Protocol,
  exp: Expect,
  field: 'allowed' | 'egress' | 'ingress' = 'allowed',
) {
  const wrong: string[] = [];
  for (const [k, v] of exp.cells) {
    const [f, t] = k.split('>') as [string, string];
    const e = table.get(f, t, port, protocol);
    if (!e) throw new Error(`no entry ${k}`);
    if (e[field] !== v) wrong.push(`${k} ${protocol}/${port}: expected ${v ? 'allowed' : 'denied'}`);
  }
  return wrong;
}

function tableFor(...docs: object[]) {
  return expectTruthTable(model, validatePolicies(docs));
}

const np = (name: string, namespace: string, spec: object) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name, namespace },
  spec,
});
const cnp = (name: string, namespace: string, spec: object) => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'NetworkPolicy',
  metadata: { name, namespace },
  spec,
});
const gnp = (name: string, spec: object) => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'GlobalNetworkPolicy',
  metadata: { name },
  spec,
});

const ALL_PORTS: [number, Protocol][] = [
  [80, 'TCP'],
  [80, 'UDP'],
  [81, 'TCP'],
  [81, 'UDP'],
];

describe('oracle: Kubernetes NetworkPolicy semantics', () => {
  it('no policies: every ordered pair of distinct pods on every port is allowed, 9×8×4 entries', () => {
    const t = tableFor();
    expect(t.size).toBe(288);
    expect([...t.entries()]).toHaveLength(288);
    for (const [port, proto] of ALL_PORTS) expect(diff(t, port, proto, new Expect(true))).toEqual([]);
  });

  it('deny-all ingress in x (empty podSelector = every pod of the namespace) isolates only x', () => {
    const t = tableFor(np('deny', 'x', { podSelector: {} }));
    for (const [port, proto] of ALL_PORTS) {
      expect(diff(t, port, proto, new Expect(true).set('*', inNs('x'), false))).toEqual([]);
      // the destination side denies; the source side (no egress policy) allows
      expect(diff(t, port, proto, new Expect(true), 'egress')).toEqual([]);
      expect(diff(t, port, proto, new Expect(true).set('*', inNs('x'), false), 'ingress')).toEqual([]);
    }
  });

  it('policyTypes defaults to Ingress+Egress when egress rules exist: an ingress section is not needed to isolate ingress', () => {
    const t = tableFor(
      np('eg', 'x', { podSelector: { matchLabels: { pod: 'a' } }, egress: [{ to: [{ podSelector: {} }] }] }),
    );
    const exp = new Expect(true)
      .set('*', 'x/a', false) // ingress isolated, no ingress rules
      .set('x/a', (p) => !p.startsWith('x/'), false); // egress only to pods of x
    for (const [port, proto] of ALL_PORTS) expect(diff(t, port, proto, exp)).toEqual([]);
  });

  it('an empty egress list does not make the policy an egress policy', () => {
    const t = tableFor(np('e', 'x', { podSelector: { matchLabels: { pod: 'a' } }, egress: [] }));
    expect(diff(t, 80, 'TCP', new Expect(true).set('*', 'x/a', false))).toEqual([]);
  });

  it('policyTypes [Egress] alone leaves ingress open and denies all egress of the selected pods', () => {
    const t = tableFor(np('e', 'y', { podSelector: {}, policyTypes: ['Egress'], ingress: [{}] }));
    expect(diff(t, 81, 'UDP', new Expect(true).set(inNs('y'), '*', false))).toEqual([]);
  });

  it('an empty policyTypes list is defaulted like an absent one', () => {
    const t = tableFor(
      np('e', 'x', { podSelector: pods('a'), policyTypes: [], egress: [{ to: [{ podSelector: {} }] }] }),
    );
    expect(
      diff(
        t,
        80,
        'TCP',
        new Expect(true).set('*', 'x/a', false).set('x/a', (p) => !p.startsWith('x/'), false),
      ),
    ).toEqual([]);
  });

  it('policyTypes [Ingress, Egress] with no rules isolates both directions', () => {
    const t = tableFor(
      np('both', 'z', { podSelector: { matchLabels: { pod: 'c' } }, policyTypes: ['Ingress', 'Egress'] }),
    );
    expect(diff(t, 80, 'TCP', new Expect(true).set('*', 'z/c', false).set('z/c', '*', false))).toEqual([]);
  });

  it('policies are a union: two allow policies on the same pod add up', () => {
    const t = tableFor(
      np('from-b', 'x', {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }],
      }),
      np('from-c', 'x', {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'c' } } }] }],
      }),
    );
    const exp = new Expect(true).set('*', 'x/a', false).set('x/b', 'x/a', true).set('x/c', 'x/a', true);
    expect(diff(t, 80, 'TCP', exp)).toEqual([]);
  });

  it('a podSelector peer alone selects pods of the policy namespace only', () => {
    const t = tableFor(
      np('p', 'y', {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }],
      }),
    );
    expect(diff(t, 80, 'TCP', new Expect(true).set('*', 'y/a', false).set('y/b', 'y/a', true))).toEqual([]);
  });

  it('a namespaceSelector peer alone selects every pod of the matching namespaces', () => {
    const t = tableFor(
      np('n', 'x', {
        podSelector: {},
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }],
      }),
    );
    expect(
      diff(t, 80, 'TCP', new Expect(true).set('*', inNs('x'), false).set(inNs('y'), inNs('x'), true)),
    ).toEqual([]);
  });

  it('namespaceSelector and podSelector in one peer AND; in two peers OR', () => {
    const and = tableFor(
      np('and', 'x', {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [
          {
            from: [
              { namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'b' } } },
            ],
          },
        ],
      }),
    );
    expect(diff(and, 80, 'TCP', new Expect(true).set('*', 'x/a', false).set('y/b', 'x/a', true))).toEqual([]);
    const or = tableFor(
      np('or', 'x', {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [
          {
            from: [
              { namespaceSelector: { matchLabels: { ns: 'y' } } },
              { podSelector: { matchLabels: { pod: 'b' } } },
            ],
          },
        ],
      }),
    );
    expect(
      diff(
        or,
        80,
        'TCP',
        new Expect(true).set('*', 'x/a', false).set(inNs('y'), 'x/a', true).set('x/b', 'x/a', true),
      ),
    ).toEqual([]);
  });

  it('an empty namespaceSelector selects every namespace; kubernetes.io/metadata.name is set on every namespace', () => {
    const all = tableFor(
      np('n', 'z', {
        podSelector: { matchLabels: { pod: 'c' } },
        ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { pod: 'a' } } }] }],
      }),
    );
    expect(
      diff(all, 80, 'TCP', new Expect(true).set('*', 'z/c', false).set(isPod('a'), 'z/c', true)),
    ).toEqual([]);
    const byName = tableFor(
      np('n', 'z', {
        podSelector: { matchLabels: { pod: 'c' } },
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'x' } } }] }],
      }),
    );
    expect(
      diff(byName, 80, 'TCP', new Expect(true).set('*', 'z/c', false).set(inNs('x'), 'z/c', true)),
    ).toEqual([]);
  });

  it('matchExpressions: In, NotIn, Exists, DoesNotExist', () => {
    const sel = (expr: object) =>
      tableFor(
        np('m', 'x', {
          podSelector: { matchLabels: { pod: 'a' } },
          ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchExpressions: [expr] } }] }],
        }),
      );
    const base = () => new Expect(true).set('*', 'x/a', false);
    expect(
      diff(
        sel({ key: 'pod', operator: 'In', values: ['b', 'c'] }),
        80,
        'TCP',
        base().set(isPod('b'), 'x/a', true).set(isPod('c'), 'x/a', true),
      ),
    ).toEqual([]);
    expect(
      diff(
        sel({ key: 'pod', operator: 'NotIn', values: ['b'] }),
        80,
        'TCP',
        base().set(isPod('a'), 'x/a', true).set(isPod('c'), 'x/a', true),
      ),
    ).toEqual([]);
    expect(diff(sel({ key: 'pod', operator: 'Exists' }), 80, 'TCP', base().set('*', 'x/a', true))).toEqual(
      [],
    );
    expect(diff(sel({ key: 'pod', operator: 'DoesNotExist' }), 80, 'TCP', base())).toEqual([]);
    // NotIn also matches pods without the key at all
    expect(
      diff(sel({ key: 'tier', operator: 'NotIn', values: ['db'] }), 80, 'TCP', base().set('*', 'x/a', true)),
    ).toEqual([]);
  });

  it('ipBlock with except matches pod IPs (10.0.<ns>.<10+pod>)', () => {
    // 10.0.2.0/24 is namespace y; except 10.0.2.11/32 (y/b)
    const t = tableFor(
      np('ip', 'x', {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [{ from: [{ ipBlock: { cidr: '10.0.2.0/24', except: ['10.0.2.11/32'] } }] }],
      }),
    );
    expect(
      diff(
        t,
        80,
        'TCP',
        new Expect(true).set('*', 'x/a', false).set('y/a', 'x/a', true).set('y/c', 'x/a', true),
      ),
    ).toEqual([]);
  });

  it('egress ipBlock to a whole /16 except one namespace', () => {
    const t = tableFor(
      np('ip', 'z', {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.0.1.0/24'] } }] }],
      }),
    );
    expect(diff(t, 81, 'TCP', new Expect(true).set(inNs('z'), inNs('x'), false))).toEqual([]);
  });

  it('ports: numeric port, protocol defaulting to TCP, other ports and protocols denied', () => {
    const t = tableFor(
      np('p', 'x', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ ports: [{ port: 80 }] }] }),
    );
    expect(diff(t, 80, 'TCP', new Expect(true))).toEqual([]);
    for (const [port, proto] of [
      [80, 'UDP'],
      [81, 'TCP'],
      [81, 'UDP'],
    ] as const)
      expect(diff(t, port, proto, new Expect(true).set('*', 'x/a', false))).toEqual([]);
  });

  it('ports: named port resolved on the destination; a UDP port; a protocol with no port', () => {
    const named = tableFor(
      np('p', 'x', { podSelector: {}, ingress: [{ ports: [{ port: 'serve-81-udp', protocol: 'UDP' }] }] }),
    );
    expect(diff(named, 81, 'UDP', new Expect(true))).toEqual([]);
    expect(diff(named, 80, 'UDP', new Expect(true).set('*', inNs('x'), false))).toEqual([]);
    // a named port with the wrong protocol names nothing (the name belongs to UDP)
    const wrongProto = tableFor(
      np('p', 'x', { podSelector: {}, ingress: [{ ports: [{ port: 'serve-81-udp' }] }] }),
    );
    for (const [port, proto] of ALL_PORTS)
      expect(diff(wrongProto, port, proto, new Expect(true).set('*', inNs('x'), false))).toEqual([]);
    const udp = tableFor(np('p', 'x', { podSelector: {}, ingress: [{ ports: [{ protocol: 'UDP' }] }] }));
    expect(diff(udp, 80, 'UDP', new Expect(true))).toEqual([]);
    expect(diff(udp, 81, 'UDP', new Expect(true))).toEqual([]);
    expect(diff(udp, 81, 'TCP', new Expect(true).set('*', inNs('x'), false))).toEqual([]);
  });

  it('ports: endPort makes an inclusive range', () => {
    const t = tableFor(
      np('r', 'y', { podSelector: {}, ingress: [{ ports: [{ port: 81, endPort: 90, protocol: 'TCP' }] }] }),
    );
    expect(diff(t, 81, 'TCP', new Expect(true))).toEqual([]);
    expect(diff(t, 80, 'TCP', new Expect(true).set('*', inNs('y'), false))).toEqual([]);
    const t2 = tableFor(np('r', 'y', { podSelector: {}, ingress: [{ ports: [{ port: 70, endPort: 80 }] }] }));
    expect(diff(t2, 80, 'TCP', new Expect(true))).toEqual([]);
    expect(diff(t2, 81, 'TCP', new Expect(true).set('*', inNs('y'), false))).toEqual([]);
  });

  it('empty from/to means everyone; a rule without ports means every port', () => {
    const t = tableFor(
      np('all', 'x', {
        podSelector: {},
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{}],
        egress: [{ to: [] }],
      }),
    );
    for (const [port, proto] of ALL_PORTS) expect(diff(t, port, proto, new Expect(true))).toEqual([]);
  });

  it('allowed needs both sides: egress from y/a to x only, ingress of x/b from z only', () => {
    const t = tableFor(
      np('eg', 'y', {
        podSelector: { matchLabels: { pod: 'a' } },
        policyTypes: ['Egress'],
        egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: 'x' } } }] }],
      }),
      np('in', 'x', {
        podSelector: { matchLabels: { pod: 'b' } },
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'z' } } }] }],
      }),
    );
    const e = t.get('y/a', 'x/b', 80, 'TCP')!;
    expect(e).toEqual({
      from: 'y/a',
      to: 'x/b',
      port: 80,
      protocol: 'TCP',
      egress: true,
      ingress: false,
      allowed: false,
    });
    const exp = new Expect(true)
      .set('y/a', (p) => !p.startsWith('x/'), false)
      .set('*', 'x/b', false)
      .set(inNs('z'), 'x/b', true);
    expect(diff(t, 80, 'TCP', exp)).toEqual([]);
  });

  it('a policy in a namespace with no pods selects nothing', () => {
    const t = tableFor(np('d', 'default', { podSelector: {} }));
    expect(diff(t, 80, 'TCP', new Expect(true))).toEqual([]);
  });
});

describe('oracle: Calico policy ordering and actions', () => {
  it('a GlobalNetworkPolicy Deny at order 10 wins over a Kubernetes allow (order 1000)', () => {
    const t = tableFor(
      np('allow-all', 'x', { podSelector: {}, ingress: [{}] }),
      gnp('deny-from-y', {
        order: 10,
        selector: "pod == 'a'",
        ingress: [{ action: 'Deny', source: { namespaceSelector: "ns == 'y'" } }],
      }),
    );
    // GNP applies to every x/a-like pod (pod == 'a' in x, y, z): y → *a denied; remaining traffic to y/a, z/a
    // falls through to the end of the tier (a policy applied, no rule matched) and is denied too
    const exp = new Expect(true)
      .set('*', (p) => p === 'y/a' || p === 'z/a', false)
      .set(inNs('y'), 'x/a', false);
    expect(diff(t, 80, 'TCP', exp)).toEqual([]);
  });

  it('ordering: Allow at order 100 before Deny at order 200; swapping the orders flips the result', () => {
    const allowB = (order: number) =>
      cnp('allow-b', 'x', {
        order,
        selector: "pod == 'a'",
        ingress: [{ action: 'Allow', source: { selector: "pod == 'b'" } }],
      });
    const denyAll = (order: number) =>
      cnp('deny', 'x', { order, selector: "pod == 'a'", ingress: [{ action: 'Deny' }] });
    const first = tableFor(allowB(100), denyAll(200));
    expect(diff(first, 80, 'TCP', new Expect(true).set('*', 'x/a', false).set('x/b', 'x/a', true))).toEqual(
      [],
    );
    const second = tableFor(allowB(300), denyAll(200));
    expect(diff(second, 80, 'TCP', new Expect(true).set('*', 'x/a', false))).toEqual([]);
  });

  it('Pass skips the rest of the tier, including Kubernetes policies, and the namespace profile allows', () => {
    const t = tableFor(
      np('deny-all', 'x', { podSelector: {} }),
      cnp('pass-y', 'x', {
        order: 10,
        ingress: [{ action: 'Pass', source: { namespaceSelector: "ns == 'y'" } }],
      }),
    );
    expect(
      diff(t, 80, 'TCP', new Expect(true).set('*', inNs('x'), false).set(inNs('y'), inNs('x'), true)),
    ).toEqual([]);
  });

  it('a policy without order comes after order 1000: the Kubernetes allow decides first', () => {
    const t = tableFor(
      np('allow-from-z', 'x', {
        podSelector: {},
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'z' } } }] }],
      }),
      cnp('deny-last', 'x', { ingress: [{ action: 'Deny' }] }),
    );
    expect(
      diff(t, 80, 'TCP', new Expect(true).set('*', inNs('x'), false).set(inNs('z'), inNs('x'), true)),
    ).toEqual([]);
  });

  it('Log does not decide; end of tier denies when a policy applied', () => {
    const t = tableFor(cnp('log', 'y', { order: 1, selector: "pod == 'c'", ingress: [{ action: 'Log' }] }));
    expect(diff(t, 80, 'TCP', new Expect(true).set('*', 'y/c', false))).toEqual([]);
  });

  it('egress Deny to a namespace with a GNP; types defaults to Egress when only egress rules exist', () => {
    const t = tableFor(
      gnp('no-z', {
        order: 5,
        selector: 'has(pod)',
        namespaceSelector: "ns == 'x'",
        egress: [{ action: 'Deny', destination: { namespaceSelector: "ns == 'z'" } }, { action: 'Allow' }],
      }),
    );
    expect(diff(t, 80, 'TCP', new Expect(true).set(inNs('x'), inNs('z'), false))).toEqual([]);
    expect(diff(t, 80, 'TCP', new Expect(true), 'ingress')).toEqual([]);
  });

  it('selector operators: != and not in also match pods without the label; notSelector; projectcalico.org/namespace', () => {
    const t = tableFor(
      gnp('g', {
        order: 1,
        selector: "projectcalico.org/namespace == 'z' && pod != 'a'",
        ingress: [{ action: 'Allow', source: { notSelector: "pod in {'b'}" } }],
      }),
    );
    // z/b and z/c are selected; everyone but the b pods gets in
    expect(
      diff(
        t,
        80,
        'TCP',
        new Expect(true).set(isPod('b'), (p) => p === 'z/b' || p === 'z/c', false),
      ),
    ).toEqual([]);
    const t2 = tableFor(
      cnp('n', 'x', {
        order: 1,
        selector: "tier not in {'db'}",
        ingress: [{ action: 'Deny', source: { selector: "pod starts with 'c'" } }, { action: 'Allow' }],
      }),
    );
    expect(diff(t2, 80, 'TCP', new Expect(true).set('x/c', inNs('x'), false))).toEqual([]);
  });

  it("a namespaced policy's notSelector alone is scoped to the policy's namespace (as the lab's real Calico v3.31.0 enforced it)", () => {
    // calico-not-selector on the lab (bench:policy, 2026-12-06): x/* and y/* to z/b timed out, z/a connected
    const t = tableFor(
      cnp('not-c', 'z', {
        order: 60,
        selector: "pod == 'b'",
        ingress: [{ action: 'Allow', source: { notSelector: "pod == 'c'" } }],
      }),
    );
    expect(diff(t, 80, 'TCP', new Expect(true).set('*', 'z/b', false).set('z/a', 'z/b', true))).toEqual([]);
    // a GlobalNetworkPolicy has no namespace: there notSelector alone still admits every namespace
    const g = tableFor(
      gnp('not-c', {
        order: 60,
        selector: "projectcalico.org/namespace == 'z' && pod == 'b'",
        ingress: [{ action: 'Allow', source: { notSelector: "pod == 'c'" } }],
      }),
    );
    expect(diff(g, 80, 'TCP', new Expect(true).set(isPod('c'), 'z/b', false))).toEqual([]);
  });

  it('rule nets/notNets, numbered and named ports, port ranges and numeric protocols', () => {
    const t = tableFor(
      cnp('c', 'x', {
        order: 1,
        selector: "pod == 'a'",
        ingress: [
          {
            action: 'Allow',
            protocol: 'TCP',
            source: { nets: ['10.0.2.0/24'], notNets: ['10.0.2.12/32'] },
            destination: { ports: ['serve-80-tcp'] },
          },
          { action: 'Allow', protocol: 17, destination: { ports: ['80:81'] } },
        ],
      }),
    );
    // TCP/80 from y/a and y/b only
    expect(
      diff(
        t,
        80,
        'TCP',
        new Expect(true).set('*', 'x/a', false).set('y/a', 'x/a', true).set('y/b', 'x/a', true),
      ),
    ).toEqual([]);
    expect(diff(t, 81, 'TCP', new Expect(true).set('*', 'x/a', false))).toEqual([]);
    expect(diff(t, 80, 'UDP', new Expect(true))).toEqual([]);
    expect(diff(t, 81, 'UDP', new Expect(true))).toEqual([]);
  });

  it('a NetworkPolicy rule selector is scoped to its namespace unless a namespaceSelector is given', () => {
    const t = tableFor(
      cnp('s', 'y', {
        order: 1,
        selector: "pod == 'a'",
        ingress: [{ action: 'Allow', source: { selector: "pod == 'b'" } }],
      }),
    );
    expect(diff(t, 80, 'TCP', new Expect(true).set('*', 'y/a', false).set('y/b', 'y/a', true))).toEqual([]);
    const g = tableFor(
      gnp('s', {
        order: 1,
        selector: "pod == 'a' && projectcalico.org/namespace == 'y'",
        ingress: [{ action: 'Allow', source: { selector: "pod == 'b'" } }],
      }),
    );
    expect(diff(g, 80, 'TCP', new Expect(true).set('*', 'y/a', false).set(isPod('b'), 'y/a', true))).toEqual(
      [],
    );
  });

  it('a Calico Deny on one port with Kubernetes allows on the rest', () => {
    const t = tableFor(
      np('allow', 'z', { podSelector: {}, ingress: [{}] }),
      cnp('deny-81', 'z', {
        order: 500,
        ingress: [{ action: 'Deny', protocol: 'TCP', destination: { ports: [81] } }],
      }),
    );
    expect(diff(t, 81, 'TCP', new Expect(true).set('*', inNs('z'), false))).toEqual([]);
    expect(diff(t, 80, 'TCP', new Expect(true))).toEqual([]);
    expect(diff(t, 81, 'UDP', new Expect(true))).toEqual([]);
  });
});
