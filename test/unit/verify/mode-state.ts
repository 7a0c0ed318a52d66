/**
 * Synthetic node dumps of each mode's expected state, in iproute2's `-j` shapes (captured from
 * `ip -d -j link` / `ip -j addr` / `ip -j route` in the test node image; tunl0 shapes from iproute2's
 * link_iptnl.c printer; docs/calico-facts.md, "tunl0"). Used by the verification tests.
 */

import type { Encapsulation } from '../../../harness/config/catalogue.js';
import {
  type Cell,
  DEFAULTS,
  defaultBgp,
  isCrossSubnet,
  isIpip,
  isVxlan,
  poolModes,
} from '../../../harness/config/cell.js';
import type { NodeDump } from '../../../harness/node-state/dump.js';
import type { BlockAffinityObject, IPPoolObject, VerifyInput } from '../../../harness/verify/mode.js';

export interface SimNode {
  name: string;
  internalIP: string;
  /** Calico's address with prefix; defaults to internalIP/16 (one kind network) */
  calicoAddress: string;
  /**
   * the node's block; undefined when Calico IPAM never allocated one there (no pod-network pod and no tunnel
   * address on the node: None mode before any workload lands on it)
   */
  block: string | undefined;
  /** first address of the block: the tunnel address Felix allocates */
  tunnelIP: string;
}

export const FLAT: SimNode[] = [
  {
    name: 'cc-control-plane',
    internalIP: '172.18.0.2',
    calicoAddress: '172.18.0.2/16',
    block: '192.168.10.0/26',
    tunnelIP: '192.168.10.0',
  },
  {
    name: 'cc-worker',
    internalIP: '172.18.0.3',
    calicoAddress: '172.18.0.3/16',
    block: '192.168.20.0/26',
    tunnelIP: '192.168.20.0',
  },
  {
    name: 'cc-worker2',
    internalIP: '172.18.0.4',
    calicoAddress: '172.18.0.4/16',
    block: '192.168.30.0/26',
    tunnelIP: '192.168.30.0',
  },
];

/** split-subnet: control plane and worker2 in range A, worker in range B */
export const SPLIT: SimNode[] = [
  { ...FLAT[0]!, calicoAddress: '10.250.1.10/24' },
  { ...FLAT[1]!, calicoAddress: '10.250.2.10/24' },
  { ...FLAT[2]!, calicoAddress: '10.250.1.11/24' },
];

export function cellFor(encapsulation: Encapsulation, topology: 'flat' | 'split-subnet' = 'flat'): Cell {
  return {
    id: `test-${encapsulation}`,
    calicoVersion: DEFAULTS.calicoVersion,
    install: 'manifest',
    encapsulation,
    podCIDR: '192.168.0.0/16',
    serviceCIDR: '10.96.0.0/12',
    ipPoolCIDR: '192.168.0.0/16',
    blockSize: 26,
    natOutgoing: true,
    workers: 2,
    nodeImage: DEFAULTS.nodeImage,
    topology,
    bgp: defaultBgp(encapsulation),
  };
}

const ip = (a: string) => a.split('/')[0]!;
const prefixOf = (a: string) => Number(a.split('/')[1]);
const sameSubnet = (a: string, b: string) => {
  const p = prefixOf(a);
  const n = (s: string) =>
    ip(s)
      .split('.')
      .reduce((acc, o) => acc * 256 + Number(o), 0);
  const mask = p === 0 ? 0 : 2 ** 32 - 2 ** (32 - p);
  return (n(a) & mask) >>> 0 === (n(b) & mask) >>> 0;
};

/**
 * The kernel's fallback tunl0: `tunl0@NONE: <NOARP> mtu 1480 qdisc noop state DOWN … link/ipip 0.0.0.0`
 * (kernel net/ipv4/ipip.c; docs/calico-facts.md, "tunl0").
 */
export function tunl0Link(configured: boolean, mtu = 1480): Record<string, unknown> {
  return {
    ifindex: 2,
    link: null,
    ifname: 'tunl0',
    flags: configured ? ['NOARP', 'UP', 'LOWER_UP'] : ['NOARP'],
    mtu,
    qdisc: configured ? 'noqueue' : 'noop',
    operstate: configured ? 'UNKNOWN' : 'DOWN',
    linkmode: 'DEFAULT',
    group: 'default',
    txqlen: 1000,
    link_type: 'ipip',
    address: '0.0.0.0',
    broadcast: '0.0.0.0',
    promiscuity: 0,
    allmulti: 0,
    min_mtu: 0,
    max_mtu: 0,
    linkinfo: {
      info_kind: 'ipip',
      info_data: { proto: 'ipip', remote: 'any', local: 'any', ttl: 0, pmtudisc: false },
    },
    inet6_addr_gen_mode: 'eui64',
    num_tx_queues: 1,
    num_rx_queues: 1,
    gso_max_size: 65536,
    gso_max_segs: 65535,
  };
}

export function addrEntry(
  ifname: string,
  flags: string[],
  inet: { local: string; prefixlen: number }[],
): Record<string, unknown> {
  return {
    ifindex: 1,
    ifname,
    flags,
    mtu: 1500,
    qdisc: 'noqueue',
    operstate: flags.includes('UP') ? 'UNKNOWN' : 'DOWN',
    group: 'default',
    addr_info: inet.map((i) => ({
      family: 'inet',
      local: i.local,
      prefixlen: i.prefixlen,
      scope: 'global',
      label: ifname,
      valid_life_time: 4294967295,
      preferred_life_time: 4294967295,
    })),
  };
}

const eth0Link = {
  ifindex: 14,
  link_index: 15,
  ifname: 'eth0',
  flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
  mtu: 1500,
  qdisc: 'noqueue',
  operstate: 'UP',
  link_type: 'ether',
  address: '02:42:ac:12:00:02',
  linkinfo: { info_kind: 'veth' },
};

/** The dataplane a correct install of `encapsulation` produces on `self`, given every node. */
export function expectedDump(
  encapsulation: Encapsulation,
  nodes: SimNode[],
  self: SimNode,
  opts: { routesAllNative?: boolean } = {},
): NodeDump {
  const ipip = isIpip(encapsulation);
  const vxlan = isVxlan(encapsulation);
  const links: Record<string, unknown>[] = [eth0Link, tunl0Link(ipip)];
  if (vxlan) {
    links.push({
      ifindex: 5,
      ifname: 'vxlan.calico',
      flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
      mtu: 1450,
      operstate: 'UNKNOWN',
      link_type: 'ether',
      linkinfo: { info_kind: 'vxlan', info_data: { id: 4096, port: 4789, link: 'eth0' } },
    });
  }
  const eth0Addrs = [{ local: self.internalIP, prefixlen: 16 }];
  if (self.calicoAddress !== `${self.internalIP}/16`)
    eth0Addrs.push({ local: ip(self.calicoAddress), prefixlen: prefixOf(self.calicoAddress) });
  const addrs = [
    addrEntry('eth0', eth0Link.flags, eth0Addrs),
    addrEntry(
      'tunl0',
      ipip ? ['NOARP', 'UP', 'LOWER_UP'] : ['NOARP'],
      ipip ? [{ local: self.tunnelIP, prefixlen: 32 }] : [],
    ),
    ...(vxlan
      ? [
          addrEntry(
            'vxlan.calico',
            ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
            [{ local: self.tunnelIP, prefixlen: 32 }],
          ),
        ]
      : []),
  ];
  const proto = vxlan ? '80' : 'bird';
  const routes: Record<string, unknown>[] = [
    { dst: 'default', gateway: '172.18.0.1', dev: 'eth0', flags: [] },
    {
      dst: '172.18.0.0/16',
      dev: 'eth0',
      protocol: 'kernel',
      scope: 'link',
      prefsrc: self.internalIP,
      flags: [],
    },
    ...(self.block ? [{ type: 'blackhole', dst: self.block, protocol: proto, flags: [] }] : []),
  ];
  for (const other of nodes) {
    if (other.name === self.name || !other.block) continue;
    const encap =
      !opts.routesAllNative &&
      encapsulation !== 'None' &&
      (!isCrossSubnet(encapsulation) || !sameSubnet(self.calicoAddress, other.calicoAddress));
    if (encap && ipip)
      routes.push({
        dst: other.block,
        gateway: ip(other.calicoAddress),
        dev: 'tunl0',
        protocol: 'bird',
        flags: ['onlink'],
      });
    else if (encap)
      routes.push({
        dst: other.block,
        gateway: other.tunnelIP,
        dev: 'vxlan.calico',
        protocol: '80',
        flags: ['onlink'],
      });
    else
      routes.push({
        dst: other.block,
        gateway: ip(other.calicoAddress),
        dev: 'eth0',
        protocol: proto,
        flags: [],
      });
  }
  routes.push({
    type: 'local',
    dst: self.internalIP,
    dev: 'eth0',
    table: 'local',
    protocol: 'kernel',
    scope: 'host',
    prefsrc: self.internalIP,
    flags: [],
  });
  return {
    node: self.name,
    files: {
      'ip-link.json': JSON.stringify(links),
      'ip-addr.json': JSON.stringify(addrs),
      'ip-route.json': JSON.stringify(routes),
    },
    notes: {},
  };
}

export function birdProtocols(self: SimNode, nodes: SimNode[], state = 'Established'): string {
  return [
    'BIRD v0.3.3+birdv1.6.8 ready.',
    'name     proto    table    state  since       info',
    'static1  Static   master   up     09:15:17    ',
    'kernel1  Kernel   master   up     09:15:17    ',
    'device1  Device   master   up     09:15:17    ',
    'direct1  Direct   master   up     09:15:17    ',
    ...nodes
      .filter((n) => n.name !== self.name)
      .map(
        (n) =>
          `Mesh_${ip(n.calicoAddress).replace(/\./g, '_')} BGP      master   up     09:15:19    ${state}`,
      ),
    '',
  ].join('\n');
}

export function expectedInput(
  encapsulation: Encapsulation,
  nodes: SimNode[],
  opts: { routesAllNative?: boolean } = {},
): VerifyInput {
  const modes = poolModes(encapsulation);
  const pools: IPPoolObject[] = [
    {
      metadata: { name: 'default-ipv4-ippool' },
      spec: { cidr: '192.168.0.0/16', ...modes, blockSize: 26, natOutgoing: true },
    },
  ];
  const blockAffinities: BlockAffinityObject[] = nodes.flatMap((n) =>
    n.block ? [{ spec: { cidr: n.block, node: n.name, state: 'confirmed', deleted: 'false' } }] : [],
  );
  return {
    pools,
    blockAffinities,
    pods: [
      { namespace: 'kube-system', name: 'coredns-1', podIP: '192.168.20.5', nodeName: 'cc-worker' },
      { namespace: 'kube-system', name: 'kube-proxy-x', podIP: '172.18.0.3', hostNetwork: true },
    ],
    nodes: nodes.map((n) => ({
      name: n.name,
      internalIP: n.internalIP,
      calicoAddress: n.calicoAddress,
      dump: expectedDump(encapsulation, nodes, n, opts),
      bird:
        defaultBgp(encapsulation) === 'Enabled'
          ? { kind: 'protocols' as const, output: birdProtocols(n, nodes) }
          : {
              kind: 'unreachable' as const,
              detail:
                'Unable to connect to server control socket (/var/run/calico/bird.ctl): No such file or directory',
            },
    })),
  };
}
