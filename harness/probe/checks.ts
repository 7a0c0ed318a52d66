/**
 * The connectivity checks: every path a packet can take in a cell (same node, every ordered pair of nodes,
 * Service, host network both ways, egress with the NAT source-IP check, DNS) and the MTU of every pair of
 * nodes. Each check runs through the batched Prober, so it works the same against a kind cell (client-node
 * exec) and the docker-backed test bed, and returns a CheckResult for the results model plus its probe
 * records and grids. A failed check's details are its grids as text (grid.ts: each failed cell with the
 * probe's detail and the command that repeats it) after the problems no grid shows (a wrong source IP, a
 * name that resolved when it must not), each with its command too.
 */

import type { ClusterNode } from '../cluster/provider.js';
import type { ProbeRecord, Protocol, ReachabilityGrid } from '../model/connectivity.js';
import type { CheckResult } from '../model/results.js';
import type { PodRef } from './executor.js';
import { formatGridText, gridPasses, gridsFromRecords } from './grid.js';
import { type ProbeRequest, ProbeRoundError, type Prober } from './prober.js';
import { PING_DF_NOT_FORCED } from './script.js';

export interface TopologyPod {
  pod: PodRef;
  /** the node it runs on */
  node: string;
  ip: string;
  /** what it answers with on /hostname and UDP "hostname" (the pod name; the node's hostname for hostNetwork) */
  answersAs: string;
}

/** A node of the cell as the checks see it: the cluster's node (name, InternalIP) and its hostNetwork pod. */
export interface TopologyNode extends Pick<ClusterNode, 'name' | 'internalIP'> {
  /** the hostNetwork pod on this node, serving TCP+UDP on `hostPort` */
  hostPod: TopologyPod;
}

export interface TopologyService {
  name: string;
  clusterIP: string;
  /** the name a client resolves (e.g. svc-n0.ns.svc.cluster.local) */
  dnsName: string;
  /** answersAs of the one server behind it */
  backend: string;
}

export interface ExternalTarget {
  name: string;
  ip: string;
  /** TCP port serving /hostname and /clientip */
  port: number;
}

/** Everything the checks need to know about the probe workloads of a cell. */
export interface ProbeTopology {
  nodes: TopologyNode[];
  servers: TopologyPod[];
  clients: TopologyPod[];
  services: TopologyService[];
  external?: ExternalTarget;
  ports: { port: number; protocol: Protocol }[];
  hostPort: number;
  natOutgoing: boolean;
  /** the MTU a pod-to-pod path across nodes must carry (node MTU minus the encapsulation overhead) */
  tunnelMtu: number;
  /**
   * the MTU the pods actually got (their eth0). Calico gives pods the tunnel MTU; a pod MTU above what
   * the tunnel carries is the classic blackhole, so the DF ping is sent at this size too when it differs.
   */
  podMtu?: number;
  /** a name that must not resolve (DNS check; e.g. under the cluster domain) */
  missingName: string;
}

export interface CheckOutcome {
  result: CheckResult;
  probes: ProbeRecord[];
  grids: ReachabilityGrid[];
}

export const MTU_TRANSFER_BYTES = 1024 * 1024;
/** IPv4 header (20) + ICMP header (8): an echo of (MTU − 28) payload bytes is exactly one MTU-sized packet */
export const ICMP_OVERHEAD = 28;

/**
 * Encapsulation overhead on the pod MTU (Calico: IPIP −20, VXLAN −50; the veth_mtu comment in calico.yaml).
 */
export function tunnelMtuFor(nodeMtu: number, encapsulation: string): number {
  if (encapsulation.startsWith('IPIP')) return nodeMtu - 20;
  if (encapsulation.startsWith('VXLAN')) return nodeMtu - 50;
  return nodeMtu;
}

const peer = (p: TopologyPod) => `${p.pod.namespace}/${p.pod.name}`;

/** A problem line followed, when the record has one, by the command that repeats that probe. */
function withCommand(text: string, r: ProbeRecord): string {
  return r.command ? `${text}\n    ${r.command}` : text;
}

function portProbes(
  client: TopologyPod,
  target: { key: string; host: string; answersAs: string },
  ports: ProbeTopology['ports'],
  check: string,
): ProbeRequest[] {
  return ports.map(({ port, protocol }) => ({
    source: client.pod,
    from: peer(client),
    to: target.key,
    host: target.host,
    port,
    protocol,
    expectName: target.answersAs,
    check,
  }));
}

/** Runs a check's probes and judges them; an infrastructure failure is an `error` outcome, never a verdict. */
async function judge(
  name: string,
  prober: Prober,
  requests: ProbeRequest[],
  /** problems the grids do not show, as text (each with its command: withCommand) */
  extra: (records: ProbeRecord[]) => string[] = () => [],
): Promise<CheckOutcome> {
  const started = performance.now();
  if (requests.length === 0) {
    return {
      result: { name, outcome: 'skipped', durationMs: 0, message: 'nothing to probe in this topology' },
      probes: [],
      grids: [],
    };
  }
  let records: ProbeRecord[];
  try {
    records = await prober.round(requests);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    return {
      result: {
        name,
        outcome: 'error',
        durationMs: performance.now() - started,
        message: 'probe infrastructure failed (not a connectivity verdict)',
        details: msg,
      },
      probes: e instanceof ProbeRoundError ? e.completed : [],
      grids: [],
    };
  }
  const peers = [...new Set(requests.flatMap((r) => [r.from, r.to]))];
  const grids = gridsFromRecords(records, peers, () => true, name);
  const others = extra(records);
  const problems = [
    ...records
      .filter((r) => r.verdict !== 'connected')
      .map((r) => `${r.from} → ${r.to} ${r.protocol}/${r.port}: ${r.verdict} (${r.detail ?? ''})`),
    ...others,
  ];
  const failed = problems.length > 0 || !grids.every(gridPasses);
  return {
    result: {
      name,
      outcome: failed ? 'failed' : 'passed',
      durationMs: performance.now() - started,
      ...(failed
        ? {
            message: `${problems.length} problem(s): ${problems[0]?.split('\n')[0] ?? ''}`,
            // every probe that did not connect is a failed cell of its grid, listed there with its command
            details: [...others, ...(others.length ? [''] : []), ...grids.map(formatGridText)].join('\n'),
          }
        : { details: `${records.length} probes connected to their intended targets` }),
    },
    probes: records,
    grids,
  };
}

export function podToPodSameNode(prober: Prober, topo: ProbeTopology): Promise<CheckOutcome> {
  const reqs = topo.clients.flatMap((c) =>
    topo.servers
      .filter((s) => s.node === c.node)
      .flatMap((s) =>
        portProbes(c, { key: peer(s), host: s.ip, answersAs: s.answersAs }, topo.ports, 'pod-pod-same-node'),
      ),
  );
  return judge('pod-pod-same-node', prober, reqs);
}

export function podToPodCrossNode(prober: Prober, topo: ProbeTopology): Promise<CheckOutcome> {
  const reqs = topo.clients.flatMap((c) =>
    topo.servers
      .filter((s) => s.node !== c.node)
      .flatMap((s) =>
        portProbes(c, { key: peer(s), host: s.ip, answersAs: s.answersAs }, topo.ports, 'pod-pod-cross-node'),
      ),
  );
  return judge('pod-pod-cross-node', prober, reqs);
}

export function podToService(prober: Prober, topo: ProbeTopology): Promise<CheckOutcome> {
  const reqs = topo.clients.flatMap((c) =>
    topo.services.flatMap((svc) =>
      portProbes(
        c,
        { key: `service/${svc.name}`, host: svc.clusterIP, answersAs: svc.backend },
        topo.ports,
        'pod-service',
      ),
    ),
  );
  return judge('pod-service', prober, reqs);
}

/** hostNetwork pod on every node → every server pod, and every client pod → every node's host port. */
export function nodePodBothWays(prober: Prober, topo: ProbeTopology): Promise<CheckOutcome> {
  const nodeToPod = topo.nodes.flatMap((n) =>
    topo.servers.flatMap((s) =>
      portProbes(n.hostPod, { key: peer(s), host: s.ip, answersAs: s.answersAs }, topo.ports, 'node-pod'),
    ),
  );
  const hostPorts: ProbeTopology['ports'] = [
    { port: topo.hostPort, protocol: 'TCP' },
    { port: topo.hostPort, protocol: 'UDP' },
  ];
  const podToNode = topo.clients.flatMap((c) =>
    topo.nodes.flatMap((n) =>
      portProbes(
        c,
        { key: `node/${n.name}`, host: n.internalIP, answersAs: n.hostPod.answersAs },
        hostPorts,
        'pod-node',
      ),
    ),
  );
  return judge('node-pod-both-ways', prober, [...nodeToPod, ...podToNode]);
}

/**
 * Every client → the external target: it must answer with its name, and the source IP it saw must be the
 * client's node IP with natOutgoing (Calico masquerades pod traffic leaving the pools) or the pod IP
 * without it.
 */
export function podToExternal(prober: Prober, topo: ProbeTopology): Promise<CheckOutcome> {
  const ext = topo.external;
  if (!ext) {
    return Promise.resolve({
      result: { name: 'pod-external-nat', outcome: 'skipped', durationMs: 0, message: 'no external target' },
      probes: [],
      grids: [],
    });
  }
  const reqs: ProbeRequest[] = topo.clients.flatMap((c) => [
    {
      source: c.pod,
      from: peer(c),
      to: `external/${ext.name}`,
      host: ext.ip,
      port: ext.port,
      protocol: 'TCP' as const,
      expectName: ext.name,
      check: 'pod-external',
    },
    {
      source: c.pod,
      from: peer(c),
      to: `external/${ext.name}/clientip`,
      host: ext.ip,
      port: ext.port,
      protocol: 'TCP' as const,
      mode: 'clientip' as const,
      check: 'pod-external-source-ip',
    },
  ]);
  const nodeIp = new Map(topo.nodes.map((n) => [n.name, n.internalIP]));
  return judge('pod-external-nat', prober, reqs, (records) =>
    records
      .filter((r) => r.check === 'pod-external-source-ip' && r.verdict === 'connected')
      .flatMap((r) => {
        const client = topo.clients.find((c) => peer(c) === r.from);
        if (!client) return [];
        const want = topo.natOutgoing ? nodeIp.get(client.node) : client.ip;
        return r.sourceIp === want
          ? []
          : [
              withCommand(
                `${r.from} → external: source IP seen ${r.sourceIp}, expected ${want} (${
                  topo.natOutgoing ? 'natOutgoing on: the node IP' : 'natOutgoing off: the pod IP'
                })`,
                r,
              ),
            ];
      }),
  );
}

/** A Service name must resolve and reach its backend; a missing name must give dns-failure, nothing else. */
export async function dnsResolution(prober: Prober, topo: ProbeTopology): Promise<CheckOutcome> {
  const svc = topo.services[0];
  const reqs: ProbeRequest[] = topo.clients.flatMap((c) => [
    ...(svc
      ? [
          {
            source: c.pod,
            from: peer(c),
            to: `dns/${svc.dnsName}`,
            host: svc.dnsName,
            port: 80,
            protocol: 'TCP' as const,
            expectName: svc.backend,
            check: 'dns-service',
          },
        ]
      : []),
    {
      source: c.pod,
      from: peer(c),
      to: `dns/${topo.missingName}`,
      host: topo.missingName,
      port: 80,
      protocol: 'TCP' as const,
      check: 'dns-missing',
    },
  ]);
  const outcome = await judge('dns-resolution', prober, reqs);
  if (outcome.result.outcome === 'error') return outcome;
  // Nothing probed (no client pods): say so, never turn it into a pass.
  if (outcome.result.outcome === 'skipped') {
    return {
      ...outcome,
      result: { ...outcome.result, message: 'no client pod in the topology: no DNS name was looked up' },
    };
  }
  // The missing name is expected to fail with dns-failure: re-judge those cells.
  const problems = outcome.probes.flatMap((r) => {
    if (r.check === 'dns-missing') {
      return r.verdict === 'dns-failure'
        ? []
        : [withCommand(`${r.from} → ${topo.missingName}: ${r.verdict}, expected dns-failure`, r)];
    }
    return r.verdict === 'connected'
      ? []
      : [withCommand(`${r.from} → ${r.to}: ${r.verdict} (${r.detail ?? ''})`, r)];
  });
  const grids = gridsFromRecords(
    outcome.probes,
    [...new Set(reqs.flatMap((r) => [r.from, r.to]))],
    (_f, t) => t !== `dns/${topo.missingName}`,
    'dns-resolution',
  );
  const missingOk = `the missing name gave dns-failure from ${topo.clients.length} client(s)`;
  return {
    ...outcome,
    grids,
    result: {
      ...outcome.result,
      ...(problems.length > 0
        ? {
            outcome: 'failed' as const,
            message: `${problems.length} problem(s): ${problems[0]?.split('\n')[0]}`,
            details: problems.join('\n'),
          }
        : svc
          ? {
              outcome: 'passed' as const,
              message: undefined,
              details: `service name ${svc.dnsName} resolved from ${topo.clients.length} client(s); ${missingOk}`,
            }
          : {
              // Only the negative half ran: resolving a Service name was not checked, so this is no pass.
              outcome: 'skipped' as const,
              message: 'no Service in the topology: no service name was checked',
              details: missingOk,
            }),
    },
  };
}

/**
 * MTU across every ordered pair of nodes: a ping of (tunnel MTU − 28) payload bytes (and of pod MTU − 28
 * when the pods got another MTU), one full-size packet on the pod path, and a 1 MiB upload (full-size TCP
 * segments). A path that carries less than that (an IPIP/VXLAN overhead not taken off the pod MTU, a
 * smaller underlay) drops or rejects them: the classic encapsulation MTU blackhole.
 *
 * The ping forces DF only where the pod has iputils (`ping -M do`). The agnhost pods have busybox ping,
 * which cannot: DF is then the kernel's default, sent only while no smaller path MTU is known for the
 * destination, so the ping catches a too-small path on the first full-size packet to each destination and
 * not after the pod has learnt it (script.ts). The check's details say which ping ran; the upload is the
 * part that does not depend on DF.
 */
export function mtuAcrossNodes(
  prober: Prober,
  topo: ProbeTopology,
  transferTimeoutMs = 20_000,
): Promise<CheckOutcome> {
  const sizes = [...new Set([topo.tunnelMtu, topo.podMtu ?? topo.tunnelMtu])].map((mtu) => {
    const size = mtu - ICMP_OVERHEAD;
    if (size < 8) throw new Error(`tunnelMtu/podMtu: ${mtu} is too small for an ICMP probe`);
    return size;
  });
  const reqs: ProbeRequest[] = topo.clients.flatMap((c) =>
    // one server per other node: the path, not the pod, is what is measured
    topo.servers
      .filter((s) => s.node !== c.node)
      .filter((s, i, all) => all.findIndex((x) => x.node === s.node) === i)
      .flatMap((s) => [
        ...sizes.map((size) => ({
          source: c.pod,
          from: peer(c),
          to: `${peer(s)}#df-${size}`,
          host: s.ip,
          port: 1,
          protocol: 'TCP' as const,
          mode: 'ping' as const,
          arg: size,
          check: 'mtu-df-ping',
        })),
        {
          source: c.pod,
          from: peer(c),
          to: `${peer(s)}#upload-1MiB`,
          host: s.ip,
          port: topo.ports[0]?.port ?? 80,
          protocol: 'TCP' as const,
          mode: 'xfer' as const,
          arg: MTU_TRANSFER_BYTES,
          timeoutMs: transferTimeoutMs,
          check: 'mtu-transfer',
        },
      ]),
  );
  return judge(`mtu-${topo.tunnelMtu}`, prober, reqs).then((outcome) => {
    const pings = outcome.probes.filter((r) => r.check === 'mtu-df-ping');
    if (pings.length === 0) return outcome;
    const notForced = pings.filter((r) => r.detail?.startsWith('ping-default')).length;
    const what =
      notForced === 0
        ? `ping: DF forced (iputils ping -M do) on all ${pings.length} pings`
        : `ping: ${PING_DF_NOT_FORCED} on ${notForced} of ${pings.length} pings, so those show a too-small path only on the first full-size packet to a destination; the 1 MiB upload does not depend on DF`;
    const r = outcome.result;
    return { ...outcome, result: { ...r, details: r.details ? `${r.details}\n${what}` : what } };
  });
}
