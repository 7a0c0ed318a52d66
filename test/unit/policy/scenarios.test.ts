import { describe, expect, it } from 'vitest';
import { standardModel } from '../../../harness/policy/model.js';
import { expectTruthTable } from '../../../harness/policy/oracle.js';
import { validatePolicies } from '../../../harness/policy/parse.js';
import {
  expandHandExpectation,
  requirementsOf,
  resolvePlaceholders,
  SCENARIOS,
  selectScenarios,
  usesCalicoApi,
} from '../../../harness/policy/scenarios.js';
import { schemaProblem } from '../../../harness/policy/schema.js';
import { type PolicyModel, podKey } from '../../../harness/policy/types.js';

const model = standardModel();
const ipOf = (key: string) => model.pods.find((p) => podKey(p) === key)?.ip;
const resolved = (s: (typeof SCENARIOS)[number]) => resolvePlaceholders(s.policies, ipOf);

describe('scenario catalogue', () => {
  it('has at least 40 scenarios with unique names, tags and descriptions', () => {
    expect(SCENARIOS.length).toBeGreaterThanOrEqual(40);
    expect(new Set(SCENARIOS.map((s) => s.name)).size).toBe(SCENARIOS.length);
    for (const s of SCENARIOS) {
      expect(s.name).toMatch(/^[a-z0-9-]+$/);
      expect(s.tags.length, s.name).toBeGreaterThan(0);
      expect(s.description.length, s.name).toBeGreaterThan(10);
      expect(s.policies.length, s.name).toBeGreaterThan(0);
    }
  });

  it('covers every feature of the oracle and Calico ordering', () => {
    const tags = new Set(SCENARIOS.flatMap((s) => s.tags));
    for (const t of [
      'ingress',
      'egress',
      'deny-all',
      'allow-all',
      'policy-types',
      'union',
      'all-pods',
      'pods-by-label',
      'namespaces-by-label',
      'namespaces-by-default-label',
      'all-namespaces',
      'multi-peer',
      'match-expressions',
      'ip-block-no-except',
      'ip-block-with-except',
      'numbered-port',
      'named-port',
      'end-port',
      'any-port',
      'tcp',
      'udp',
      'upstream-e2e',
      'calico',
      'gnp',
      'order',
      'allow',
      'deny',
      'pass',
      'log',
    ])
      expect(tags, t).toContain(t);
    // the four matchExpressions operators and every Calico action appear in some policy
    const text = JSON.stringify(SCENARIOS);
    for (const op of [
      '"In"',
      '"NotIn"',
      '"Exists"',
      '"DoesNotExist"',
      '"Allow"',
      '"Deny"',
      '"Pass"',
      '"Log"',
      '"endPort"',
      '"except"',
    ])
      expect(text).toContain(op);
  });

  it('every catalogued Kubernetes NetworkPolicy is valid against the networking.k8s.io/v1 schema', () => {
    let checked = 0;
    for (const s of SCENARIOS)
      for (const p of resolved(s)) {
        const doc = p as { apiVersion: string; kind: string };
        if (doc.apiVersion !== 'networking.k8s.io/v1') continue;
        expect(schemaProblem('NetworkPolicy', p), `${s.name}: ${JSON.stringify(p)}`).toBeUndefined();
        checked++;
      }
    expect(checked).toBeGreaterThanOrEqual(40);
  });

  it('every catalogued Calico policy is valid against its schema and every scenario passes full validation', () => {
    for (const s of SCENARIOS) {
      for (const p of resolved(s)) {
        const doc = p as { apiVersion: string; kind: string };
        if (doc.apiVersion !== 'projectcalico.org/v3') continue;
        const kind = doc.kind === 'GlobalNetworkPolicy' ? 'CalicoGlobalNetworkPolicy' : 'CalicoNetworkPolicy';
        expect(schemaProblem(kind, p), s.name).toBeUndefined();
      }
      expect(() => validatePolicies(resolved(s), s.name)).not.toThrow();
    }
  });

  it('hand-checked expectations agree with the oracle, cell by cell', () => {
    const withHand = SCENARIOS.filter((s) => s.expect);
    expect(withHand.length).toBeGreaterThanOrEqual(25);
    // every Calico scenario has a hand-checked expectation (ordering semantics are not only the oracle's word)
    for (const s of SCENARIOS.filter(usesCalicoApi)) expect(s.expect, s.name).toBeDefined();
    const peers = model.pods.map(podKey);
    for (const s of withHand) {
      const table = expectTruthTable(model, validatePolicies(resolved(s)));
      const wrong: string[] = [];
      for (const exp of s.expect!)
        for (const cell of expandHandExpectation(exp, peers)) {
          const got = table.get(cell.from, cell.to, cell.port, cell.protocol)!;
          if (got.allowed !== cell.allowed)
            wrong.push(
              `${cell.from}>${cell.to} ${cell.protocol}/${cell.port}: hand ${cell.allowed}, oracle ${got.allowed}`,
            );
        }
      expect(wrong, s.name).toEqual([]);
    }
  });

  it('no scenario touches pods outside the model namespaces (live-cluster safety: DNS, API server, Calico)', () => {
    const withSystem: PolicyModel = {
      ...model,
      namespaces: [...model.namespaces, { name: 'kube-system', labels: {} }],
      pods: [
        ...model.pods,
        { namespace: 'kube-system', name: 'coredns', labels: { 'k8s-app': 'kube-dns' }, ip: '10.0.9.9' },
      ],
    };
    for (const s of SCENARIOS) {
      const table = expectTruthTable(withSystem, validatePolicies(resolved(s)));
      for (const e of table.entries()) {
        if (e.from === 'kube-system/coredns') expect(e.egress, `${s.name}: ${e.from} egress`).toBe(true);
        if (e.to === 'kube-system/coredns') expect(e.ingress, `${s.name}: ${e.to} ingress`).toBe(true);
      }
    }
  });

  it('every scenario changes the table (a scenario that allows everything would test nothing) unless it is an allow-all', () => {
    for (const s of SCENARIOS) {
      const table = expectTruthTable(model, validatePolicies(resolved(s)));
      if (s.tags.includes('allow-all') && table.allowedCount() === table.size) continue;
      expect(table.allowedCount(), s.name).toBeLessThan(table.size);
    }
  });

  it('declares calico-api exactly on the scenarios whose policies use projectcalico.org/v3', () => {
    const declared = SCENARIOS.filter((s) => requirementsOf(s).includes('calico-api')).map((s) => s.name);
    expect(declared).toEqual(SCENARIOS.filter(usesCalicoApi).map((s) => s.name));
    expect(declared.length).toBeGreaterThanOrEqual(10);
    // nothing else is needed by a Kubernetes NetworkPolicy scenario
    expect(SCENARIOS.filter((s) => !usesCalicoApi(s)).every((s) => requirementsOf(s).length === 0)).toBe(
      true,
    );
  });

  it('selects by name regex and by tag; rejects a bad regex and an unknown tag naming the field', () => {
    expect(selectScenarios({ name: '^calico-' }).every((s) => s.name.startsWith('calico-'))).toBe(true);
    expect(selectScenarios({ name: '^calico-' }).length).toBe(SCENARIOS.filter(usesCalicoApi).length);
    const egress = selectScenarios({ tags: ['egress'] });
    expect(egress.length).toBeGreaterThan(5);
    expect(egress.every((s) => s.tags.includes('egress'))).toBe(true);
    expect(selectScenarios({ name: 'ipblock', tags: ['egress'] }).map((s) => s.name)).toEqual([
      'ipblock-egress-except',
    ]);
    expect(() => selectScenarios({ name: '(' })).toThrow(/--select/);
    expect(() => selectScenarios({ tags: ['nope'] })).toThrow(/--tag: "nope" is not a tag/);
  });

  it('resolves {{ip ns/pod}} placeholders and rejects unknown pods', () => {
    const s = SCENARIOS.find((x) => x.name === 'ipblock-ingress-cidr')!;
    expect(JSON.stringify(resolved(s))).toContain('"10.0.3.11/32"');
    expect(() => resolvePlaceholders(s.policies, () => undefined)).toThrow(/\{\{ip z\/b\}\}/);
  });
});
