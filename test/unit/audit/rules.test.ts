import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ClusterState } from '../../../harness/audit/cluster-state.js';
import { auditClusterState, auditNodeDump, auditReport } from '../../../harness/audit/rules.js';
import { auditCommand } from '../../../harness/cli/commands/audit.js';
import { memoryIO } from '../../../harness/cli/io.js';
import { type NodeDump, readDumpDir } from '../../../harness/node-state/dump.js';

const DUMPS = join(import.meta.dirname, '../../fixtures/dumps');
const dumpOf = (name: string) => readDumpDir(join(DUMPS, name))[0]!;

describe('tunl0 (captured-format output; this kernel has no ipip)', () => {
  it('the kernel fallback tunl0 (DOWN, no address, qdisc noop, mtu 1480) is not a leftover', () => {
    const { findings } = auditNodeDump(dumpOf('tunl0-fallback'));
    expect(findings.filter((f) => f.name === 'tunl0')).toEqual([]);
  });

  it('a configured tunl0 (UP, /32, a route via it) is a leftover with the flush-and-down remediation', () => {
    const { findings } = auditNodeDump(dumpOf('tunl0-configured'));
    const t = findings.find((f) => f.name === 'tunl0')!;
    expect(t.category).toBe('interface');
    expect(t.detail).toContain('inet 192.168.162.128/32');
    expect(t.detail).toContain('route 192.168.82.0/26 via 172.18.0.4 dev tunl0 proto bird onlink');
    expect(t.remediation).toBe('ip addr flush dev tunl0 && ip link set tunl0 down');
    expect(t.remediation).not.toMatch(/modprobe|rmmod|link del/);
    // the BIRD route through it is its own route finding
    expect(findings.some((f) => f.category === 'route' && f.name === '192.168.82.0/26 dev tunl0')).toBe(true);
  });

  const variant = (
    mutate: (links: Record<string, unknown>[], addrs: Record<string, unknown>[]) => void,
  ): NodeDump => {
    const d = dumpOf('tunl0-fallback');
    const links = JSON.parse(d.files['ip-link.json']!);
    const addrs = JSON.parse(d.files['ip-addr.json']!);
    mutate(links, addrs);
    return {
      ...d,
      files: { ...d.files, 'ip-link.json': JSON.stringify(links), 'ip-addr.json': JSON.stringify(addrs) },
    };
  };

  it('each sign of configuration alone is enough: an address while DOWN, or UP without an address', () => {
    const addrOnly = variant((_l, a) => {
      a.find((x) => x.ifname === 'tunl0')!.addr_info = [
        { family: 'inet', local: '192.168.1.0', prefixlen: 32 },
      ];
    });
    expect(auditNodeDump(addrOnly).findings.map((f) => f.name)).toContain('tunl0');
    const upOnly = variant((l) => {
      l.find((x) => x.ifname === 'tunl0')!.flags = ['NOARP', 'UP', 'LOWER_UP'];
    });
    expect(auditNodeDump(upOnly).findings.map((f) => f.name)).toContain('tunl0');
  });

  it('MTU is not a discriminator: a fallback tunl0 with mtu 1440 is still not a leftover', () => {
    const mtu = variant((l) => {
      l.find((x) => x.ifname === 'tunl0')!.mtu = 1440;
    });
    expect(auditNodeDump(mtu).findings).toEqual([]);
  });

  it('wireguard.cali (not creatable on this kernel) is found from its link entry', () => {
    const wg = variant((l) => {
      l.push({
        ifindex: 7,
        ifname: 'wireguard.cali',
        flags: ['POINTOPOINT', 'NOARP', 'UP', 'LOWER_UP'],
        mtu: 1440,
        operstate: 'UNKNOWN',
        link_type: 'none',
        linkinfo: { info_kind: 'wireguard' },
      });
    });
    const f = auditNodeDump(wg).findings.find((x) => x.name === 'wireguard.cali')!;
    expect(f).toMatchObject({ category: 'interface', remediation: 'ip link del wireguard.cali' });
  });

  it('commands missing from the dump are reported as not checked, never as clean or as findings', () => {
    const { findings, notChecked } = auditNodeDump(dumpOf('tunl0-fallback'));
    expect(findings).toEqual([]);
    const cats = new Set(notChecked.map((n) => n.category));
    for (const c of ['iptables', 'nftables', 'ipset', 'file', 'bpf'])
      expect(cats.has(c as never), c).toBe(true);
    expect(notChecked.find((n) => n.category === 'ipset')?.reason).toMatch(/ipset-list\.txt/);
  });

  it('a reason recorded by the collector is carried into not-checked', () => {
    const d = dumpOf('tunl0-fallback');
    d.notes.unavailable = {
      'ipset-list.txt': 'command not available on the node (exec: "ipset": executable file not found)',
    };
    expect(auditNodeDump(d).notChecked.find((n) => n.category === 'ipset')?.reason).toContain(
      'executable file not found',
    );
  });
});

const dirtyState: ClusterState = {
  crds: [
    'ippools.crd.projectcalico.org',
    'felixconfigurations.crd.projectcalico.org',
    'installations.operator.tigera.io',
    'certificates.cert-manager.io',
  ],
  namespaces: [
    { name: 'default', phase: 'Active' },
    {
      name: 'calico-apiserver',
      phase: 'Terminating',
      conditions: [
        {
          type: 'NamespaceDeletionDiscoveryFailure',
          status: 'True',
          reason: 'DiscoveryFailed',
          message:
            'Discovery failed for some groups, 1 failing: unable to retrieve the complete list of server APIs: projectcalico.org/v3: stale GroupVersion discovery: projectcalico.org/v3',
        },
        { type: 'NamespaceContentRemaining', status: 'False' },
      ],
    },
  ],
  nodes: [
    {
      name: 'kind-worker',
      annotations: {
        'projectcalico.org/IPv4Address': '172.18.0.3/16',
        'projectcalico.org/IPv4IPIPTunnelAddr': '192.168.162.128',
        'node.alpha.kubernetes.io/ttl': '0',
      },
      conditions: [
        { type: 'Ready', status: 'True' },
        {
          type: 'NetworkUnavailable',
          status: 'True',
          reason: 'CalicoIsDown',
          message: 'Calico is shutting down on this node',
        },
      ],
      taints: [{ key: 'node.kubernetes.io/network-unavailable', effect: 'NoSchedule' }],
    },
  ],
  apiServices: ['v1.', 'v3.projectcalico.org'],
  webhooks: [
    { kind: 'validating', name: 'api.projectcalico.org' },
    { kind: 'validating', name: 'cert-manager-webhook' },
  ],
  clusterRoles: ['admin', 'calico-node', 'calico-cni-plugin', 'tigera-operator', 'system:node'],
  clusterRoleBindings: ['calico-node', 'kubeadm:get-nodes'],
  ipPools: [{ name: 'default-ipv4-ippool', cidr: '192.168.0.0/16' }],
};

describe('API-level rules', () => {
  it('finds every Calico object and nothing else, each with a kubectl remediation', () => {
    const { findings } = auditClusterState(dirtyState);
    expect(findings.map((f) => f.name)).toEqual([
      'CRDs crd.projectcalico.org',
      'CRDs operator.tigera.io',
      'namespace calico-apiserver',
      'apiservice v3.projectcalico.org',
      'validatingwebhookconfiguration api.projectcalico.org',
      'clusterroles calico/tigera',
      'clusterrolebindings calico/tigera',
      'ippool default-ipv4-ippool',
      'node kind-worker annotations projectcalico.org/*',
      'node kind-worker condition NetworkUnavailable=CalicoIsDown',
      'node kind-worker taint node.kubernetes.io/network-unavailable:NoSchedule',
    ]);
    expect(findings.every((f) => f.category === 'api' && f.remediation.startsWith('kubectl '))).toBe(true);
    expect(findings.find((f) => f.name === 'clusterroles calico/tigera')?.remediation).toBe(
      'kubectl delete clusterrole calico-node calico-cni-plugin tigera-operator',
    );
  });

  it('explains why a namespace is stuck Terminating and removes the cause', () => {
    const ns = auditClusterState(dirtyState).findings.find((f) => f.name === 'namespace calico-apiserver')!;
    expect(ns.detail).toContain('phase Terminating');
    expect(ns.detail).toContain('stale GroupVersion discovery');
    expect(ns.why).toMatch(/APIService outlived its backend/);
    expect(ns.remediation).toBe('kubectl delete apiservice v3.projectcalico.org');
  });

  it('marks annotations and the CalicoIsDown condition as by design; --allow makes them allowed, others stay', () => {
    const plain = auditReport({ cluster: dirtyState });
    const byDesign = plain.findings.filter((f) => f.byDesign).map((f) => f.rule);
    expect(byDesign).toEqual(['node-annotations', 'network-unavailable', 'network-unavailable']);
    expect(plain.findings.some((f) => f.allowed)).toBe(false);
    const allowed = auditReport({ cluster: dirtyState }, { allow: ['by-design'] });
    expect(allowed.findings.filter((f) => f.allowed).length).toBe(3);
    expect(allowed.clean).toBe(false);
    const onlyByDesign: ClusterState = {
      ...dirtyState,
      crds: [],
      namespaces: [],
      apiServices: [],
      webhooks: [],
      clusterRoles: [],
      clusterRoleBindings: [],
      ipPools: [],
    };
    expect(auditReport({ cluster: onlyByDesign }).clean).toBe(false);
    expect(
      auditReport({ cluster: onlyByDesign }, { allow: ['node-annotations', 'network-unavailable'] }).clean,
    ).toBe(true);
    expect(auditReport({ cluster: onlyByDesign }, { allow: ['node kind-worker *'] }).clean).toBe(true);
  });

  it('a clean cluster is clean', () => {
    const clean: ClusterState = {
      crds: ['certificates.cert-manager.io'],
      namespaces: [{ name: 'default', phase: 'Active' }],
      nodes: [
        {
          name: 'n',
          annotations: {},
          conditions: [{ type: 'NetworkUnavailable', status: 'False', reason: 'RouteCreated' }],
          taints: [],
        },
      ],
      apiServices: ['v1.'],
      webhooks: [],
      clusterRoles: ['admin'],
      clusterRoleBindings: [],
      ipPools: [],
    };
    expect(auditClusterState(clean).findings).toEqual([]);
  });
});

describe('audit command', () => {
  it('--node-dump on the fallback tunl0 dump: clean, exit 0, with not-checked listed', async () => {
    const io = memoryIO();
    expect(await auditCommand(['--node-dump', join(DUMPS, 'tunl0-fallback')], io)).toBe(0);
    expect(io.stdout).toMatch(/^CLEAN: no Calico leftovers, but \d+ check\(s\) could not be made/);
    expect(io.stdout).toContain('not checked:');
  });

  it('--node-dump on the configured tunl0 dump: exit 1, JSON per contract', async () => {
    const io = memoryIO();
    expect(await auditCommand(['--node-dump', join(DUMPS, 'tunl0-configured'), '--output', 'json'], io)).toBe(
      1,
    );
    const json = JSON.parse(io.stdout);
    expect(json.clean).toBe(false);
    expect(json.findings[0]).toMatchObject({ node: 'kind-worker', category: 'route' });
    expect(json.findings.map((f: { name: string }) => f.name)).toContain('tunl0');
    expect(Array.isArray(json.notChecked)).toBe(true);
  });

  it('bad usage names the flag', async () => {
    await expect(auditCommand([], memoryIO())).rejects.toThrow(
      /exactly one of --cluster NAME or --node-dump DIR/,
    );
    await expect(auditCommand(['--node-dump', '/nonexistent-dir'], memoryIO())).rejects.toThrow(
      /--node-dump: \/nonexistent-dir is not a directory/,
    );
    await expect(auditCommand(['--node-dump', DUMPS, '--output', 'xml'], memoryIO())).rejects.toThrow(
      /--output: "xml" is not allowed; allowed: text, json/,
    );
    await expect(auditCommand(['--cluster', 'Bad_Name'], memoryIO())).rejects.toThrow(
      /--cluster: "Bad_Name" is not a kind cluster name/,
    );
  });
});
