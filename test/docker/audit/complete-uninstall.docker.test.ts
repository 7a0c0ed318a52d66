/**
 * The complete uninstall on real kernel state: a docker-backed node gets everything an upstream Calico
 * uninstall leaves (test/support/calico-leftovers.ts) next to non-Calico look-alikes, the complete
 * uninstall runs through the same NodeShell used for kind nodes (ipsets through the helper container in the
 * node's netns, as on kind), and the second audit must find the node clean while every look-alike is still
 * there. The test image runs no systemd, so the kubelet restart must come back `unavailable`.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  collectBaseline,
  collectNodeDump,
  dockerNetnsIpset,
  dockerNetnsIpsetLister,
} from '../../../harness/audit/collect.js';
import { completeUninstallNode, type NodeCleanReport } from '../../../harness/audit/complete-uninstall.js';
import { auditReport } from '../../../harness/audit/rules.js';
import { judgeComplete } from '../../../harness/audit/verdict.js';
import { defaultRunner } from '../../../harness/exec/process.js';
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

describeDocker('complete uninstall on docker-backed nodes', () => {
  const bed = new DockerTestBed();
  let net: NetworkHandle;
  let node: TestNode;
  let baseline: string | undefined;
  let kindSums: string;
  let report: NodeCleanReport;

  const dumpOf = () =>
    collectNodeDump(node.shell, {
      ipsetFallback: dockerNetnsIpsetLister(node.container, TEST_IMAGE, defaultRunner),
      ...(baseline !== undefined ? { baseline } : {}),
    });
  const clean = () =>
    completeUninstallNode(node.shell, {
      ...(baseline !== undefined ? { baseline } : {}),
      ipset: dockerNetnsIpset(node.container, TEST_IMAGE, defaultRunner),
      collect: () => dumpOf(),
    });

  beforeAll(async () => {
    net = await bed.network('cu');
    node = await bed.node('cu-a', { networks: [{ network: net, ip: `${net.prefix}.10` }] });
    await plantKindCniPlugins(node);
    baseline = await collectBaseline(node.shell);
    kindSums = await node.sh(['sh', '-c', 'sha256sum /opt/cni/bin/host-local /opt/cni/bin/loopback']);
    // the look-alikes first: they need the node's ipset, which the Calico planting then removes (kind has none)
    await plantLookalikes(node, `${net.prefix}.11`);
    await plantCalicoLeftovers(node, `${net.prefix}.11`);
    report = await clean();
  }, 180_000);

  afterAll(async () => {
    expect(await bed.dispose()).toEqual([]);
    expect(await bed.remaining()).toEqual([]);
  });

  it('removes every leftover: the second audit of the node is clean', async () => {
    const failed = report.steps.filter((s) => s.outcome === 'failed');
    expect(failed).toEqual([]);
    const dump = await dumpOf();
    const second = judgeComplete(auditReport({ dumps: [dump] }), [dump]);
    expect(second.report.findings.map((f) => `${f.category} ${f.name}`)).toEqual([]);
    // every node check was made (API state is not part of a node test)
    expect(second.report.notChecked.filter((n) => n.node !== 'cluster')).toEqual([]);
    // the kernel's fallback tunl0 exists only where the host has ipip loaded; it is kept, never counted
    const tunl0 = await node.shell.exec(['ip', 'link', 'show', 'dev', 'tunl0']);
    expect(second.kernelKept).toEqual(
      tunl0.exitCode === 0 ? [expect.stringMatching(/^cu-a: tunl0, the kernel's fallback ipip device/)] : [],
    );
  });

  it('acted on each kind of leftover with the safe command, inside the node', () => {
    const done = report.steps.filter((s) => s.outcome === 'done').map((s) => `${s.action} :: ${s.detail}`);
    const has = (re: RegExp) =>
      expect(
        done.some((d) => re.test(d)),
        String(re),
      ).toBe(true);
    has(
      /^remove route 192\.168\.3\.0\/26 dev vxlan\.calico :: ip route del 192\.168\.3\.0\/26 via 192\.168\.3\.1 dev vxlan\.calico/,
    );
    has(/^remove interface cali7f3e :: ip link del cali7f3e$/);
    has(/^remove iptables iptables-legacy filter :: iptables-legacy-restore --noflush$/);
    has(/^remove ipset cali40all-ipam-pools :: ipset destroy cali40all-ipam-pools$/);
    has(/^remove mount \/run\/calico\/cgroup :: umount \/run\/calico\/cgroup$/);
    has(/^remove mount \/sys\/fs\/bpf :: umount \/sys\/fs\/bpf$/);
    has(/^remove file \/var\/run\/calico :: rm -rf --one-file-system \/var\/run\/calico$/);
    has(
      /^remove file \/opt\/cni\/bin\/host-local :: cp -a \/var\/lib\/calico-conformance\/cni-bin-baseline\/host-local/,
    );
    // never anything that acts on the host kernel
    expect(report.steps.map((s) => s.detail ?? '').join('\n')).not.toMatch(/modprobe|rmmod|insmod/);
  });

  it('reports the kubelet restart it could not make (no systemd here) and the clean as incomplete', () => {
    const kubelet = report.steps.find((s) => s.action === 'restart kubelet')!;
    expect(kubelet.outcome).toBe('unavailable');
    expect(kubelet.detail).toMatch(/kubelet was not restarted/);
    expect(report.complete).toBe(false);
  });

  it("keeps every non-Calico look-alike, and restores kind's own plugins byte for byte", async () => {
    expect(await node.sh(['ip', '-o', 'link', 'show'])).toMatch(
      /flannel\.1.*\n(.*\n)*.*caliber0|caliber0(.*\n)*.*flannel\.1/,
    );
    expect(await node.sh(['ip', '-o', 'link', 'show', 'cali0123456789b'])).toContain('cali0123456789b');
    expect(await node.sh(['ip', '-o', 'link', 'show', 'veth9f00'])).toContain('veth9f00');
    expect(await node.sh(['iptables-legacy-save'])).toContain(':KUBE-SERVICES');
    expect(await node.sh(['iptables-nft-save'])).toContain(':KUBE-FORWARD');
    expect(await node.sh(['nft', 'list', 'tables'])).toContain('table ip kube-proxy');
    expect(await node.sh(['ip', 'route', 'show', 'proto', 'static'])).toContain('10.98.0.0/24');
    expect(await node.sh(['cat', '/proc/self/mountinfo'])).toContain(' /mnt/cg ');
    expect(await node.sh(['ls', '/etc/cni/net.d', '/var/lib/kubelet/plugins_registry'])).toMatch(
      /10-kindnet\.conflist[\s\S]*ebs\.csi\.aws\.com-reg\.sock/,
    );
    const ipsets = await defaultRunner.run('docker', [
      'run',
      '--rm',
      '--pull',
      'never',
      '--network',
      `container:${node.container}`,
      '--cap-add',
      'NET_ADMIN',
      '--entrypoint',
      'ipset',
      TEST_IMAGE,
      'list',
      '-n',
    ]);
    expect(ipsets.stdout.split('\n')).toContain('KUBE-LOOP-BACK');
    expect(await node.sh(['sh', '-c', 'sha256sum /opt/cni/bin/host-local /opt/cni/bin/loopback'])).toBe(
      kindSums,
    );
  });

  it('a second run finds nothing left to remove', async () => {
    const again = await clean();
    expect(again.steps.map((s) => s.action)).toEqual(['restart kubelet']);
  });
});
