/**
 * Post-install verification that the requested encapsulation is what the dataplane really does (pure).
 * Inputs are API objects (IPPools, BlockAffinities, pods) and per-node dumps (the audit's node dump: the
 * same `ip -j` files) plus, for BGP, BIRD's `show protocols` output. Expectations per mode follow
 * Calico's own kind tests (projectcalico/calico node/tests/k8st encap and route tests; docs/calico-facts.md,
 * "CrossSubnet on one subnet"):
 *
 * | mode              | remote-block route                                | tunnel device        | BGP          |
 * | IPIP              | via <node> dev tunl0 onlink                        | tunl0 UP, /32 in pool| Established  |
 * | VXLAN             | via <vtep> dev vxlan.calico onlink                 | vxlan.calico + addr  | no BIRD      |
 * | *CrossSubnet      | same subnet: via <node> dev eth0; else the tunnel  | the mode's device    | per backend  |
 * | None              | via <node> dev eth0 proto bird                     | none                 | Established  |
 * and on every node its own blocks as blackhole routes. In None mode the remote-block routes must be
 * BIRD's (protocol `bird`, 12): learnt over BGP is what None means, and on every catalogued version BIRD
 * programs them (the lab's None capture, test/fixtures/real/v3.31.0-manifest-none; Felix's would be
 * protocol 80). Other modes' route owners differ by version (master's Felix programs IPIP routes), so only
 * None checks the owner.
 */

import type { ClusterNode } from '../cluster/provider.js';
import { type Cell, isCrossSubnet, isIpip, isVxlan, poolModes } from '../config/cell.js';
import type { CheckResult } from '../model/results.js';
import {
  cidrContains,
  cidrContainsIp,
  type Ipv4Cidr,
  mustParseIpv4Cidr,
  parseIpv4,
  parseIpv4Cidr,
} from '../net/cidr.js';
import type { DumpFile, NodeDump } from '../node-state/dump.js';
import {
  formatRoute,
  type IpAddrLink,
  type IpLink,
  parseIpAddrs,
  parseIpLinks,
  parseIpRoutes,
} from '../node-state/parse.js';

/** crd.projectcalico.org/v1 IPPool (the fields verified) */

/** birdcl's answer when no BIRD listens on its control socket (the vxlan backend runs no BIRD). */
const BIRD_SOCKET_ABSENT =
  /Unable to connect to server control socket|bird\.ctl.*(No such file|Connection refused)/i;

/** how `ip -j route` names BIRD's routes: by name where /etc/iproute2/rt_protos knows it, else the number */
const BIRD_PROTOCOL: ReadonlySet<string> = new Set(['bird', '12']);

export interface IPPoolObject {
  metadata: { name: string };
  spec: {
    cidr: string;
    ipipMode?: string;
    vxlanMode?: string;
    blockSize?: number;
    natOutgoing?: boolean;
    disabled?: boolean;
  };
}

/** crd.projectcalico.org/v1 BlockAffinity */
export interface BlockAffinityObject {
  metadata?: { name?: string };
  spec: { cidr: string; node: string; state?: string; deleted?: string | boolean };
}

export interface PodInfo {
  namespace: string;
  name: string;
  podIP?: string;
  hostNetwork?: boolean;
  nodeName?: string;
  /** Pending, Running, Succeeded, Failed: a finished pod keeps its podIP in the API after the CNI released it */
  phase?: string;
}

/**
 * What BIRD says on a node: the output of `birdcl -s /var/run/calico/bird.ctl show protocols` run in
 * calico-node, or why it could not be reached (no BIRD: the `vxlan` backend runs none, so birdcl cannot
 * connect to the control socket).
 */
export type BirdObservation = { kind: 'protocols'; output: string } | { kind: 'unreachable'; detail: string };

/** A node as verification sees it: the cluster's node (name, InternalIP) and what was read on it. */
export interface VerifyNode extends Pick<ClusterNode, 'name' | 'internalIP'> {
  /** Calico's node address with its prefix (`projectcalico.org/IPv4Address`, e.g. 10.250.1.10/24); decides "same subnet" */
  calicoAddress?: string;
  dump: NodeDump;
  bird?: BirdObservation;
  /**
   * the tunnel addresses calico-node allocated on this node, from its annotations
   * (`projectcalico.org/IPv4IPIPTunnelAddr`, `projectcalico.org/IPv4VXLANTunnelAddr`)
   */
  tunnelAddresses?: string[];
}

export interface VerifyInput {
  pools: IPPoolObject[];
  blockAffinities: BlockAffinityObject[];
  pods: PodInfo[];
  nodes: VerifyNode[];
}

function check(name: string, problems: string[], details: string[] = [], skipped?: string): CheckResult {
  if (skipped) return { name, outcome: 'skipped', durationMs: 0, message: skipped };
  return {
    name,
    outcome: problems.length === 0 ? 'passed' : 'failed',
    durationMs: 0,
    ...(problems.length ? { message: problems[0] } : {}),
    ...(problems.length || details.length ? { details: [...problems, ...details].join('\n') } : {}),
  };
}

function fileOf<T>(dump: NodeDump, file: DumpFile, parse: (t: string) => T): T | undefined {
  const t = dump.files[file];
  return t === undefined ? undefined : parse(t);
}

interface NodeAddress {
  ip: number;
  ipText: string;
  prefix: number;
  iface?: string;
}

/** The node's Calico address and the interface that holds it (from the annotation, else its InternalIP in ip-addr.json). */
function nodeAddress(n: VerifyNode, addrs: IpAddrLink[] | undefined): NodeAddress | undefined {
  const text = n.calicoAddress ?? n.internalIP;
  const [ipText, prefixText] = text.split('/');
  const ip = parseIpv4(ipText ?? '');
  if (ip === undefined) return undefined;
  const holder = (addrs ?? []).find((a) =>
    a.addr_info.some((i) => i.family === 'inet' && i.local === ipText),
  );
  const info = holder?.addr_info.find((i) => i.local === ipText);
  const prefix = prefixText !== undefined ? Number(prefixText) : (info?.prefixlen ?? 32);
  return { ip, ipText: ipText!, prefix, ...(holder ? { iface: holder.ifname } : {}) };
}

function sameSubnet(a: NodeAddress, b: NodeAddress): boolean {
  const mask = a.prefix === 0 ? 0 : (0xffffffff << (32 - a.prefix)) >>> 0;
  return (a.ip & mask) >>> 0 === (b.ip & mask) >>> 0;
}

function inet(addrs: IpAddrLink[] | undefined, ifname: string) {
  return (addrs ?? [])
    .filter((a) => a.ifname === ifname)
    .flatMap((a) => a.addr_info.filter((i) => i.family === 'inet'));
}

function describeLink(l: IpLink | undefined, addrs: IpAddrLink[] | undefined): string {
  if (!l) return 'absent';
  const a = inet(addrs, l.ifname).map((i) => `${i.local}/${i.prefixlen}`);
  return `flags <${l.flags.join(',')}> state ${l.operstate ?? '?'}${a.length ? ` inet ${a.join(', ')}` : ' no IPv4 address'}`;
}

export interface BirdProtocol {
  name: string;
  proto: string;
  state: string;
  info: string;
  /** the peer address encoded in Calico's protocol name (Mesh_172_18_0_3, Node_…) */
  peer?: string;
}

/**
 * `birdcl show protocols`: a header line, then `name proto table state since info…` per protocol.
 * Calico names full-mesh peers `Mesh_<a>_<b>_<c>_<d>` and explicit peers `Node_<…>` (confd bird.cfg template).
 */
export function parseBirdProtocols(output: string): BirdProtocol[] {
  const out: BirdProtocol[] = [];
  for (const line of output.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 4 || cols[0] === 'name' || /^BIRD/.test(cols[0]!) || /^\d{4}-/.test(cols[0]!)) continue;
    const [name, proto, , state, , ...info] = cols;
    const m = /^(?:Mesh|Node|Global)_(\d+)_(\d+)_(\d+)_(\d+)$/.exec(name!);
    out.push({
      name: name!,
      proto: proto!,
      state: state!,
      info: info.join(' '),
      ...(m ? { peer: `${m[1]}.${m[2]}.${m[3]}.${m[4]}` } : {}),
    });
  }
  return out;
}

/** Pods that hold a pool address now: pod network, an IPv4 podIP, not finished (the CNI released it). */
function holdsPoolAddress(p: PodInfo, pool: Ipv4Cidr): boolean {
  if (p.hostNetwork || !p.podIP || p.podIP.includes(':')) return false;
  if (p.phase === 'Succeeded' || p.phase === 'Failed') return false;
  const ip = parseIpv4(p.podIP);
  return ip !== undefined && cidrContainsIp(pool, ip);
}

/**
 * Why Calico IPAM must have claimed a block on this node (it allocated an address from the pool there), or
 * undefined: the first pod-network pod on it, else its tunnel address (on tunl0 / vxlan.calico in the node
 * dump, or in calico-node's node annotations).
 */
function ipamAllocationOn(n: VerifyNode, pods: readonly PodInfo[], pool: Ipv4Cidr): string | undefined {
  const pod = pods.find((p) => p.nodeName === n.name && holdsPoolAddress(p, pool));
  if (pod) return `hosts pod-network pod ${pod.namespace}/${pod.name} (${pod.podIP})`;
  const inPool = (a: string) => {
    const ip = parseIpv4(a.split('/')[0] ?? '');
    return ip !== undefined && cidrContainsIp(pool, ip);
  };
  const addrs = fileOf(n.dump, 'ip-addr.json', parseIpAddrs);
  for (const dev of ['tunl0', 'vxlan.calico']) {
    const a = inet(addrs, dev).find((i) => inPool(i.local));
    if (a) return `has the tunnel address ${a.local} (${dev})`;
  }
  const annotated = (n.tunnelAddresses ?? []).find(inPool);
  if (annotated) return `has the tunnel address ${annotated} (node annotation)`;
  return undefined;
}

export function verifyMode(cell: Cell, input: VerifyInput): CheckResult[] {
  const results: CheckResult[] = [];
  const poolCidr = mustParseIpv4Cidr(cell.ipPoolCIDR);
  const want = poolModes(cell.encapsulation);

  // 1. the IPPool equals the cell
  const pool = input.pools.find((p) => {
    const c = parseIpv4Cidr(p.spec.cidr, { allowHostBits: true });
    return c.ok && c.cidr.text === poolCidr.text;
  });
  if (!pool) {
    results.push(
      check('IPPool matches the cell', [
        `no IPPool with cidr ${poolCidr.text}; pools: ${input.pools.map((p) => `${p.metadata.name} ${p.spec.cidr}`).join(', ') || 'none'}`,
      ]),
    );
  } else {
    const got = {
      ipipMode: pool.spec.ipipMode ?? 'Never',
      vxlanMode: pool.spec.vxlanMode ?? 'Never',
      blockSize: pool.spec.blockSize ?? 26,
      natOutgoing: pool.spec.natOutgoing ?? false,
    };
    const expected = { ...want, blockSize: cell.blockSize, natOutgoing: cell.natOutgoing };
    const diffs = (Object.keys(expected) as (keyof typeof expected)[])
      .filter((k) => got[k] !== expected[k])
      .map(
        (k) =>
          `IPPool ${pool.metadata.name} ${k} is ${String(got[k])}, the cell wants ${String(expected[k])}`,
      );
    results.push(
      check('IPPool matches the cell', diffs, [
        `IPPool ${pool.metadata.name}: cidr ${pool.spec.cidr} ipipMode ${got.ipipMode} vxlanMode ${got.vxlanMode} blockSize ${got.blockSize} natOutgoing ${got.natOutgoing}`,
      ]),
    );
  }

  // 2. block affinities: /blockSize blocks inside the pool, one or more on every node where Calico IPAM has
  // allocated an address. IPAM claims a block for a node only when it assigns an address there: a pod-network
  // pod's (the CNI plugin) or the node's tunnel address (calico-node, IPIP and VXLAN modes; none in None mode).
  // A node with neither has no block yet, rightly: in None mode right after install the few pod-network pods
  // (CoreDNS, local-path-provisioner) can all sit on one node.
  const blocks = input.blockAffinities.filter(
    (b) =>
      b.spec.deleted !== true && b.spec.deleted !== 'true' && (b.spec.state ?? 'confirmed') === 'confirmed',
  );
  const blockProblems: string[] = [];
  const blockDetails: string[] = [];
  const blocksByNode = new Map<string, string[]>();
  for (const b of blocks) {
    const c = parseIpv4Cidr(b.spec.cidr, { allowHostBits: true });
    if (!c.ok) continue; // IPv6 blocks of a dual-stack pool are not this cell's
    if (c.cidr.prefix !== cell.blockSize)
      blockProblems.push(`block ${b.spec.cidr} of ${b.spec.node} is not a /${cell.blockSize}`);
    if (!cidrContains(poolCidr, c.cidr))
      blockProblems.push(`block ${b.spec.cidr} of ${b.spec.node} is outside the pool ${poolCidr.text}`);
    blocksByNode.set(b.spec.node, [...(blocksByNode.get(b.spec.node) ?? []), c.cidr.text]);
  }
  const known = new Set(input.nodes.map((n) => n.name));
  for (const [node, bs] of blocksByNode)
    if (!known.has(node)) blockDetails.push(`${node} (not a node of this cluster): ${bs.join(', ')}`);
  for (const n of input.nodes) {
    const bs = blocksByNode.get(n.name);
    if (bs) {
      blockDetails.push(`${n.name}: ${bs.join(', ')}`);
      continue;
    }
    const reason = ipamAllocationOn(n, input.pods, poolCidr);
    if (reason) blockProblems.push(`node ${n.name} has no block affinity although it ${reason}`);
    else
      blockDetails.push(`${n.name}: no block, none needed (no pod-network pod and no tunnel address on it)`);
  }
  results.push(
    check(`block affinities are /${cell.blockSize} blocks in ${poolCidr.text}`, blockProblems, blockDetails),
  );

  // 3. every pod-network pod has an address in the pool
  const podProblems = input.pods
    .filter((p) => !p.hostNetwork && p.podIP && !p.podIP.includes(':'))
    .filter((p) => {
      const ip = parseIpv4(p.podIP!);
      return ip === undefined || !cidrContainsIp(poolCidr, ip);
    })
    .map((p) => `pod ${p.namespace}/${p.name} has ${p.podIP}, outside the pool ${poolCidr.text}`);
  results.push(check(`pod IPs are in the pool ${poolCidr.text}`, podProblems));

  // per node dataplane
  const parsed = input.nodes.map((n) => {
    const addrs = fileOf(n.dump, 'ip-addr.json', parseIpAddrs);
    return {
      n,
      links: fileOf(n.dump, 'ip-link.json', parseIpLinks),
      addrs,
      routes: fileOf(n.dump, 'ip-route.json', (t) => parseIpRoutes(t).filter((r) => !r.dst.includes(':'))),
      address: nodeAddress(n, addrs),
      vtep: inet(addrs, 'vxlan.calico')[0]?.local,
    };
  });

  for (const p of parsed) {
    const { n, links, addrs } = p;
    if (!links || !addrs) {
      results.push(
        check(`tunnel devices on ${n.name}`, [], [], 'ip-link.json or ip-addr.json missing from the dump'),
      );
      continue;
    }
    // tunl0: configured exactly in IPIP modes. Its mere existence says nothing: the kernel's fallback
    // tunl0 (DOWN, no address) is in every netns once ipip is loaded (docs/calico-facts.md, "tunl0").
    const tunl0 = links.find((l) => l.ifname === 'tunl0');
    const tunl0Inet = inet(addrs, 'tunl0');
    const tunl0Problems: string[] = [];
    if (isIpip(cell.encapsulation)) {
      if (!tunl0) tunl0Problems.push('tunl0 is absent');
      else {
        if (!tunl0.flags.includes('UP'))
          tunl0Problems.push('tunl0 is not UP (Felix assigns the address before it sets the link up)');
        const inPool = tunl0Inet.filter(
          (i) => i.prefixlen === 32 && cidrContainsIp(poolCidr, parseIpv4(i.local) ?? -1),
        );
        if (inPool.length === 0)
          tunl0Problems.push(`tunl0 has no /32 address from the pool ${poolCidr.text}`);
      }
    } else if (tunl0 && (tunl0.flags.includes('UP') || tunl0Inet.length > 0)) {
      tunl0Problems.push(`tunl0 is configured in ${cell.encapsulation} mode`);
    }
    results.push(
      check(
        `tunl0 ${isIpip(cell.encapsulation) ? 'configured' : 'not configured'} on ${n.name}`,
        tunl0Problems,
        [`tunl0: ${describeLink(tunl0, addrs)}`],
      ),
    );

    const vx = links.find((l) => l.ifname === 'vxlan.calico');
    const vxProblems: string[] = [];
    if (isVxlan(cell.encapsulation)) {
      if (!vx) vxProblems.push('vxlan.calico is absent');
      else {
        if (!vx.flags.includes('UP')) vxProblems.push('vxlan.calico is not UP');
        if (inet(addrs, 'vxlan.calico').length === 0) vxProblems.push('vxlan.calico has no IPv4 address');
      }
    } else if (vx) vxProblems.push(`vxlan.calico exists in ${cell.encapsulation} mode`);
    results.push(
      check(
        `vxlan.calico ${isVxlan(cell.encapsulation) ? 'up with an address' : 'absent'} on ${n.name}`,
        vxProblems,
        [`vxlan.calico: ${describeLink(vx, addrs)}`],
      ),
    );
  }

  // routes to every remote block, and the own blocks as blackholes
  for (const p of parsed) {
    const { n, routes } = p;
    if (!routes || !p.address) {
      results.push(
        check(
          `routes on ${n.name}`,
          [],
          [],
          routes ? `no address for ${n.name}` : 'ip-route.json missing from the dump',
        ),
      );
      continue;
    }
    const problems: string[] = [];
    const seen: string[] = [];
    const main = routes.filter((r) => (r.table ?? 'main') === 'main');
    const byBird = cell.encapsulation === 'None';
    for (const own of blocksByNode.get(n.name) ?? []) {
      const r = main.find((x) => x.dst === own);
      if (r?.type !== 'blackhole')
        problems.push(`own block ${own}: expected a blackhole route, found ${r ? formatRoute(r) : 'none'}`);
    }
    for (const q of parsed) {
      if (q.n.name === n.name || !q.address) continue;
      const encap =
        cell.encapsulation === 'None'
          ? false
          : isCrossSubnet(cell.encapsulation)
            ? !sameSubnet(p.address, q.address)
            : true;
      for (const block of blocksByNode.get(q.n.name) ?? []) {
        const r = main.find((x) => x.dst === block);
        const expect = encap
          ? isIpip(cell.encapsulation)
            ? `via ${q.address.ipText} dev tunl0 onlink`
            : `via ${q.vtep ?? "<the peer's vxlan.calico address>"} dev vxlan.calico onlink`
          : `via ${q.address.ipText} dev ${p.address.iface ?? 'eth0'}${byBird ? ' proto bird' : ''}`;
        seen.push(`${block} (${q.n.name}): ${r ? formatRoute(r) : 'no route'} — want ${expect}`);
        if (!r) {
          problems.push(`no route to ${block} of ${q.n.name}`);
          continue;
        }
        const ok = encap
          ? isIpip(cell.encapsulation)
            ? r.dev === 'tunl0' && r.flags.includes('onlink') && r.gateway === q.address.ipText
            : // Felix routes a remote block to the peer's VTEP: the address on its vxlan.calico
              r.dev === 'vxlan.calico' &&
              r.flags.includes('onlink') &&
              (q.vtep === undefined || r.gateway === q.vtep)
          : r.dev === (p.address.iface ?? 'eth0') &&
            r.gateway === q.address.ipText &&
            (!byBird || BIRD_PROTOCOL.has(r.protocol ?? ''));
        if (!ok) problems.push(`route to ${block} of ${q.n.name} is "${formatRoute(r)}", want ${expect}`);
      }
    }
    results.push(check(`routes on ${n.name}`, problems, seen));
  }

  // BGP: every other node Established for the bird backend; no BIRD for the vxlan backend
  for (const p of parsed) {
    const { n } = p;
    const name =
      cell.bgp === 'Enabled'
        ? `BGP established with every other node from ${n.name}`
        : `no BIRD on ${n.name}`;
    if (!n.bird) {
      results.push(check(name, [], [], 'no BIRD observation was collected'));
      continue;
    }
    if (cell.bgp === 'Enabled') {
      if (n.bird.kind === 'unreachable') {
        results.push(check(name, [`BIRD is not reachable: ${n.bird.detail}`]));
        continue;
      }
      const protos = parseBirdProtocols(n.bird.output).filter((x) => x.proto === 'BGP');
      const problems: string[] = [];
      for (const q of parsed) {
        if (q.n.name === n.name || !q.address) continue;
        const s = protos.find((x) => x.peer === q.address!.ipText);
        if (!s) problems.push(`no BGP session with ${q.n.name} (${q.address.ipText})`);
        else if (!/Established/.test(s.info))
          problems.push(`BGP session ${s.name} with ${q.n.name} is ${s.state} ${s.info}`);
      }
      results.push(
        check(
          name,
          problems,
          protos.map((x) => `${x.name} ${x.state} ${x.info}`),
        ),
      );
    } else {
      // "no BIRD" is shown only by birdcl's own answer that the control socket is not there; an exec that
      // failed for another reason (no calico-node pod, a timeout, RBAC) says nothing about BIRD
      const problems =
        n.bird.kind === 'protocols'
          ? [`BIRD answers on ${n.name} although the backend is vxlan`]
          : BIRD_SOCKET_ABSENT.test(n.bird.detail)
            ? []
            : [
                `cannot tell whether BIRD runs on ${n.name}: ${n.bird.detail || 'the birdcl exec failed without output'}`,
              ];
      results.push(
        check(name, problems, [n.bird.kind === 'unreachable' ? n.bird.detail : n.bird.output.trim()]),
      );
    }
  }
  return results;
}
