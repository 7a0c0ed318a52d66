/**
 * Connectivity on the live cell: the probe workloads (harness/probe/workloads.ts) on every node, an external
 * target on the kind network, then a control round (every pod↔pod path on TCP/UDP 80 and 81 must connect
 * to its intended target) and the checks of harness/probe/checks.ts, each recorded with its probes and
 * grids for the report.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerNodeShell } from '../harness/cluster/node-shell.js';
import { ClientNodeKube } from '../harness/kube/client.js';
import {
  type CheckOutcome,
  CONNECTIVITY_CHECKS,
  mtuAcrossNodes,
  type ProbeTopology,
  podToPodCrossNode,
  type TopologyPod,
  tunnelMtuFor,
} from '../harness/probe/checks.js';
import { type ExternalTargetHandle, startExternalTarget } from '../harness/probe/external-target.js';
import { KubePodExecutor } from '../harness/probe/kube-executor.js';
import { type ProbeRequest, Prober } from '../harness/probe/prober.js';
import {
  buildProbeWorkloads,
  HOST_PROBE_PORT,
  PROBE_PORTS,
  serviceDnsName,
  workloadNames,
} from '../harness/probe/workloads.js';
import { recordSuiteData, suiteContext } from './context.js';

const ctx = suiteContext();
const kube = ClientNodeKube.fromFile(ctx.kubeconfigPath);
const namespace = `${ctx.namespacePrefix}-probes`;
const KIND_NETWORK = process.env.KIND_EXPERIMENTAL_DOCKER_NETWORK ?? 'kind';
const PROBE_TIMEOUT_MS = 2000;

type PodObj = { metadata: { name: string }; spec?: { nodeName?: string }; status?: { podIP?: string } };
type SvcObj = { metadata: { name: string }; spec?: { clusterIP?: string } };

let topo: ProbeTopology;
let prober: Prober;
let external: ExternalTargetHandle | undefined;
let controlFailure: string | undefined;
/** why the pod MTU could not be read: then the pod-MTU probe did not run, and the MTU check says so */
let podMtuProblem: string | undefined;

/**
 * The checks that may come back skipped on this cell, each with the reason; every other check must pass.
 * The external target, a Service and client pods always exist here (beforeAll fails otherwise), so only the
 * node-to-node checks may have nothing to probe, and only in a one-node cell.
 */
const MAY_SKIP: ReadonlyMap<string, string> = new Map(
  ctx.nodes.length < 2
    ? [
        [podToPodCrossNode.name, 'a one-node cell has no second node to cross to'],
        [mtuAcrossNodes.name, 'the MTU is measured between nodes and a one-node cell has only one'],
      ]
    : [],
);

function record(outcome: CheckOutcome): void {
  recordSuiteData(ctx, 'checks', `connectivity-${outcome.result.name}`, outcome.result);
  if (outcome.probes.length > 0)
    recordSuiteData(ctx, 'probes', `connectivity-${outcome.result.name}`, outcome.probes);
  if (outcome.grids.length > 0)
    recordSuiteData(ctx, 'grids', `connectivity-${outcome.result.name}`, outcome.grids);
}

beforeAll(async () => {
  const nodes = ctx.nodes.map((n) => n.name);
  const objects = buildProbeWorkloads({ namespace, nodes });
  await kube.applyServerSide(objects as KubernetesObject[]);
  await kube.waitPodsReady(namespace, 'calico-conformance/probe-role', {
    timeoutMs: 5 * 60_000,
    minPods: nodes.length * 3,
  });
  const pods = await kube.list<PodObj & { apiVersion: string; kind: string }>('v1', 'Pod', { namespace });
  const services = await kube.list<SvcObj & { apiVersion: string; kind: string }>('v1', 'Service', {
    namespace,
  });
  const podByName = new Map(pods.map((p) => [p.metadata.name, p]));
  const topoPod = (name: string, node: string, answersAs = name): TopologyPod => {
    const ip = podByName.get(name)?.status?.podIP;
    if (!ip) throw new Error(`pod ${namespace}/${name} has no IP after it became ready`);
    return { pod: { namespace, name }, node, ip, answersAs };
  };
  const names = ctx.nodes.map((n, i) => ({ node: n, ...workloadNames(i) }));
  // the nodes' MTU on the kind network, minus what the encapsulation takes (IPIP 20, VXLAN 50)
  const first = ctx.nodes[0];
  if (!first) throw new Error('the cell has no nodes');
  const mtuOut = await new DockerNodeShell(first.container, first.name).exec([
    'cat',
    '/sys/class/net/eth0/mtu',
  ]);
  const nodeMtu = Number(mtuOut.stdout.trim());
  if (!Number.isInteger(nodeMtu) || nodeMtu < 576) {
    throw new Error(
      `reading eth0's MTU in ${first.container}: ${JSON.stringify(mtuOut.stdout)} ${mtuOut.stderr}`,
    );
  }
  external = await startExternalTarget({
    network: KIND_NETWORK,
    name: `${ctx.clusterName}-external`.slice(0, 60),
    labels: { 'calico-conformance/cluster': ctx.clusterName },
    // without natOutgoing the target sees pod IPs and must route replies back through a node
    routes: ctx.cell.natOutgoing ? [] : [{ cidr: ctx.cell.ipPoolCIDR, via: first.internalIP }],
  });
  topo = {
    nodes: names.map((n) => ({
      name: n.node.name,
      ip: n.node.internalIP,
      // a hostNetwork pod answers with the node's hostname, which kind sets to the node name
      hostPod: topoPod(n.host, n.node.name, n.node.name),
    })),
    servers: names.map((n) => topoPod(n.server, n.node.name)),
    clients: names.map((n) => topoPod(n.client, n.node.name)),
    services: names.map((n) => {
      const svc = services.find((s) => s.metadata.name === n.service);
      if (!svc?.spec?.clusterIP) throw new Error(`service ${namespace}/${n.service} has no clusterIP`);
      return {
        name: n.service,
        clusterIP: svc.spec.clusterIP,
        dnsName: serviceDnsName(n.service, namespace),
        backend: n.server,
      };
    }),
    external: { name: external.name, ip: external.ip, port: external.port },
    ports: PROBE_PORTS.flatMap((port) => [
      { port, protocol: 'TCP' as const },
      { port, protocol: 'UDP' as const },
    ]),
    hostPort: HOST_PROBE_PORT,
    natOutgoing: ctx.cell.natOutgoing,
    tunnelMtu: tunnelMtuFor(nodeMtu, ctx.cell.encapsulation),
    missingName: serviceDnsName('no-such-service', namespace),
  };
  const executor = new KubePodExecutor(kube);
  prober = new Prober(executor, { probeTimeoutMs: PROBE_TIMEOUT_MS });
  // the MTU Calico gave the pods: probed at that size too, since a pod MTU above the tunnel's is the blackhole
  const client = topo.clients[0];
  if (client) {
    try {
      const r = await executor.exec(client.pod, ['cat', '/sys/class/net/eth0/mtu'], { timeoutMs: 30_000 });
      const podMtu = Number(r.stdout.trim());
      if (r.exitCode === 0 && Number.isInteger(podMtu) && podMtu >= 576) topo.podMtu = podMtu;
      else {
        podMtuProblem = `reading eth0's MTU in ${namespace}/${client.pod.name}: exit ${r.exitCode}, stdout ${JSON.stringify(
          r.stdout.trim(),
        )}, stderr ${JSON.stringify(r.stderr.trim())}`;
      }
    } catch (e) {
      podMtuProblem = `reading eth0's MTU in ${namespace}/${client.pod.name}: ${e instanceof Error ? e.message : String(e)}`;
    }
  } else podMtuProblem = 'no client pod to read the pod MTU in';
  // control round: every pod↔pod path must connect before anything is judged
  const control: ProbeRequest[] = topo.clients.flatMap((c) =>
    topo.servers.flatMap((s) =>
      topo.ports.map((p) => ({
        source: c.pod,
        from: `${namespace}/${c.pod.name}`,
        to: `${namespace}/${s.pod.name}`,
        host: s.ip,
        port: p.port,
        protocol: p.protocol,
        expectName: s.answersAs,
        check: 'control',
      })),
    ),
  );
  const started = performance.now();
  try {
    const records = await prober.controlRound(control);
    recordSuiteData(ctx, 'probes', 'connectivity-control', records);
  } catch (e) {
    controlFailure = e instanceof Error ? e.message : String(e);
  }
  recordSuiteData(ctx, 'checks', 'connectivity-control', {
    name: 'control-round',
    outcome: controlFailure ? 'failed' : 'passed',
    durationMs: performance.now() - started,
    ...(controlFailure ? { message: 'not every pod↔pod path connected', details: controlFailure } : {}),
  });
}, 10 * 60_000);

afterAll(async () => {
  await external?.stop();
  const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } };
  await kube.delete([ns]);
  await kube.waitGone([ns], { timeoutMs: 3 * 60_000 });
}, 5 * 60_000);

describe(`connectivity (${ctx.cell.id})`, () => {
  it('control round: every pod reaches every server pod on TCP/UDP 80 and 81', () => {
    expect(controlFailure, controlFailure).toBeUndefined();
  });

  for (const check of CONNECTIVITY_CHECKS) {
    it(check.name, async () => {
      let outcome = await check(prober, topo);
      if (check === mtuAcrossNodes && podMtuProblem) {
        // the pod-MTU probe did not run: the check is not complete, so it cannot pass
        const r = outcome.result;
        outcome = {
          ...outcome,
          result: {
            ...r,
            outcome: r.outcome === 'failed' ? 'failed' : 'error',
            message: `pod MTU not checked (${podMtuProblem})${r.message ? `; ${r.message}` : ''}`,
          },
        };
      }
      const mayskip = MAY_SKIP.get(check.name);
      if (outcome.result.outcome === 'skipped' && mayskip) {
        outcome = {
          ...outcome,
          result: { ...outcome.result, details: `allowed to be skipped here: ${mayskip}` },
        };
      }
      record(outcome);
      if (outcome.result.outcome === 'skipped' && mayskip) return;
      expect(outcome.result.outcome, `${outcome.result.message ?? ''}\n${outcome.result.details ?? ''}`).toBe(
        'passed',
      );
    });
  }
});
