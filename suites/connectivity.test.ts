/**
 * Connectivity on the live cell: the probe workloads (harness/probe/workloads.ts) on every node, an external
 * target on the kind network, then a control round (every pod↔pod path on TCP/UDP 80 and 81 must connect
 * to its intended target) and the checks of connectivity-checks.ts, each recorded on its test's metadata
 * with its probes and grids for the report. A check whose requirements this cell does not meet (a second
 * node to cross to) is skipped with the reason harness/model/requirements.ts gives; every other must pass.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerNodeShell } from '../harness/cluster/node-shell.js';
import { ClientNodeKube } from '../harness/kube/client.js';
import type { ProbeRecord } from '../harness/model/connectivity.js';
import { skipReason } from '../harness/model/requirements.js';
import type { CheckResult } from '../harness/model/results.js';
import { type CheckOutcome, type ProbeTopology, tunnelMtuFor } from '../harness/probe/checks.js';
import {
  type BlockAffinityLike,
  type ExternalTargetHandle,
  podReturnRoutes,
  startExternalTarget,
} from '../harness/probe/external-target.js';
import { KubePodExecutor } from '../harness/probe/kube-executor.js';
import { type ConvergedControl, type ProbeRequest, Prober } from '../harness/probe/prober.js';
import { loopCountLines } from '../harness/probe/session.js';
import { buildProbeTopology } from '../harness/probe/topology.js';
import { buildProbeWorkloads } from '../harness/probe/workloads.js';
import { CONNECTIVITY_CHECKS, MTU_CHECK } from './connectivity-checks.js';
import { record, suiteContext, suiteEnvironment } from './context.js';

const ctx = suiteContext();
const kube = ClientNodeKube.fromFile(ctx.kubeconfigPath);
const namespace = `${ctx.namespacePrefix}-probes`;
const KIND_NETWORK = process.env.KIND_EXPERIMENTAL_DOCKER_NETWORK ?? 'kind';
const PROBE_TIMEOUT_MS = 2000;
/**
 * The control round converges as the policy suite's does (N stable rounds within a bounded window): fresh
 * pods can miss a round while Calico programs their endpoints, and one 2 s round is no verdict on that.
 */
const CONTROL_CONVERGENCE = { stableRounds: 2, timeoutMs: 60_000, intervalMs: 1000 } as const;
/**
 * The suite's probe rounds (the control round and every check) go through probe sessions
 * (harness/probe/session.ts): one long-lived exec per source pod that takes each round's batch on stdin,
 * instead of one exec per source pod per round. A session that breaks under a round fails that round as
 * infrastructure, never as a verdict, as a failed exec does. afterAll closes the sessions, then counts the
 * session loops left in the pods they ran in and fails the suite if any is left.
 */
const CONNECTIVITY_PROBE_SESSIONS = true;

type PodObj = { metadata: { name: string }; spec?: { nodeName?: string }; status?: { podIP?: string } };
type SvcObj = { metadata: { name: string }; spec?: { clusterIP?: string } };

let topo: ProbeTopology;
let prober: Prober | undefined;
let external: ExternalTargetHandle | undefined;
let controlFailure: string | undefined;
/** why the pod MTU could not be read: then the pod-MTU probe did not run, and the MTU check says so */
let podMtuProblem: string | undefined;

/** the control round's result and records, attached to its test */
let controlCheck: CheckResult | undefined;
let controlRecords: ProbeRecord[] = [];

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
  topo = buildProbeTopology({
    namespace,
    nodes: ctx.nodes,
    pods,
    services,
    natOutgoing: ctx.cell.natOutgoing,
    tunnelMtu: tunnelMtuFor(nodeMtu, ctx.cell.encapsulation),
  });
  // Without natOutgoing the target sees pod IPs and answers them through a route: each block via the node
  // that owns it (a reply through another node is conntrack INVALID there, and kube-proxy drops it)
  const routes = ctx.cell.natOutgoing
    ? []
    : podReturnRoutes(
        await kube.list<BlockAffinityLike & { apiVersion: string; kind: string }>(
          'crd.projectcalico.org/v1',
          'BlockAffinity',
        ),
        ctx.nodes,
        [...topo.clients, ...topo.servers].map((p) => ({ ip: p.ip, node: p.node })),
      );
  external = await startExternalTarget({
    network: KIND_NETWORK,
    name: `${ctx.clusterName}-external`.slice(0, 60),
    labels: { 'calico-conformance/cluster': ctx.clusterName },
    routes,
  });
  topo.external = { name: external.name, ip: external.ip, port: external.port };
  const executor = new KubePodExecutor(kube);
  prober = new Prober(executor, { probeTimeoutMs: PROBE_TIMEOUT_MS, sessions: CONNECTIVITY_PROBE_SESSIONS });
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
  let converged: ConvergedControl | undefined;
  try {
    converged = await prober.convergeControl(control, CONTROL_CONVERGENCE);
    controlRecords = converged.records;
  } catch (e) {
    controlFailure = e instanceof Error ? e.message : String(e);
  }
  controlCheck = {
    name: 'control-round',
    outcome: controlFailure ? 'failed' : 'passed',
    durationMs: performance.now() - started,
    ...(controlFailure
      ? { message: 'not every pod↔pod path connected', details: controlFailure }
      : {
          details: `every path connected in ${CONTROL_CONVERGENCE.stableRounds} consecutive rounds after ${Math.round(
            converged?.convergedMs ?? 0,
          )}ms (${converged?.rounds} rounds)`,
        }),
  };
}, 10 * 60_000);

afterAll(async () => {
  // the sessions end before their pods go, and none may outlive close(): counted while the pods still exist
  const { left, uncounted } = loopCountLines((await prober?.closeAndCountLoops()) ?? []);
  for (const u of uncounted) console.warn(`counting probe session loops in ${u}`);
  await external?.stop();
  const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } };
  await kube.delete([ns]);
  await kube.waitGone([ns], { timeoutMs: 3 * 60_000 });
  if (left.length)
    throw new Error(`probe session loops still running after the sessions were closed: ${left.join(', ')}`);
}, 5 * 60_000);

describe(`connectivity (${ctx.cell.id})`, () => {
  it('control round: every pod reaches every server pod on TCP/UDP 80 and 81', ({ task }) => {
    if (controlCheck) record(task, { check: controlCheck, probes: controlRecords });
    expect(controlFailure, controlFailure).toBeUndefined();
  });

  const env = suiteEnvironment(ctx);
  for (const check of CONNECTIVITY_CHECKS) {
    const unmet = skipReason(check.requires, env);
    it(check.name, async ({ task, skip }) => {
      if (unmet) {
        record(task, { check: { name: check.name, outcome: 'skipped', durationMs: 0, message: unmet } });
        return skip(unmet);
      }
      if (!prober) throw new Error('the suite set-up did not get as far as the prober');
      let outcome: CheckOutcome = await check.run(prober, topo);
      if (check.name === MTU_CHECK && podMtuProblem) {
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
      const r = outcome.result;
      // the check's stable name; what the probe check called this run (e.g. mtu-1450) stays in the details
      const details =
        r.name === check.name ? r.details : [`run as ${r.name}`, r.details].filter(Boolean).join('\n');
      record(task, {
        check: { ...r, name: check.name, ...(details ? { details } : {}) },
        probes: outcome.probes,
        grids: outcome.grids,
      });
      expect(r.outcome, `${r.message ?? ''}\n${r.details ?? ''}`).toBe('passed');
    });
  }
});
