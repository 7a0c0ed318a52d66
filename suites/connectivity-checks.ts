/**
 * The connectivity suite's checks as data: each with the stable name it has in the results and the reports
 * (never a function's name), what it needs from the cell (harness/model/requirements.ts decides, and says
 * why it is skipped when that is missing), and the probe check of harness/probe/checks.ts that runs it.
 * A check whose requirements are met must pass: skipped is then a failure.
 */
import type { Requirement } from '../harness/model/requirements.js';
import {
  type CheckOutcome,
  dnsResolution,
  mtuAcrossNodes,
  nodePodBothWays,
  type ProbeTopology,
  podToExternal,
  podToPodCrossNode,
  podToPodSameNode,
  podToService,
} from '../harness/probe/checks.js';
import type { Prober } from '../harness/probe/prober.js';

export interface ConnectivityCheck {
  /** the test's title and the check's name in the results */
  name: string;
  requires: readonly Requirement[];
  run(prober: Prober, topo: ProbeTopology): Promise<CheckOutcome>;
}

export const CONNECTIVITY_CHECKS: readonly ConnectivityCheck[] = [
  { name: 'pod-pod-same-node', requires: [], run: podToPodSameNode },
  { name: 'pod-pod-cross-node', requires: ['two-nodes'], run: podToPodCrossNode },
  { name: 'pod-service', requires: [], run: podToService },
  { name: 'node-pod-both-ways', requires: [], run: nodePodBothWays },
  { name: 'pod-external-nat', requires: [], run: podToExternal },
  { name: 'dns-resolution', requires: [], run: dnsResolution },
  // the MTU is measured on the path between nodes
  { name: 'mtu-across-nodes', requires: ['two-nodes'], run: (p, t) => mtuAcrossNodes(p, t) },
];

/** The check that also probes at the pod MTU the suite reads in its beforeAll. */
export const MTU_CHECK = 'mtu-across-nodes';
