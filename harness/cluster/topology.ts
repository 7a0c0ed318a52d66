/**
 * The split-subnet topology. On kind every node shares one subnet, so Calico's CrossSubnet modes never
 * encapsulate and look exactly like None (Felix `noEncapRoute()` in felix/dataplane/linux/route_mgr.go and
 * BIRD's `krt_tunnel=""` in confd's bird_ipam.cfg.template when the peer is in the node's subnet;
 * docs/calico-facts.md, "CrossSubnet on one subnet"). Here each node gets a secondary address on eth0 in one
 * of two ranges (SPLIT_SUBNET_RANGES, assigned alternately: control plane A, workers B, A, …) plus an on-link
 * route to the other range, so the ranges reach each other directly over the shared docker bridge without a
 * router. Calico's address autodetection by CIDR then picks the secondary address, and CrossSubnet must
 * encapsulate between the ranges and route natively within one.
 *
 * Every command runs INSIDE the node containers through the NodeShell, never on the host.
 */

import { SPLIT_SUBNET_RANGES } from '../config/cell.js';
import { CommandError } from '../exec/process.js';
import type { CheckResult } from '../model/results.js';
import { formatIpv4, mustParseIpv4Cidr } from '../net/cidr.js';
import type { NodeDump } from '../node-state/dump.js';
import { parseIpAddrs, parseIpRoutes } from '../node-state/parse.js';
import type { NodeShell } from './node-shell.js';

export interface SplitSubnetAssignment {
  node: string;
  /** the range this node's Calico address is in */
  range: string;
  /** the secondary address with the range's prefix, e.g. 10.250.1.10/24 */
  address: string;
  /** the other range, reached on-link */
  otherRange: string;
  iface: string;
}

/** First host number used in each range (leaves .1–.9 free, e.g. for a test's own peers). */
const FIRST_HOST = 10;

/** Nodes in order (control plane first, then workers by name) alternate between the two ranges. */
export function planSplitSubnet(
  nodeNames: readonly string[],
  ranges: readonly [string, string] = SPLIT_SUBNET_RANGES,
  iface = 'eth0',
): SplitSubnetAssignment[] {
  const parsed = ranges.map((r) => mustParseIpv4Cidr(r));
  return nodeNames.map((node, i) => {
    const r = parsed[i % 2]!;
    const host = FIRST_HOST + Math.floor(i / 2);
    if (host >= 2 ** (32 - r.prefix) - 1) {
      throw new Error(`split-subnet: range ${r.text} has no room for node ${node} (host ${host})`);
    }
    return {
      node,
      range: r.text,
      address: `${formatIpv4(r.network + host)}/${r.prefix}`,
      otherRange: parsed[(i + 1) % 2]!.text,
      iface,
    };
  });
}

/** The commands that give one node its address and the on-link route to the other range. */
export function splitSubnetCommands(a: SplitSubnetAssignment): string[][] {
  const ip = a.address.split('/')[0]!;
  return [
    ['ip', 'addr', 'add', a.address, 'dev', a.iface],
    // on-link: the other range's nodes are on the same bridge; `src` makes replies come back to this range
    ['ip', 'route', 'add', a.otherRange, 'dev', a.iface, 'scope', 'link', 'src', ip],
  ];
}

/** Calico's address autodetection for the topology: operator `nodeAddressAutodetectionV4` and manifest `IP_AUTODETECTION_METHOD`. */
export function splitSubnetAutodetection(ranges: readonly string[] = SPLIT_SUBNET_RANGES): {
  operator: { cidrs: string[] };
  manifestEnv: { name: 'IP_AUTODETECTION_METHOD'; value: string };
} {
  return {
    operator: { cidrs: [...ranges] },
    manifestEnv: { name: 'IP_AUTODETECTION_METHOD', value: `cidr=${ranges.join(',')}` },
  };
}

/** Applies the plan inside each node (idempotent: an address or route that exists already is fine). */
export async function applySplitSubnet(
  nodes: readonly { name: string; shell: NodeShell }[],
  opts: { ranges?: readonly [string, string]; iface?: string } = {},
): Promise<SplitSubnetAssignment[]> {
  const plan = planSplitSubnet(
    nodes.map((n) => n.name),
    opts.ranges,
    opts.iface,
  );
  for (const [i, a] of plan.entries()) {
    const shell = nodes[i]!.shell;
    for (const argv of splitSubnetCommands(a)) {
      const r = await shell.exec(argv, { timeoutMs: 30_000 });
      if (r.exitCode !== 0 && !/File exists|already assigned/i.test(r.stderr)) {
        throw new CommandError(`split-subnet: configuring ${a.node}`, r);
      }
    }
  }
  return plan;
}

/**
 * The pipeline's topology step for split-subnet: orders the nodes (control plane first, then workers by
 * name, the order `listKindNodes` returns and the mode suite re-plans with), applies the plan, and returns
 * evidence lines. Calico must then autodetect its node address by CIDR (splitSubnetAutodetection).
 */
export async function prepareSplitSubnet(
  nodes: readonly { name: string; role: 'control-plane' | 'worker'; shell: NodeShell }[],
  opts: { ranges?: readonly [string, string]; iface?: string } = {},
): Promise<{ plan: SplitSubnetAssignment[]; evidence: string[] }> {
  const ordered = orderNodesForSplitSubnet(nodes);
  const plan = await applySplitSubnet(ordered, opts);
  const evidence = plan.map((a) => `${a.node}: ${a.address} on ${a.iface}, on-link route to ${a.otherRange}`);
  return { plan, evidence };
}

export function orderNodesForSplitSubnet<T extends { name: string; role: 'control-plane' | 'worker' }>(
  nodes: readonly T[],
): T[] {
  return [...nodes].sort((a, b) =>
    a.role === b.role
      ? a.name.localeCompare(b.name, 'en', { numeric: true })
      : a.role === 'control-plane'
        ? -1
        : 1,
  );
}

/** Checks from each node's dump that its address and the on-link route to the other range are in place. */
export function verifySplitSubnet(
  plan: readonly SplitSubnetAssignment[],
  dumps: readonly NodeDump[],
): CheckResult[] {
  return plan.map((a) => {
    const name = `split-subnet address and on-link route on ${a.node}`;
    const dump = dumps.find((d) => d.node === a.node);
    const addrText = dump?.files['ip-addr.json'];
    const routeText = dump?.files['ip-route.json'];
    if (!addrText || !routeText) {
      return {
        name,
        outcome: 'skipped' as const,
        durationMs: 0,
        message: 'no ip-addr.json/ip-route.json for the node',
      };
    }
    const [ip, prefix] = a.address.split('/');
    const problems: string[] = [];
    const holder = parseIpAddrs(addrText).find((l) =>
      l.addr_info.some((i) => i.family === 'inet' && i.local === ip && String(i.prefixlen) === prefix),
    );
    if (!holder) problems.push(`${a.address} is not on any interface`);
    else if (holder.ifname !== a.iface) problems.push(`${a.address} is on ${holder.ifname}, not ${a.iface}`);
    const route = parseIpRoutes(routeText).find(
      (r) => r.dst === a.otherRange && (r.table ?? 'main') === 'main',
    );
    if (!route) problems.push(`no route to ${a.otherRange}`);
    else if (route.dev !== a.iface || route.gateway || route.scope !== 'link') {
      problems.push(`route to ${a.otherRange} is not on-link via ${a.iface}: ${JSON.stringify(route)}`);
    }
    return {
      name,
      outcome: problems.length ? ('failed' as const) : ('passed' as const),
      durationMs: 0,
      ...(problems.length ? { message: problems[0]!, details: problems.join('\n') } : {}),
    };
  });
}
