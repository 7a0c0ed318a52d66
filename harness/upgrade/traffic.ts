/**
 * The continuous traffic of an upgrade, as data (pure): which pods probe which, which pairs must stay
 * allowed and which a policy must keep denied, and that policy.
 *
 * One client pod on the first node probes the server on its own node (same-node path: veth to veth) and
 * the server on the next node (cross-node path: the encapsulation or BGP route under test), each on TCP and
 * UDP port 80 (allowed) and port 81 (denied by a NetworkPolicy that admits only port 80 to the servers) —
 * a canary set for disruption testing: allowed/denied × same/cross node × TCP/UDP.
 */

import type { Protocol } from '../model/connectivity.js';
import type { ProbeRequest } from '../probe/prober.js';
import { LABEL_ROLE, PROBE_CONTAINERS } from '../probe/workloads.js';
import type { WatchedPair } from './deps.js';

export const TRAFFIC_NAMESPACE = 'cc-upgrade-traffic';
export const ALLOWED_PORT = 80;
export const DENIED_PORT = 81;
export const TRAFFIC_POLICY_NAME = 'upgrade-keep-81-denied';
/** How long the traffic's client and server pods may take to be Ready, and their namespace to be gone. */
export const TRAFFIC_READY_MS = 5 * 60_000;
export const TRAFFIC_GONE_MS = 3 * 60_000;

export interface TrafficPod {
  name: string;
  node: string;
  ip: string;
}

export interface TrafficPlan {
  pairs: WatchedPair[];
  /** one request per pair, same order */
  requests: ProbeRequest[];
}

/** servers and clients by node order (workloadNames(i): server-n<i>, client-n<i>) */
export function planTraffic(namespace: string, clients: TrafficPod[], servers: TrafficPod[]): TrafficPlan {
  const client = clients[0];
  if (!client) throw new Error('traffic: no client pod is running; the probe workloads did not come up');
  const same = servers.find((s) => s.node === client.node);
  const cross = servers.find((s) => s.node !== client.node);
  const targets = [same, cross].filter((s): s is TrafficPod => s !== undefined);
  if (targets.length === 0) throw new Error('traffic: no server pod is running');
  const pairs: WatchedPair[] = [];
  const requests: ProbeRequest[] = [];
  for (const server of targets) {
    for (const [port, expect] of [
      [ALLOWED_PORT, 'allowed'],
      [DENIED_PORT, 'denied'],
    ] as const) {
      for (const protocol of ['TCP', 'UDP'] as Protocol[]) {
        const key = {
          from: `${namespace}/${client.name}`,
          to: `${namespace}/${server.name}`,
          port,
          protocol,
        };
        pairs.push({ key, expect });
        requests.push({
          ...key,
          source: { namespace, name: client.name, container: PROBE_CONTAINERS.client },
          host: server.ip,
          expectName: server.name,
          check: 'upgrade',
        });
      }
    }
  }
  return { pairs, requests };
}

/** Admits only port 80 (TCP and UDP) into the servers, so port 81 must stay denied through the upgrade. */
export function trafficPolicy(namespace: string): Record<string, unknown> {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: TRAFFIC_POLICY_NAME, namespace },
    spec: {
      podSelector: { matchLabels: { [LABEL_ROLE]: 'server' } },
      policyTypes: ['Ingress'],
      ingress: [
        {
          ports: [
            { port: ALLOWED_PORT, protocol: 'TCP' },
            { port: ALLOWED_PORT, protocol: 'UDP' },
          ],
        },
      ],
    },
  };
}
