/**
 * The two-stage verdict: the rule registry behind `--allow`, the known-leftovers baseline (data with
 * sources, validated), and the upstream and complete-uninstall verdicts over real audit findings.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appliesTo, entriesFor, knownLeftovers, parseBaseline } from '../../../harness/audit/baseline.js';
import type { ClusterState } from '../../../harness/audit/cluster-state.js';
import { parseAllowList, RULE_IDS, RULES } from '../../../harness/audit/registry.js';
import { auditReport } from '../../../harness/audit/rules.js';
import {
  judgeComplete,
  judgeUpstream,
  kernelKept,
  normaliseCellAudit,
  upstreamCounts,
} from '../../../harness/audit/verdict.js';
import { buildMatrix } from '../../../harness/config/matrix.js';
import { UsageError } from '../../../harness/errors.js';
import type { AuditReport, Finding } from '../../../harness/model/audit.js';
import { type NodeDump, readDumpDir } from '../../../harness/node-state/dump.js';

const DUMPS = join(import.meta.dirname, '../../fixtures/dumps');
const dumpOf = (name: string) => readDumpDir(join(DUMPS, name))[0]!;
const cell = (flags: Record<string, string>) => buildMatrix({ flags })[0]!;

describe('the rule registry', () => {
  it('has one entry per id, each with what it matches, why, remediation and an upstream source', () => {
    expect(new Set(RULE_IDS).size).toBe(RULES.length);
    for (const r of RULES) {
      for (const k of ['matches', 'why', 'remediation', 'source'] as const)
        expect(r[k], `${r.id}.${k}`).not.toBe('');
    }
    expect(RULES.filter((r) => r.byDesign).map((r) => r.id)).toEqual([
      'node-annotations',
      'network-unavailable',
    ]);
    expect(new Set(RULES.map((r) => r.scope))).toEqual(new Set(['node', 'api']));
  });

  it('--allow: rule ids, by-design and finding-name patterns pass; a mistyped rule is a usage error listing the valid ones', () => {
    expect(
      parseAllowList('calico-route, by-design,vxlan.calico,/opt/cni/bin/*,name:cali40all-ipam-pools'),
    ).toEqual(['calico-route', 'by-design', 'vxlan.calico', '/opt/cni/bin/*', 'name:cali40all-ipam-pools']);
    let err: unknown;
    try {
      parseAllowList('calico-rout', '--allow');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    const msg = (err as Error).message;
    expect(msg).toContain('"calico-rout" is not an audit rule');
    for (const id of [...RULE_IDS, 'by-design']) expect(msg).toContain(id);
    expect(() => parseAllowList(' , ')).toThrow(UsageError);
    expect(() => parseAllowList('name:')).toThrow(UsageError);
  });
});

describe('the known-leftovers baseline (harness/audit/known-leftovers.yaml)', () => {
  const entries = knownLeftovers();

  it('is valid data: every entry names a registered rule and a source; one a lab run saw names that run', () => {
    expect(entries.length).toBeGreaterThan(20);
    for (const e of entries) {
      expect(RULE_IDS, e.id).toContain(e.rule);
      expect(e.source.length, e.id).toBeGreaterThan(10);
      if (e.evidence === 'seen-on-lab') expect(e.seen, e.id).toMatch(/^lab: run --lab/);
      else expect(e.evidence, e.id).toBe('upstream-source-only');
    }
  });

  it('refuses a wrong entry, naming it and the field', () => {
    const bad = (entry: string) => () => parseBaseline(`entries:\n  - ${entry}\n`, 'x.yaml');
    const ok = 'id: a\n    rule: calico-route\n    why: w\n    source: s\n    evidence: upstream-source-only';
    expect(bad(ok)).not.toThrow();
    expect(bad(ok.replace('calico-route', 'calico-rout'))).toThrow(
      /entries\[0\] \(a\)\.rule must be an audit rule/,
    );
    expect(bad(ok.replace('upstream-source-only', 'seen-on-lab'))).toThrow(/\.seen must be the lab run/);
    expect(bad(ok.replace('upstream-source-only', 'guessed'))).toThrow(/\.evidence must be/);
    expect(bad(`${ok}\n    when: { encapsulation: [VXLAN, Geneve] }`)).toThrow(
      /when\.encapsulation must be a list of/,
    );
    expect(bad(`${ok}\n    when: { versions: { from: 3.30 } }`)).toThrow(
      /versions\.from must be a minor version/,
    );
    expect(bad(`${ok}\n    colour: red`)).toThrow(/entries\[0\]\.colour must be one of/);
    expect(() => parseBaseline(`entries:\n  - ${ok}\n  - ${ok}\n`)).toThrow(/\.id must be unique/);
  });

  it('applies entries per install path, Calico version, encapsulation, BGP and topology', () => {
    const ids = (c: ReturnType<typeof cell>) => entriesFor(c, entries).map((e) => e.id);
    const manifestVxlan = ids(
      cell({ install: 'manifest', encapsulation: 'VXLAN', calicoVersion: 'v3.32.1' }),
    );
    expect(manifestVxlan).toEqual(
      expect.arrayContaining(['vxlan-device', 'vxlan-tunnel-routes', 'bpffs-mount-manifest']),
    );
    expect(manifestVxlan).not.toContain('tunl0-configured');
    expect(manifestVxlan).not.toContain('bird-routes');
    expect(manifestVxlan).not.toContain('csi-plugin-dir');
    const operatorIpip = ids(cell({ install: 'operator', encapsulation: 'IPIP', calicoVersion: 'v3.31.7' }));
    expect(operatorIpip).toEqual(
      expect.arrayContaining(['tunl0-configured', 'bird-routes', 'csi-plugin-dir']),
    );
    expect(operatorIpip).not.toContain('bpffs-mount-manifest');
    // versions by minor: bandwidth up to v3.29 only
    const bw = entries.find((e) => e.id === 'cni-plugin-bandwidth')!;
    expect(
      appliesTo(bw, cell({ install: 'manifest', encapsulation: 'VXLAN', calicoVersion: 'v3.29.7' })),
    ).toBe(true);
    expect(
      appliesTo(bw, cell({ install: 'manifest', encapsulation: 'VXLAN', calicoVersion: 'v3.30.7' })),
    ).toBe(false);
    // topology: VXLANCrossSubnet routes via vxlan.calico only across the split subnets
    const split = entries.find((e) => e.id === 'vxlan-tunnel-routes-split-subnet')!;
    expect(
      appliesTo(
        split,
        cell({ install: 'manifest', encapsulation: 'VXLANCrossSubnet', topology: 'split-subnet' }),
      ),
    ).toBe(true);
    expect(appliesTo(split, cell({ install: 'manifest', encapsulation: 'VXLANCrossSubnet' }))).toBe(false);
  });
});

/** What an upstream manifest uninstall of a VXLAN cell leaves, as the node rules see it (evidence strings as ip/find print them). */
function vxlanUpstreamReport(extra: Finding[] = []): AuditReport {
  const f = (rule: string, category: Finding['category'], name: string, detail = name): Finding => ({
    node: 'kind-worker',
    category,
    rule,
    name,
    detail,
    remediation: `remove ${name}`,
    fix: [{ argv: ['true'] }],
  });
  const state: ClusterState = {
    crds: [],
    namespaces: [],
    apiServices: [],
    webhooks: [],
    clusterRoles: [],
    clusterRoleBindings: [],
    ipPools: [],
    nodes: [
      {
        name: 'kind-worker',
        annotations: { 'projectcalico.org/IPv4VXLANTunnelAddr': '192.168.110.128' },
        conditions: [{ type: 'NetworkUnavailable', status: 'True', reason: 'CalicoIsDown' }],
        taints: [],
      },
    ],
  };
  const api = auditReport({ cluster: state });
  return {
    ...api,
    findings: [
      f(
        'calico-route',
        'route',
        '192.168.2.0/26 dev vxlan.calico',
        '192.168.2.0/26 via 192.168.2.0 dev vxlan.calico onlink',
      ),
      f('blackhole-route', 'route', 'blackhole 192.168.110.128/26', 'blackhole 192.168.110.128/26 proto 80'),
      f('calico-device', 'interface', 'vxlan.calico'),
      f('cali-veth', 'interface', 'calie5a9b8a4c01'),
      f('cali-iptables', 'iptables', 'iptables-nft filter'),
      f('calico-ipset', 'ipset', 'cali40all-ipam-pools'),
      f('calico-bpffs-mount', 'mount', '/sys/fs/bpf'),
      f('calico-cgroup-mount', 'mount', '/run/calico/cgroup'),
      f('calico-state-dir', 'file', '/var/lib/calico'),
      f('calico-state-dir', 'file', '/var/run/calico'),
      f('calico-state-dir', 'file', '/var/log/calico'),
      f('calico-state-dir', 'file', '/var/run/nodeagent'),
      f('calico-cni-config', 'file', '/etc/cni/net.d/10-calico.conflist'),
      f('calico-cni-config', 'file', '/etc/cni/net.d/calico-kubeconfig'),
      f('calico-cni-binary', 'file', '/opt/cni/bin/calico'),
      f('cni-bin-changed', 'file', '/opt/cni/bin/host-local'),
      f('cni-bin-added', 'file', '/opt/cni/bin/tuning'),
      f('cni-bin-added', 'file', '/opt/cni/bin/flannel'),
      ...api.findings,
      ...extra,
    ],
    clean: false,
  };
}

describe('the upstream verdict', () => {
  const vxlan = cell({ install: 'manifest', encapsulation: 'VXLAN', calicoVersion: 'v3.32.1' });

  it('passes a cell whose every leftover the baseline expects, marking each with its entry and dropping the fix steps', () => {
    const v = judgeUpstream(vxlanUpstreamReport(), vxlan);
    expect(v.passed).toBe(true);
    expect(v.report.findings.filter((f) => !f.baseline)).toEqual([]);
    expect(v.report.findings.find((f) => f.name === 'vxlan.calico')?.baseline).toBe('vxlan-device');
    expect(v.report.findings.some((f) => 'fix' in f)).toBe(false);
    expect(v.fixed).toEqual([]);
    expect(upstreamCounts(v)).toEqual({ expected: v.report.findings.length, new: 0, allowed: 0, fixed: 0 });
  });

  it('fails on a leftover the baseline does not know (a regression), unless --allow allows it', () => {
    const nft = {
      node: 'kind-worker',
      category: 'nftables' as const,
      rule: 'calico-nft-table',
      name: 'table ip calico',
      detail: 'nft list tables: table ip calico',
      remediation: 'nft delete table ip calico',
    };
    const v = judgeUpstream(vxlanUpstreamReport([nft]), vxlan);
    expect(v.passed).toBe(false);
    expect(v.report.findings.filter((f) => !f.baseline && !f.allowed).map((f) => f.name)).toEqual([
      'table ip calico',
    ]);
    expect(upstreamCounts(v).new).toBe(1);
    const allowed = judgeUpstream(vxlanUpstreamReport([nft]), vxlan, { allow: ['calico-nft-table'] });
    expect(allowed.passed).toBe(true);
    expect(upstreamCounts(allowed)).toMatchObject({ new: 0, allowed: 1 });
    // a leftover of another mode is new here: tunl0 configured after a VXLAN cell
    const tunl0 = {
      ...nft,
      category: 'interface' as const,
      rule: 'tunl0-configured',
      name: 'tunl0',
      detail: 'UP',
    };
    expect(judgeUpstream(vxlanUpstreamReport([tunl0]), vxlan).passed).toBe(false);
  });

  it('reports an expected leftover that did not appear as fixed (update the baseline), without failing the cell', () => {
    const report = vxlanUpstreamReport();
    report.findings = report.findings.filter((f) => f.name !== 'vxlan.calico');
    const v = judgeUpstream(report, vxlan);
    expect(v.passed).toBe(true);
    expect(v.fixed.map((x) => x.id)).toEqual(['vxlan-device']);
    expect(v.fixed[0]).toMatchObject({ rule: 'calico-device', evidence: 'seen-on-lab' });
    expect(v.fixed[0]!.source).toMatch(/vxlan_mgr\.go/);
  });

  it('never reports an optional entry as fixed (the taint may come after the audit)', () => {
    const v = judgeUpstream(vxlanUpstreamReport(), vxlan);
    expect(v.baseline.applicable).toContain('network-unavailable-taint');
    expect(v.fixed.map((x) => x.id)).not.toContain('network-unavailable-taint');
  });

  it('an audit that could not look passes nothing', () => {
    const report = {
      ...vxlanUpstreamReport(),
      complete: false,
      uncollected: [{ node: 'kind-worker', reason: 'gone' }],
    };
    expect(judgeUpstream(report, vxlan).passed).toBe(false);
  });
});

describe('the audit after the complete uninstall', () => {
  it('must be clean: the fallback tunl0 is kept by the kernel and not counted, a configured one counts', () => {
    const fallback: NodeDump = dumpOf('tunl0-fallback');
    const clean = judgeComplete(auditReport({ dumps: [fallback] }), [fallback]);
    expect(clean.passed).toBe(true);
    expect(clean.kernelKept).toEqual([
      "kind-worker: tunl0, the kernel's fallback ipip device (DOWN, no address): kept by the kernel, not counted",
    ]);
    const configured = dumpOf('tunl0-configured');
    const dirty = judgeComplete(auditReport({ dumps: [configured] }), [configured]);
    expect(dirty.passed).toBe(false);
    expect(dirty.kernelKept).toEqual([]);
    expect(kernelKept([configured])).toEqual([]);
    // --allow applies here too
    expect(
      judgeComplete(auditReport({ dumps: [configured] }), [configured], {
        allow: ['tunl0-configured', 'calico-route', 'blackhole-route'],
      }).passed,
    ).toBe(true);
  });
});

describe('results written before the two-stage verdict', () => {
  it('read as the upstream audit with no baseline, where every unallowed finding is new', () => {
    const old = {
      clean: false,
      findings: [{ node: 'n', category: 'file', name: '/var/lib/calico', detail: 'd', remediation: 'r' }],
      notChecked: [],
    };
    const a = normaliseCellAudit(old)!;
    expect(a.afterUpstreamUninstall?.passed).toBe(false);
    expect(upstreamCounts(a.afterUpstreamUninstall!)).toMatchObject({ new: 1, expected: 0 });
    expect(a.afterCompleteUninstall).toBeUndefined();
  });
});
