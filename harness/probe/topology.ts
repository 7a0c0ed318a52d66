/**
 * The probe topology of a live cell, assembled from what the API says about the probe workloads
 * (workloads.ts): per node its hostNetwork pod, server pod, client pod and Service. Pure, so the suite's
 * wiring (which container every exec names, who answers as whom) is tested without a cluster.
 */
import type { ClusterNode } from '../cluster/provider.js';
import type { ExternalTarget, ProbeTopology, TopologyPod } from './checks.js';
import {
  HOST_PROBE_PORT,
  PROBE_CONTAINERS,
  PROBE_PORTS,
  serviceDnsName,
  workloadNames,
} from './workloads.js';

export interface TopologyInput {
  namespace: string;
  /** the cell's nodes, in the order the workloads were built for */
  nodes: Pick<ClusterNode, 'name' | 'internalIP'>[];
  /** the pods of the probe namespace as listed */
  pods: { metadata: { name: string }; status?: { podIP?: string } }[];
  /** the Services of the probe namespace as listed */
  services: { metadata: { name: string }; spec?: { clusterIP?: string } }[];
  external?: ExternalTarget;
  natOutgoing: boolean;
  tunnelMtu: number;
}

export function buildProbeTopology(input: TopologyInput): ProbeTopology {
  const { namespace } = input;
  const podByName = new Map(input.pods.map((p) => [p.metadata.name, p]));
  // every exec names its container: the API server refuses one without it on a pod with several
  const topoPod = (name: string, node: string, container: string, answersAs = name): TopologyPod => {
    const ip = podByName.get(name)?.status?.podIP;
    if (!ip) throw new Error(`pod ${namespace}/${name} has no IP after it became ready`);
    return { pod: { namespace, name, container }, node, ip, answersAs };
  };
  const names = input.nodes.map((node, i) => ({ node, ...workloadNames(i) }));
  return {
    nodes: names.map((n) => ({
      name: n.node.name,
      internalIP: n.node.internalIP,
      // a hostNetwork pod answers with the node's hostname, which kind sets to the node name
      hostPod: topoPod(n.host, n.node.name, PROBE_CONTAINERS.host, n.node.name),
    })),
    servers: names.map((n) => topoPod(n.server, n.node.name, PROBE_CONTAINERS.server(PROBE_PORTS[0]))),
    clients: names.map((n) => topoPod(n.client, n.node.name, PROBE_CONTAINERS.client)),
    services: names.map((n) => {
      const svc = input.services.find((s) => s.metadata.name === n.service);
      if (!svc?.spec?.clusterIP) throw new Error(`service ${namespace}/${n.service} has no clusterIP`);
      return {
        name: n.service,
        clusterIP: svc.spec.clusterIP,
        dnsName: serviceDnsName(n.service, namespace),
        backend: n.server,
      };
    }),
    ...(input.external ? { external: input.external } : {}),
    ports: PROBE_PORTS.flatMap((port) => [
      { port, protocol: 'TCP' as const },
      { port, protocol: 'UDP' as const },
    ]),
    hostPort: HOST_PROBE_PORT,
    natOutgoing: input.natOutgoing,
    tunnelMtu: input.tunnelMtu,
    missingName: serviceDnsName('no-such-service', namespace),
  };
}
