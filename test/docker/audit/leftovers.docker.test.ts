/**
 * The leftover audit on real kernel state: every artifact Calico leaves (calico-tests-uninstall.md §2.4)
 * is planted with the real command in a docker-backed node, collected through the NodeShell with the
 * DESIGN.md commands, and must be found with the right category; non-Calico look-alikes in a second node
 * must not be. (tunl0 and wireguard.cali cannot be created on this kernel: test/unit/audit covers them on
 * captured output.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectBaseline, collectNodeDump, dockerNetnsIpsetLister } from '../../../harness/audit/collect.js';
import { type NodeDump, readDumpDir, writeNodeDump } from '../../../harness/audit/dump.js';
import type { Finding } from '../../../harness/audit/finding.js';
import { auditNodeDump } from '../../../harness/audit/rules.js';
import { auditCommand } from '../../../harness/cli/commands/audit.js';
import { memoryIO } from '../../../harness/cli/io.js';
import { defaultRunner } from '../../../harness/exec/process.js';
import {
  DockerTestBed,
  describeDocker,
  type NetworkHandle,
  TEST_IMAGE,
  type TestNode,
  vxlanAddArgv,
} from '../../support/docker.js';

const bed = new DockerTestBed();
let net: NetworkHandle;
let dirty: TestNode;
let lookalike: TestNode;
let dirtyDump: NodeDump;
let lookalikeDump: NodeDump;
const tmp = mkdtempSync(join(tmpdir(), 'cc-audit-'));

async function run(node: TestNode, lines: string[][]): Promise<void> {
  for (const argv of lines) await node.sh(argv);
}

const has = (fs: Finding[], category: string, name: string | RegExp) =>
  fs.some((f) => f.category === category && (typeof name === 'string' ? f.name === name : name.test(f.name)));

describeDocker('leftover audit on docker-backed nodes', () => {
  beforeAll(async () => {
    net = await bed.network('audit');
    dirty = await bed.node('dirty', { networks: [{ network: net, ip: `${net.prefix}.10` }] });
    lookalike = await bed.node('lookalike', { networks: [{ network: net, ip: `${net.prefix}.11` }] });
    const peer = `${net.prefix}.11`;

    // kind's own CNI binaries, then the baseline, as the pipeline takes it right after cluster creation
    for (const n of [dirty, lookalike]) {
      await run(n, [
        ['mkdir', '-p', '/etc/cni/net.d', '/opt/cni/bin'],
        ['cp', '/bin/true', '/opt/cni/bin/host-local'],
        ['cp', '/bin/true', '/opt/cni/bin/loopback'],
        ['cp', '/bin/true', '/opt/cni/bin/portmap'],
        ['mount', '-t', 'bpf', 'bpf', '/sys/fs/bpf'],
      ]);
    }
    const dirtyBaseline = await collectBaseline(dirty.shell);
    const lookalikeBaseline = await collectBaseline(lookalike.shell);

    await run(dirty, [
      // devices
      ['ip', 'link', 'add', 'vxlan.calico', 'type', 'vxlan', 'id', '4096', 'dstport', '4789', 'dev', 'eth0'],
      ['ip', 'addr', 'add', '192.168.77.0/32', 'dev', 'vxlan.calico'],
      ['ip', 'link', 'set', 'vxlan.calico', 'up'],
      // Felix's vxlan-v6.calico has VNI 4096 on an IPv6 underlay; IPv6 is disabled in the test container,
      // and the kernel refuses a second VNI 4096 on the same port, so the stand-in uses the next VNI
      vxlanAddArgv('vxlan-v6.calico', 4097),
      ['ip', 'link', 'add', 'bpfin.cali', 'type', 'veth', 'peer', 'name', 'bpfout.cali'],
      ['ip', 'link', 'add', 'cali0123456789a', 'type', 'veth', 'peer', 'name', 'pod0eth0'],
      // routes: BIRD (12) via eth0, Felix (80) via vxlan.calico onlink, blackholes v4 and v6
      ['ip', 'route', 'add', '192.168.1.0/26', 'via', peer, 'dev', 'eth0', 'proto', 'bird'],
      [
        'ip',
        'route',
        'add',
        '192.168.2.0/26',
        'via',
        '192.168.2.1',
        'dev',
        'vxlan.calico',
        'onlink',
        'proto',
        '80',
      ],
      ['ip', 'route', 'add', 'blackhole', '192.168.77.0/26', 'proto', 'bird'],
      ['ip', '-6', 'route', 'add', 'blackhole', 'fd00:10:244::/122', 'proto', '80'],
      // iptables: legacy and nft, IPv4 and IPv6
      ['iptables-legacy', '-t', 'filter', '-N', 'cali-FORWARD'],
      [
        'iptables-legacy',
        '-t',
        'filter',
        '-A',
        'FORWARD',
        '-m',
        'comment',
        '--comment',
        'cali:wUHhoiAYhphO9Mso',
        '-j',
        'cali-FORWARD',
      ],
      ['iptables-nft', '-t', 'nat', '-N', 'cali-nat-outgoing'],
      [
        'iptables-nft',
        '-t',
        'nat',
        '-A',
        'POSTROUTING',
        '-m',
        'comment',
        '--comment',
        'cali:O3lYWMrLQYEMJtB5',
        '-j',
        'cali-nat-outgoing',
      ],
      ['ip6tables-legacy', '-t', 'raw', '-N', 'cali-PREROUTING'],
      ['ip6tables-nft', '-t', 'mangle', '-N', 'cali-PREROUTING'],
      [
        'ip6tables-nft',
        '-t',
        'mangle',
        '-A',
        'PREROUTING',
        '-m',
        'comment',
        '--comment',
        'cali:6gwbT8clXdHdC1b1',
        '-j',
        'cali-PREROUTING',
      ],
      // ipsets and the nftables dataplane's table
      ['ipset', 'create', 'cali40all-ipam-pools', 'hash:net'],
      ['ipset', 'create', 'cali60all-ipam-pools', 'hash:net', 'family', 'inet6'],
      ['ipset', 'create', 'cali4t0masq-ipam-pools', 'hash:net'],
      ['nft', 'add', 'table', 'ip', 'calico'],
      ['nft', 'add', 'table', 'ip6', 'calico'],
      // files: CNI config, binaries (calico's and an overwritten host-local), state dirs, BPF pins
      ['sh', '-c', 'echo "{}" > /etc/cni/net.d/10-calico.conflist'],
      ['touch', '/etc/cni/net.d/calico-kubeconfig'],
      ['mkdir', '-p', '/etc/cni/net.d/calico-tls'],
      ['cp', '/bin/true', '/opt/cni/bin/calico'],
      ['cp', '/bin/true', '/opt/cni/bin/calico-ipam'],
      ['cp', '/bin/false', '/opt/cni/bin/host-local'],
      ['cp', '/bin/false', '/opt/cni/bin/tuning'],
      ['mkdir', '-p', '/var/lib/calico', '/var/run/calico', '/var/log/calico/cni'],
      ['sh', '-c', 'echo dirty > /var/lib/calico/nodename'],
      ['mkdir', '-p', '/sys/fs/bpf/calico', '/sys/fs/bpf/tc/globals/cali_v4_state'],
      // like a kind node, which ships no ipset binary: the sets stay in the kernel, the tool goes
      ['sh', '-c', 'rm -f "$(command -v ipset)"'],
    ]);

    // non-Calico look-alikes: flannel's VXLAN device, kube-proxy's chains and sets, another table, kindnet's config
    await run(lookalike, [
      ['ip', 'link', 'add', 'flannel.1', 'type', 'vxlan', 'id', '1', 'dstport', '8472', 'dev', 'eth0'],
      ['ip', 'addr', 'add', '10.244.1.0/32', 'dev', 'flannel.1'],
      ['ip', 'link', 'set', 'flannel.1', 'up'],
      ['ip', 'link', 'add', 'caliber0', 'type', 'veth', 'peer', 'name', 'caliber1'],
      ['ip', 'route', 'add', '10.99.0.0/24', 'via', `${net.prefix}.10`, 'dev', 'eth0'],
      ['iptables-legacy', '-t', 'nat', '-N', 'KUBE-SERVICES'],
      [
        'iptables-legacy',
        '-t',
        'nat',
        '-A',
        'PREROUTING',
        '-m',
        'comment',
        '--comment',
        'kubernetes service portals',
        '-j',
        'KUBE-SERVICES',
      ],
      ['iptables-nft', '-t', 'filter', '-N', 'KUBE-FORWARD'],
      [
        'iptables-nft',
        '-t',
        'filter',
        '-A',
        'FORWARD',
        '-m',
        'comment',
        '--comment',
        'kubernetes forwarding rules',
        '-j',
        'KUBE-FORWARD',
      ],
      ['ip6tables-nft', '-t', 'nat', '-N', 'KUBE-POSTROUTING'],
      ['ipset', 'create', 'KUBE-LOOP-BACK', 'hash:ip,port,ip'],
      ['nft', 'add', 'table', 'ip', 'kube-proxy'],
      ['sh', '-c', 'echo "{}" > /etc/cni/net.d/10-kindnet.conflist'],
    ]);

    dirtyDump = await collectNodeDump(dirty.shell, {
      ipsetFallback: dockerNetnsIpsetLister(dirty.container, TEST_IMAGE, defaultRunner),
      ...(dirtyBaseline !== undefined ? { baseline: dirtyBaseline } : {}),
    });
    lookalikeDump = await collectNodeDump(lookalike.shell, {
      ...(lookalikeBaseline !== undefined ? { baseline: lookalikeBaseline } : {}),
    });
  });

  afterAll(async () => {
    rmSync(tmp, { recursive: true, force: true });
    expect(await bed.dispose()).toEqual([]);
  });

  it('collects every contract file from a node that has every command', () => {
    expect(Object.keys(lookalikeDump.files).sort()).toEqual(
      [
        'cni-bin-baseline.sha256',
        'cni-bin.sha256',
        'files.txt',
        'ip-addr.json',
        'ip-link.json',
        'ip-route.json',
        'ip6-route.json',
        'ip6tables-legacy-save.txt',
        'ip6tables-nft-save.txt',
        'iptables-legacy-save.txt',
        'iptables-nft-save.txt',
        'ipset-list.txt',
        'nft-tables.txt',
      ].sort(),
    );
    expect(lookalikeDump.notes.ipsetVia).toBe('node');
  });

  it("lists a node's ipsets with another container's ipset in the node's netns when the node has none", () => {
    expect(dirtyDump.notes.ipsetVia).toBe('helper-container');
    expect(dirtyDump.files['ipset-list.txt']).toContain('cali40all-ipam-pools');
  });

  it('finds every planted artifact, each with its category and a removal command', () => {
    const { findings, notChecked } = auditNodeDump(dirtyDump);
    expect(notChecked).toEqual([]);
    expect(has(findings, 'interface', 'vxlan.calico')).toBe(true);
    expect(has(findings, 'interface', 'vxlan-v6.calico')).toBe(true);
    expect(has(findings, 'interface', 'bpfin.cali')).toBe(true);
    expect(findings.find((f) => f.name === 'bpfin.cali')?.detail).toContain('veth peer bpfout.cali');
    expect(has(findings, 'interface', 'cali0123456789a')).toBe(true);
    expect(has(findings, 'route', '192.168.1.0/26 dev eth0')).toBe(true);
    expect(has(findings, 'route', '192.168.2.0/26 dev vxlan.calico')).toBe(true);
    expect(has(findings, 'route', 'blackhole 192.168.77.0/26')).toBe(true);
    expect(has(findings, 'route', 'ipv6 blackhole fd00:10:244::/122')).toBe(true);
    expect(has(findings, 'iptables', 'iptables-legacy filter')).toBe(true);
    expect(has(findings, 'iptables', 'iptables-nft nat')).toBe(true);
    expect(has(findings, 'iptables', 'ip6tables-legacy raw')).toBe(true);
    expect(has(findings, 'iptables', 'ip6tables-nft mangle')).toBe(true);
    for (const s of ['cali40all-ipam-pools', 'cali60all-ipam-pools', 'cali4t0masq-ipam-pools']) {
      expect(has(findings, 'ipset', s)).toBe(true);
    }
    expect(has(findings, 'nftables', 'table ip calico')).toBe(true);
    expect(has(findings, 'nftables', 'table ip6 calico')).toBe(true);
    for (const p of [
      '/etc/cni/net.d/10-calico.conflist',
      '/etc/cni/net.d/calico-kubeconfig',
      '/etc/cni/net.d/calico-tls',
      '/opt/cni/bin/calico',
      '/opt/cni/bin/calico-ipam',
      '/opt/cni/bin/host-local',
      '/opt/cni/bin/tuning',
      '/var/lib/calico',
      '/var/run/calico',
      '/var/log/calico',
    ]) {
      expect(has(findings, 'file', p), p).toBe(true);
    }
    expect(findings.find((f) => f.name === '/opt/cni/bin/host-local')?.rule).toBe('cni-bin-changed');
    expect(has(findings, 'bpf', '/sys/fs/bpf/calico')).toBe(true);
    expect(has(findings, 'bpf', '/sys/fs/bpf/tc/globals/cali_v4_state')).toBe(true);
    expect(findings.every((f) => f.remediation.length > 0 && f.detail.length > 0 && f.why)).toBe(true);
  });

  it('does not flag non-Calico look-alikes: flannel.1, KUBE-* chains and sets, kindnet config, a default and a static route', () => {
    const { findings, notChecked } = auditNodeDump(lookalikeDump);
    expect(findings).toEqual([]);
    expect(notChecked).toEqual([]);
    expect(lookalikeDump.files['iptables-legacy-save.txt']).toContain(':KUBE-SERVICES');
    expect(lookalikeDump.files['ip-link.json']).toContain('flannel.1');
  });

  it('removes each artifact with its remediation command run in the node, after which the node audits clean of it', async () => {
    const { findings } = auditNodeDump(dirtyDump);
    // the ipset remediation runs on the host (helper container) and restoring a CNI binary needs the
    // node image: both are host-side; everything else runs inside the node
    const inNode = findings.filter((f) => f.category !== 'ipset' && f.rule !== 'cni-bin-changed');
    for (const f of inNode) await dirty.sh(['sh', '-c', f.remediation]);
    const baseline = dirtyDump.files['cni-bin-baseline.sha256'];
    const after = auditNodeDump(
      await collectNodeDump(dirty.shell, baseline !== undefined ? { baseline } : {}),
    );
    expect(after.findings.map((f) => `${f.category} ${f.name}`).sort()).toEqual([
      'file /opt/cni/bin/host-local',
      'ipset cali40all-ipam-pools',
      'ipset cali4t0masq-ipam-pools',
      'ipset cali60all-ipam-pools',
    ]);
  });

  describe('saved dumps', () => {
    it('reads back what it wrote and audits it the same way (the same parser for live and saved)', () => {
      writeNodeDump(tmp, dirtyDump);
      writeNodeDump(tmp, lookalikeDump);
      const back = readDumpDir(tmp);
      expect(back.map((d) => d.node)).toEqual(['dirty', 'lookalike']);
      expect(auditNodeDump(back[0]!)).toEqual(auditNodeDump(dirtyDump));
    });

    it('audit --node-dump exits 1 with the JSON contract for the dirty node, 0 for the look-alike node', async () => {
      const io = memoryIO();
      expect(await auditCommand(['--node-dump', join(tmp, 'dirty'), '--output', 'json'], io)).toBe(1);
      const json = JSON.parse(io.stdout) as { clean: boolean; findings: Record<string, string>[] };
      expect(json.clean).toBe(false);
      expect(json.findings.length).toBeGreaterThan(20);
      for (const f of json.findings) {
        expect(Object.keys(f)).toEqual(
          expect.arrayContaining(['node', 'category', 'name', 'detail', 'remediation']),
        );
      }
      const clean = memoryIO();
      expect(await auditCommand(['--node-dump', join(tmp, 'lookalike'), '--output', 'json'], clean)).toBe(0);
      expect(JSON.parse(clean.stdout).clean).toBe(true);
    });
  });
});
