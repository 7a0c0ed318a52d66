import { describe, expect, it } from 'vitest';
import { buildMatrix } from '../../../harness/config/matrix.js';
import {
  cellRequirements,
  type Environment,
  REQUIREMENTS,
  skipReason,
  unmetRequirements,
} from '../../../harness/model/requirements.js';
import { requirementsOf, SCENARIOS } from '../../../harness/policy/scenarios.js';
import { CONNECTIVITY_CHECKS } from '../../../suites/connectivity-checks.js';

const manifest = { install: 'manifest', encapsulation: 'VXLAN' } as const;
const operator = { install: 'operator', encapsulation: 'VXLAN' } as const;
const CALICO_API_REASON =
  'Calico projectcalico.org/v3 policy needs the Calico API server (operator install) or calicoctl; ' +
  'this cell uses the manifest install and no calicoctl was given';

describe('requirements, evaluated in one place', () => {
  it('calico-api: met on the operator path or with calicoctl, otherwise skipped with the reason the policy suite gave', () => {
    expect(skipReason(['calico-api'], { cell: operator })).toBeUndefined();
    expect(skipReason(['calico-api'], { cell: manifest, calicoctl: true })).toBeUndefined();
    expect(skipReason(['calico-api'], { cell: manifest, calicoctl: false })).toBe(CALICO_API_REASON);
    expect(skipReason(['calico-api'], { cell: manifest })).toBe(CALICO_API_REASON);
  });

  it('two-nodes: a one-node cell says so; an unknown node count holds nothing back', () => {
    expect(skipReason(['two-nodes'], { cell: manifest, nodes: 1 })).toBe(
      'needs two nodes to cross between, and this cell has only one',
    );
    expect(skipReason(['two-nodes'], { cell: manifest, nodes: 0 })).toMatch(/this cell has none$/);
    expect(skipReason(['two-nodes'], { cell: manifest, nodes: 2 })).toBeUndefined();
    expect(skipReason(['two-nodes'], { cell: manifest })).toBeUndefined();
  });

  it('ipip-kernel: the preflight’s reason when the kernel has no ipip; not judged when not checked', () => {
    const env = (ipip: Environment['ipip']): Environment => ({
      cell: { install: 'manifest', encapsulation: 'IPIP' },
      ...(ipip ? { ipip } : {}),
    });
    expect(skipReason(['ipip-kernel'], env({ available: false, reason: 'no ipip in 6.1' }))).toBe(
      'no ipip in 6.1',
    );
    expect(skipReason(['ipip-kernel'], env({ available: false }))).toMatch(/no ipip support/);
    expect(skipReason(['ipip-kernel'], env({ available: true }))).toBeUndefined();
    expect(skipReason(['ipip-kernel'], env(undefined))).toBeUndefined();
  });

  it('install paths: the cell must use the path, and the environment must be able to run it', () => {
    expect(skipReason(['operator-path'], { cell: operator })).toBeUndefined();
    expect(skipReason(['operator-path'], { cell: manifest })).toBe(
      'needs the operator install, and this cell uses the manifest install',
    );
    expect(
      skipReason(['operator-path'], {
        cell: operator,
        unavailablePaths: { operator: 'the lab has no operator images' },
      }),
    ).toBe('the lab has no operator images');
    expect(
      skipReason(['manifest-path'], { cell: manifest, unavailablePaths: { operator: 'x' } }),
    ).toBeUndefined();
  });

  it('lists every unmet requirement in declared order, once each; the skip reason is the first', () => {
    const env: Environment = { cell: manifest, nodes: 1, ipip: { available: false, reason: 'no ipip' } };
    const unmet = unmetRequirements(['two-nodes', 'calico-api', 'two-nodes', 'ipip-kernel'], env);
    expect(unmet.map((u) => u.requirement)).toEqual(['two-nodes', 'calico-api', 'ipip-kernel']);
    expect(skipReason(['two-nodes', 'calico-api'], env)).toBe(unmet[0]!.reason);
    expect(unmetRequirements([], env)).toEqual([]);
    // every requirement has a rule: an environment that lacks everything leaves each one unmet
    const nothing: Environment = {
      cell: { install: 'manifest', encapsulation: 'IPIP' },
      nodes: 1,
      ipip: { available: false },
      unavailablePaths: { manifest: 'no manifest path here' },
    };
    expect(unmetRequirements(REQUIREMENTS, nothing).map((u) => u.requirement)).toEqual(REQUIREMENTS);
  });

  it('a cell needs its install path, and the host’s ipip exactly for IPIP and IPIPCrossSubnet', () => {
    const cells = buildMatrix({
      flags: { install: 'manifest,operator', encapsulation: 'IPIP,IPIPCrossSubnet,VXLAN,None' },
    });
    for (const c of cells) {
      const r = cellRequirements(c);
      expect(r[0], c.id).toBe(`${c.install}-path`);
      expect(r.includes('ipip-kernel'), c.id).toBe(c.encapsulation.startsWith('IPIP'));
    }
  });
});

describe('what the checks and scenarios declare', () => {
  it('connectivity checks have unique, stable kebab-case names; the cross-node ones need two nodes', () => {
    const names = CONNECTIVITY_CHECKS.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(n).toMatch(/^[a-z]+(-[a-z]+)*$/);
    const needTwo = CONNECTIVITY_CHECKS.filter((c) => c.requires.includes('two-nodes')).map((c) => c.name);
    expect(needTwo).toEqual(['pod-pod-cross-node', 'mtu-across-nodes']);
    // on a one-node cell exactly those are skipped, with the central reason
    const oneNode: Environment = { cell: manifest, nodes: 1 };
    const skipped = CONNECTIVITY_CHECKS.filter((c) => skipReason(c.requires, oneNode) !== undefined);
    expect(skipped.map((c) => c.name)).toEqual(needTwo);
  });

  it('on the manifest path without calicoctl exactly the Calico scenarios are skipped, and none otherwise', () => {
    const skippedOn = (env: Environment) =>
      SCENARIOS.filter((s) => skipReason(requirementsOf(s), env) !== undefined).map((s) => s.name);
    const calico = SCENARIOS.filter((s) => s.name.startsWith('calico-')).map((s) => s.name);
    expect(calico.length).toBeGreaterThan(0);
    expect(skippedOn({ cell: manifest, nodes: 3 })).toEqual(calico);
    expect(skippedOn({ cell: manifest, nodes: 3, calicoctl: true })).toEqual([]);
    expect(skippedOn({ cell: operator, nodes: 3 })).toEqual([]);
  });
});
