/**
 * Deep clean on real kernel state inside docker-backed nodes: Calico's VXLAN devices and CNI files are planted,
 * deepClean runs through the same NodeShell used for kind nodes, and the node is read back.
 *
 * tunl0 exists in a node only while the host has the ipip module loaded; the test never loads it (that would be
 * the host kernel), so it checks flush-and-down on a real tunl0 where one exists and the `absent` outcome where
 * none does. The test image runs no systemd, so the kubelet restart must come back `unavailable`, and the clean
 * as incomplete.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deepClean } from '../../../harness/calico/flows/deep-clean.js';
import {
  DockerTestBed,
  describeDocker,
  type NetworkHandle,
  type TestNode,
  vxlanAddArgv,
} from '../../support/docker.js';

describeDocker('deepClean on docker-backed nodes', () => {
  const bed = new DockerTestBed();
  let net: NetworkHandle;
  let a: TestNode;
  let b: TestNode;

  beforeAll(async () => {
    net = await bed.network('dc');
    a = await bed.node('dc-a', { networks: [{ network: net, ip: `${net.prefix}.10` }] });
    b = await bed.node('dc-b', { networks: [{ network: net, ip: `${net.prefix}.11` }] });
    for (const n of [a, b]) {
      // what Felix leaves in VXLAN mode (calico-tests-uninstall.md §2.4): VNI 4096, port 4789, an address, up
      await n.sh(vxlanAddArgv('vxlan.calico', 4096));
      await n.sh(['ip', 'addr', 'add', '192.168.77.1/32', 'dev', 'vxlan.calico']);
      await n.sh(['ip', 'link', 'set', 'vxlan.calico', 'up']);
      await n.sh([
        'ip',
        'route',
        'add',
        '192.168.78.0/26',
        'via',
        '192.168.78.1',
        'dev',
        'vxlan.calico',
        'onlink',
      ]);
      // and what install-cni writes
      await n.sh(['mkdir', '-p', '/etc/cni/net.d/calico-tls', '/var/lib/cni/networks/k8s-pod-network']);
      await n.sh([
        'sh',
        '-c',
        'echo {} > /etc/cni/net.d/10-calico.conflist; echo x > /etc/cni/net.d/calico-kubeconfig',
      ]);
      await n.sh([
        'sh',
        '-c',
        'echo other > /etc/cni/net.d/99-other.conf; echo 10.0.0.5 > /var/lib/cni/networks/k8s-pod-network/last_reserved_ip.0',
      ]);
    }
    // only node b also has the IPv6 VXLAN device (Calico gives it VNI 4096 on an IPv6 socket; without IPv6 in the
    // test network another VNI keeps the kernel from refusing a duplicate IPv4 VNI — the name is what matters)
    await b.sh(vxlanAddArgv('vxlan-v6.calico', 4097));
    // plant an address on tunl0 where the host's kernel provides one (never load a module to get it)
    for (const n of [a, b]) {
      const has = await n.shell.exec(['ip', 'link', 'show', 'dev', 'tunl0']);
      if (has.exitCode === 0) {
        await n.sh(['ip', 'addr', 'add', '192.168.79.1/32', 'dev', 'tunl0']);
        await n.sh(['ip', 'link', 'set', 'tunl0', 'up']);
      }
    }
  }, 120_000);

  afterAll(async () => {
    expect(await bed.dispose()).toEqual([]);
    expect(await bed.remaining()).toEqual([]);
  });

  it('removes the VXLAN devices (and their routes) and Calico CNI state, keeps other CNI files, and reports kubelet honestly', async () => {
    const reports = await deepClean([a.shell, b.shell]);
    expect(reports.map((r) => r.node)).toEqual(['dc-a', 'dc-b']);

    for (const n of [a, b]) {
      const links = JSON.parse(await n.sh(['ip', '-j', 'link', 'show'])) as {
        ifname: string;
        flags: string[];
      }[];
      const names = links.map((l) => l.ifname);
      expect(names).not.toContain('vxlan.calico');
      expect(names).not.toContain('vxlan-v6.calico');
      expect(await n.sh(['ip', 'route', 'show', 'table', 'all'])).not.toContain('192.168.78.0/26');
      const files = await n.sh(['find', '/etc/cni/net.d', '/var/lib', '-maxdepth', '1']);
      expect(files).not.toMatch(/10-calico\.conflist|calico-kubeconfig|calico-tls|\/var\/lib\/cni\b/);
      expect(files).toContain('/etc/cni/net.d/99-other.conf');
      const tunl = links.find((l) => l.ifname === 'tunl0');
      const report = reports.find((r) => r.node === n.name)!;
      const tunlStep = report.steps.find((s) => s.action.startsWith('tunl0'))!;
      if (tunl) {
        expect(tunlStep.outcome).toBe('done');
        expect(tunl.flags).not.toContain('UP');
        expect(await n.sh(['ip', '-4', 'addr', 'show', 'dev', 'tunl0'])).not.toContain('inet ');
      } else {
        expect(tunlStep.outcome).toBe('absent');
      }
    }

    const [ra, rb] = reports;
    expect(ra!.steps.find((s) => s.action === 'delete vxlan.calico')?.outcome).toBe('done');
    expect(ra!.steps.find((s) => s.action === 'delete vxlan-v6.calico')?.outcome).toBe('absent');
    expect(rb!.steps.find((s) => s.action === 'delete vxlan-v6.calico')?.outcome).toBe('done');
    for (const r of reports) {
      expect(r.steps.filter((s) => s.outcome === 'failed')).toEqual([]);
      const kubelet = r.steps.find((s) => s.action === 'restart kubelet')!;
      expect(kubelet.outcome).toBe('unavailable');
      expect(kubelet.detail).toMatch(/kubelet was not restarted/);
      expect(r.complete).toBe(false);
    }
  }, 120_000);

  it('a second run finds nothing left to do', async () => {
    const [again] = await deepClean([a.shell]);
    expect(again!.steps.filter((s) => s.action !== 'restart kubelet').map((s) => s.outcome)).toEqual(
      Array(again!.steps.length - 1).fill('absent'),
    );
  });
});
