/**
 * Plants, with the real commands, what an upstream Calico uninstall leaves in a kind node
 * (docs/calico-facts.md, "What an uninstall leaves" and "Node-side paths") into a docker-backed test node, so
 * the audit and the complete uninstall work on real kernel state. tunl0 and wireguard.cali cannot be created
 * on this kernel (no ipip, no wireguard module); unit tests cover them on captured output.
 */
import type { TestNode } from './docker.js';
import { vxlanAddArgv } from './docker.js';

/** kind's own CNI plugins, before the baseline is taken (as the pipeline takes it right after creation). */
export async function plantKindCniPlugins(node: TestNode): Promise<void> {
  for (const argv of [
    ['mkdir', '-p', '/etc/cni/net.d', '/opt/cni/bin'],
    ['cp', '/bin/true', '/opt/cni/bin/host-local'],
    ['cp', '/bin/true', '/opt/cni/bin/loopback'],
    ['cp', '/bin/true', '/opt/cni/bin/portmap'],
  ])
    await node.sh(argv);
}

/** A unix socket at `path`, as a CSI registrar leaves it (python3 binds it and exits). */
export const unixSocketArgv = (path: string) => [
  'python3',
  '-c',
  `import socket; s = socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(path)})`,
];

/**
 * Everything, after the baseline: devices, veths (a long and a short suffix, both with Calico's MAC),
 * routes (BIRD's, Felix's, a protocol-boot route on vxlan.calico as v3.32 programs them, blackholes v4 and
 * v6), iptables in both backends and both families, ipsets, nftables tables, CNI files and binaries, state
 * directories with the cgroup2 mount inside /var/run/calico, the bpffs on /sys/fs/bpf with pins, the
 * policysync directory and the CSI paths. `peer` is another address on the node's network.
 */
export async function plantCalicoLeftovers(node: TestNode, peer: string): Promise<void> {
  const lines: string[][] = [
    // devices and veths
    ['ip', 'link', 'add', 'vxlan.calico', 'type', 'vxlan', 'id', '4096', 'dstport', '4789', 'dev', 'eth0'],
    ['ip', 'addr', 'add', '192.168.77.0/32', 'dev', 'vxlan.calico'],
    ['ip', 'link', 'set', 'vxlan.calico', 'up'],
    // Felix's vxlan-v6.calico has VNI 4096 on an IPv6 underlay; IPv6 is disabled in the test container,
    // and the kernel refuses a second VNI 4096 on the same port, so the stand-in uses the next VNI
    vxlanAddArgv('vxlan-v6.calico', 4097),
    ['ip', 'link', 'add', 'bpfin.cali', 'type', 'veth', 'peer', 'name', 'bpfout.cali'],
    ['ip', 'link', 'add', 'cali0123456789a', 'type', 'veth', 'peer', 'name', 'pod0eth0'],
    ['ip', 'link', 'set', 'cali0123456789a', 'address', 'ee:ee:ee:ee:ee:ee'],
    ['ip', 'link', 'add', 'cali7f3e', 'type', 'veth', 'peer', 'name', 'pod1eth0'],
    ['ip', 'link', 'set', 'cali7f3e', 'address', 'ee:ee:ee:ee:ee:ee'],
    // routes: BIRD (12) via eth0, Felix (80) via vxlan.calico onlink, v3.32's protocol-boot VXLAN route,
    // blackholes v4 and v6
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
    [
      'ip',
      'route',
      'add',
      '192.168.3.0/26',
      'via',
      '192.168.3.1',
      'dev',
      'vxlan.calico',
      'onlink',
      'proto',
      'boot',
    ],
    ['ip', 'route', 'add', 'blackhole', '192.168.77.0/26', 'proto', 'bird'],
    ['ip', '-6', 'route', 'add', 'blackhole', 'fd00:10:244::/122', 'proto', '80'],
    // iptables: legacy and nft, IPv4 and IPv6; a chain that jumps to another, and a tagged non-jump hook
    ['iptables-legacy', '-t', 'filter', '-N', 'cali-FORWARD'],
    ['iptables-legacy', '-t', 'filter', '-N', 'cali-from-wl-dispatch'],
    ['iptables-legacy', '-t', 'filter', '-A', 'cali-FORWARD', '-j', 'cali-from-wl-dispatch'],
    [
      'iptables-legacy',
      '-t',
      'filter',
      '-A',
      'cali-from-wl-dispatch',
      '-m',
      'comment',
      '--comment',
      'cali:7KNphB1nNHw80nIO',
      '-m',
      'comment',
      '--comment',
      'Unknown interface',
      '-j',
      'DROP',
    ],
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
    [
      'iptables-legacy',
      '-t',
      'filter',
      '-A',
      'FORWARD',
      '-m',
      'comment',
      '--comment',
      'cali:S93hcgKJrXEqnTfs',
      '-m',
      'mark',
      '--mark',
      '0x10000/0x10000',
      '-j',
      'ACCEPT',
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
    // ipsets (one referenced by a cali- rule, as Felix's are) and the nftables dataplane's table
    ['ipset', 'create', 'cali40all-ipam-pools', 'hash:net'],
    ['ipset', 'create', 'cali60all-ipam-pools', 'hash:net', 'family', 'inet6'],
    ['ipset', 'create', 'cali4t0masq-ipam-pools', 'hash:net'],
    [
      'iptables-nft',
      '-t',
      'nat',
      '-A',
      'cali-nat-outgoing',
      '-m',
      'comment',
      '--comment',
      'cali:flqWnvo8yq4ULQLa',
      '-m',
      'set',
      '--match-set',
      'cali40all-ipam-pools',
      'src',
      '-j',
      'MASQUERADE',
    ],
    ['nft', 'add', 'table', 'ip', 'calico'],
    ['nft', 'add', 'table', 'ip6', 'calico'],
    // files: CNI config, binaries (calico's, an overwritten host-local, an added tuning), state dirs
    ['sh', '-c', 'echo "{}" > /etc/cni/net.d/10-calico.conflist'],
    ['touch', '/etc/cni/net.d/calico-kubeconfig'],
    ['mkdir', '-p', '/etc/cni/net.d/calico-tls'],
    ['cp', '/bin/true', '/opt/cni/bin/calico'],
    ['cp', '/bin/true', '/opt/cni/bin/calico-ipam'],
    ['cp', '/bin/false', '/opt/cni/bin/host-local'],
    ['cp', '/bin/false', '/opt/cni/bin/tuning'],
    ['mkdir', '-p', '/var/lib/calico', '/var/run/calico', '/var/log/calico/cni', '/var/run/nodeagent'],
    ['sh', '-c', 'echo dirty > /var/lib/calico/nodename; echo 1450 > /var/lib/calico/mtu'],
    ['touch', '/var/run/calico/bird.ctl'],
    // calico-node's init container: cgroup2 at /run/calico/cgroup (inside /var/run/calico), bpffs on
    // /sys/fs/bpf with pins
    ['mkdir', '-p', '/run/calico/cgroup'],
    ['mount', '-t', 'cgroup2', 'none', '/run/calico/cgroup'],
    ['mount', '-t', 'bpf', 'bpf', '/sys/fs/bpf'],
    ['mkdir', '-p', '/sys/fs/bpf/calico', '/sys/fs/bpf/tc/globals/cali_v4_state'],
    // the operator's CSI driver: its kubelet plugin directory and registration socket
    ['mkdir', '-p', '/var/lib/kubelet/plugins/csi.tigera.io', '/var/lib/kubelet/plugins_registry'],
    unixSocketArgv('/var/lib/kubelet/plugins/csi.tigera.io/csi.sock'),
    unixSocketArgv('/var/lib/kubelet/plugins_registry/csi.tigera.io-reg.sock'),
    // like a kind node, which ships no ipset binary: the sets stay in the kernel, the tool goes
    ['sh', '-c', 'rm -f "$(command -v ipset)"'],
  ];
  for (const argv of lines) await node.sh(argv);
}

/** Non-Calico look-alikes no rule may flag. */
export async function plantLookalikes(node: TestNode, peer: string): Promise<void> {
  const lines: string[][] = [
    ['ip', 'link', 'add', 'flannel.1', 'type', 'vxlan', 'id', '1', 'dstport', '8472', 'dev', 'eth0'],
    ['ip', 'addr', 'add', '10.244.1.0/32', 'dev', 'flannel.1'],
    ['ip', 'link', 'set', 'flannel.1', 'up'],
    // a veth whose name starts with cali but without Calico's MAC (the name alone is not Calico's)
    ['ip', 'link', 'add', 'caliber0', 'type', 'veth', 'peer', 'name', 'caliber1'],
    ['ip', 'link', 'add', 'cali0123456789b', 'type', 'veth', 'peer', 'name', 'other0'],
    // Calico's MAC without the cali prefix (another plugin copying it)
    ['ip', 'link', 'add', 'veth9f00', 'type', 'veth', 'peer', 'name', 'veth9f01'],
    ['ip', 'link', 'set', 'veth9f00', 'address', 'ee:ee:ee:ee:ee:ee'],
    ['ip', 'route', 'add', '10.99.0.0/24', 'via', peer, 'dev', 'eth0'],
    ['ip', 'route', 'add', '10.98.0.0/24', 'via', peer, 'dev', 'eth0', 'proto', 'static'],
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
    // a cgroup2 mounted elsewhere, another CSI driver's registration socket
    ['mkdir', '-p', '/mnt/cg', '/var/lib/kubelet/plugins_registry'],
    ['mount', '-t', 'cgroup2', 'none', '/mnt/cg'],
    unixSocketArgv('/var/lib/kubelet/plugins_registry/ebs.csi.aws.com-reg.sock'),
  ];
  for (const argv of lines) await node.sh(argv);
}
