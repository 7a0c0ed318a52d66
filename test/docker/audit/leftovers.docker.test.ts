/**
 * The leftover audit on real kernel state: every artifact Calico leaves (docs/calico-facts.md, "What an
 * uninstall leaves") is planted with the real command in a docker-backed node, collected through the
 * NodeShell with the node dump's commands (docs/contracts.md), and must be found with the right category;
 * non-Calico look-alikes in a second node must not be. (tunl0 and wireguard.cali cannot be created on this
 * kernel: test/unit/audit covers them on captured output.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectBaseline, collectNodeDump, dockerNetnsIpsetLister } from '../../../harness/audit/collect.js';
import { RULE_IDS } from '../../../harness/audit/registry.js';
import { auditNodeDump } from '../../../harness/audit/rules.js';
import { auditCommand } from '../../../harness/cli/commands/audit.js';
import { memoryIO } from '../../../harness/cli/io.js';
import { defaultRunner } from '../../../harness/exec/process.js';
import type { Finding } from '../../../harness/model/audit.js';
import { type NodeDump, readDumpDir, writeNodeDump } from '../../../harness/node-state/dump.js';
import {
  plantCalicoLeftovers,
  plantKindCniPlugins,
  plantLookalikes,
} from '../../support/calico-leftovers.js';
import {
  DockerTestBed,
  describeDocker,
  type NetworkHandle,
  TEST_IMAGE,
  type TestNode,
} from '../../support/docker.js';

const bed = new DockerTestBed();
let net: NetworkHandle;
let dirty: TestNode;
let lookalike: TestNode;
let dirtyDump: NodeDump;
let lookalikeDump: NodeDump;
const tmp = mkdtempSync(join(tmpdir(), 'cc-audit-'));

const has = (fs: Finding[], category: string, name: string | RegExp) =>
  fs.some((f) => f.category === category && (typeof name === 'string' ? f.name === name : name.test(f.name)));

describeDocker('leftover audit on docker-backed nodes', () => {
  beforeAll(async () => {
    net = await bed.network('audit');
    dirty = await bed.node('dirty', { networks: [{ network: net, ip: `${net.prefix}.10` }] });
    lookalike = await bed.node('lookalike', { networks: [{ network: net, ip: `${net.prefix}.11` }] });

    // kind's own CNI binaries, then the baseline, as the pipeline takes it right after cluster creation
    for (const n of [dirty, lookalike]) await plantKindCniPlugins(n);
    const dirtyBaseline = await collectBaseline(dirty.shell);
    const lookalikeBaseline = await collectBaseline(lookalike.shell);

    await plantCalicoLeftovers(dirty, `${net.prefix}.11`);
    await plantLookalikes(lookalike, `${net.prefix}.10`);

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
        'mounts.txt',
        'nft-tables.txt',
      ].sort(),
    );
    expect(lookalikeDump.notes.ipsetVia).toBe('node');
  });

  it("lists a node's ipsets with another container's ipset in the node's netns when the node has none", () => {
    expect(dirtyDump.notes.ipsetVia).toBe('helper-container');
    expect(dirtyDump.files['ipset-list.txt']).toContain('cali40all-ipam-pools');
  });

  it('finds every planted artifact, each with its category, a registered rule and a removal command', () => {
    const { findings, notChecked } = auditNodeDump(dirtyDump);
    expect(notChecked).toEqual([]);
    expect(has(findings, 'interface', 'vxlan.calico')).toBe(true);
    expect(has(findings, 'interface', 'vxlan-v6.calico')).toBe(true);
    expect(has(findings, 'interface', 'bpfin.cali')).toBe(true);
    expect(findings.find((f) => f.name === 'bpfin.cali')?.detail).toContain('veth peer bpfout.cali');
    // Calico's veths by prefix and MAC, whatever the suffix length
    for (const v of ['cali0123456789a', 'cali7f3e'])
      expect(findings.find((f) => f.name === v)).toMatchObject({ category: 'interface', rule: 'cali-veth' });
    expect(has(findings, 'route', '192.168.1.0/26 dev eth0')).toBe(true);
    expect(has(findings, 'route', '192.168.2.0/26 dev vxlan.calico')).toBe(true);
    // protocol boot (v3.32's VXLAN routes): flagged for being on vxlan.calico
    const boot = findings.find((f) => f.name === '192.168.3.0/26 dev vxlan.calico');
    expect(boot).toMatchObject({ category: 'route', rule: 'calico-route' });
    expect(boot?.detail).not.toMatch(/proto (bird|80)/);
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
      '/var/run/nodeagent',
      '/var/lib/kubelet/plugins/csi.tigera.io',
      '/var/lib/kubelet/plugins_registry/csi.tigera.io-reg.sock',
    ]) {
      expect(has(findings, 'file', p), p).toBe(true);
    }
    expect(findings.find((f) => f.name === '/opt/cni/bin/host-local')?.rule).toBe('cni-bin-changed');
    expect(has(findings, 'bpf', '/sys/fs/bpf/calico')).toBe(true);
    expect(has(findings, 'bpf', '/sys/fs/bpf/tc/globals/cali_v4_state')).toBe(true);
    expect(findings.find((f) => f.name === '/sys/fs/bpf')).toMatchObject({
      category: 'mount',
      rule: 'calico-bpffs-mount',
      remediation: 'umount /sys/fs/bpf',
    });
    expect(findings.find((f) => f.name === '/run/calico/cgroup')).toMatchObject({
      category: 'mount',
      rule: 'calico-cgroup-mount',
      remediation: 'umount /run/calico/cgroup',
    });
    // find -xdev: the live cgroup tree under /var/run/calico/cgroup is not listed as Calico state
    const runCalico = findings.find((f) => f.name === '/var/run/calico')!;
    expect(runCalico.detail).toContain('/var/run/calico/bird.ctl');
    expect(runCalico.detail).not.toMatch(/cgroup\.procs|cpu\.stat/);
    expect(runCalico.remediation).toBe('rm -rf --one-file-system /var/run/calico');
    // the unmount comes before the directory holding it is removed
    const order = findings.map((f) => f.name);
    expect(order.indexOf('/run/calico/cgroup')).toBeLessThan(order.indexOf('/var/run/calico'));
    expect(order.indexOf('/sys/fs/bpf/calico')).toBeLessThan(order.indexOf('/sys/fs/bpf'));
    expect(findings.every((f) => f.remediation.length > 0 && f.detail.length > 0 && f.why)).toBe(true);
    expect(findings.every((f) => RULE_IDS.includes(f.rule ?? ''))).toBe(true);
  });

  it("does not flag non-Calico look-alikes: flannel.1, cali-named veths without Calico's MAC, KUBE-* chains and sets, kindnet config, another cgroup2 mount and CSI driver, a default and a static route", () => {
    const { findings, notChecked } = auditNodeDump(lookalikeDump);
    expect(findings).toEqual([]);
    expect(notChecked).toEqual([]);
    expect(lookalikeDump.files['iptables-legacy-save.txt']).toContain(':KUBE-SERVICES');
    expect(lookalikeDump.files['ip-link.json']).toContain('flannel.1');
    expect(lookalikeDump.files['ip-link.json']).toContain('cali0123456789b');
    expect(lookalikeDump.files['mounts.txt']).toContain(' /mnt/cg ');
    expect(lookalikeDump.files['files.txt']).toContain('ebs.csi.aws.com-reg.sock');
  });

  it('removes each artifact with its remediation command run in the node, after which the node audits clean of it', async () => {
    const { findings } = auditNodeDump(dirtyDump);
    // the ipset remediation runs on the host (helper container); everything else runs inside the node,
    // restoring the overwritten host-local from the copy collectBaseline kept in the node
    const inNode = findings.filter((f) => f.category !== 'ipset');
    for (const f of inNode) await dirty.sh(['sh', '-c', f.remediation]);
    const baseline = dirtyDump.files['cni-bin-baseline.sha256'];
    const after = auditNodeDump(
      await collectNodeDump(dirty.shell, baseline !== undefined ? { baseline } : {}),
    );
    expect(after.findings.map((f) => `${f.category} ${f.name}`).sort()).toEqual([
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
