/**
 * The live dependencies of the upgrade phase: the Kubernetes client (server-side apply, reads), the probe
 * engine (batched Prober over kubectl-exec) for the continuous traffic, and `kind load` of B's images on the
 * lab. Everything else an upgrade does is the run pipeline's own live deps (harness/pipeline/real.ts).
 *
 * Everything here is a thin binding; the order, the waits and the measurements live in phase.ts and are
 * tested with doubles.
 */

import { podSpecImages } from '../config/image.js';
import { defaultRunner, type ProcessRunner } from '../exec/process.js';
import { ClientNodeKube, type KubeClient } from '../kube/client.js';
import { parseManifest } from '../kube/yaml.js';
import type { ProbeKey, ProbeRecord } from '../model/connectivity.js';
import type { RenderedFiles, StepContext } from '../pipeline/deps.js';
import { loadCellImages } from '../pipeline/real.js';
import type { PodExecutor } from '../probe/executor.js';
import { KubePodExecutor } from '../probe/kube-executor.js';
import { ProbeLanes } from '../probe/lanes.js';
import { type ProbeRequest, ProbeRoundError, Prober } from '../probe/prober.js';
import { loopCountLines, type SessionLoopCount, sessionLoopsLeft } from '../probe/session.js';
import { buildProbeWorkloads, LABEL_ROLE } from '../probe/workloads.js';
import { systemClock } from '../time/clock.js';
import { sameKey } from './continuous.js';
import type { PodSnapshot, TrafficHandle, UpgradeAction, UpgradeDeps, WorkloadSnapshot } from './deps.js';
import { APPLY_STEP_MS } from './phase.js';
import {
  planTraffic,
  TRAFFIC_GONE_MS,
  TRAFFIC_NAMESPACE,
  TRAFFIC_READY_MS,
  type TrafficPod,
  trafficPolicy,
} from './traffic.js';

/**
 * The upgrade's continuous traffic probes through probe sessions (probe/session.ts): long-lived execs in the
 * client pod that take each round's batch on stdin, one per round in flight (probe/lanes.ts: the rounds
 * overlap, and a round must not wait behind another on one session, or its probes would run well after the
 * time it is stamped with), instead of one exec per round. A session's exec goes through the API server and
 * the kubelet, not the pod network, so calico-node restarting does not end it. A session that breaks under a
 * round fails that round exactly as a failed exec does: its probes are verdict `error` (infrastructure),
 * excluded from every outage and fail-open count and reported; the next round opens a new session. The
 * sessions are closed when the traffic is disposed or its step is stopped, and dispose then counts the session
 * loops left in the client pod (logged; the namespace is deleted right after in any case).
 */
export const UPGRADE_TRAFFIC_SESSIONS = true;

/** The traffic's probe rounds and the end of them: what startTraffic builds its TrafficHandle on. */
export interface TrafficRounds {
  probeOnce: TrafficHandle['probeOnce'];
  /** ends the sessions (nothing to do without them) */
  close(): Promise<void>;
  /** the session loops left in the pods sessions ran in, counted after close() (empty without sessions) */
  loopsLeft(): Promise<SessionLoopCount[]>;
  /** how the rounds ran, for the log: sessions opened, batches, lanes; or one exec per round */
  describe(): string;
}

/**
 * The traffic's rounds over `requests` (planTraffic's): through probe lanes when `sessions` and the executor
 * can open streams, else one exec per source pod per round. A round that threw keeps what finished and
 * records the rest as infrastructure errors (recordsOfFailedRound), whichever way it ran.
 */
export function trafficRounds(
  executor: PodExecutor,
  requests: readonly ProbeRequest[],
  opts: { probeTimeoutMs: number; sessions: boolean },
): TrafficRounds {
  const lanes =
    opts.sessions && executor.openStream
      ? new ProbeLanes(executor, { probeTimeoutMs: opts.probeTimeoutMs })
      : undefined;
  const oneShot = lanes ? undefined : new Prober(executor, { probeTimeoutMs: opts.probeTimeoutMs });
  return {
    async probeOnce(keys, signal) {
      const asked = requests.filter((r) => keys.some((k) => sameKey(k, r)));
      const at = new Date().toISOString();
      try {
        const records = lanes ? await lanes.round(asked, signal) : await oneShot!.round(asked, signal);
        return records.map((r) => ({ ...r, at }));
      } catch (err) {
        return recordsOfFailedRound(err, asked, at, signal);
      }
    },
    close: async () => {
      await lanes?.close();
    },
    loopsLeft: async () => (lanes ? sessionLoopsLeft(executor, lanes.sessionPods) : []),
    describe: () =>
      lanes
        ? `probe sessions: ${lanes.sessionStats.opened} opened in ${lanes.lanes} lane(s), ${lanes.sessionStats.batches} batches`
        : 'one exec per source pod per round',
  };
}

export interface RealUpgradeOptions {
  runner?: ProcessRunner;
  /**
   * in-pod timeout of one probe: a denied probe costs this much (default 1 s, as the netpol e2e's
   * `agnhost connect --timeout=1s`)
   */
  probeTimeoutMs?: number;
  /** `kind load` B's Calico images from the host before B is applied (`--lab`) */
  preloadImages?: boolean;
  /** images loaded besides B's Calico images (the lab's agnhost) */
  extraImages?: string[];
  /**
   * the traffic pods' image (`--lab`: the lab's agnhost). Given here, not read from the environment: the
   * probe workloads' default is fixed when their module is first imported, which in `upgrade` is before
   * the lab is entered (a real run's traffic pods asked a registry for upstream agnhost 2.53)
   */
  probeImage?: string;
}

/**
 * A probe round that threw: what finished counts and the rest is an infrastructure error for those pairs,
 * not a verdict. A round cut short by the signal (the probers stopping) is thrown again, so the continuous
 * prober records nothing for it: on the lab every pair had 4 "exec aborted" errors at the end of the
 * timeline before this.
 */
export function recordsOfFailedRound(
  err: unknown,
  requests: readonly ProbeKey[],
  at: string,
  signal?: AbortSignal,
): ProbeRecord[] {
  if (!(err instanceof ProbeRoundError) || signal?.aborted) throw err;
  const detail = err.failures.map((f) => f.message).join('; ');
  return requests.map(
    (r) =>
      err.completed.find((c) => sameKey(c, r)) ?? {
        from: r.from,
        to: r.to,
        port: r.port,
        protocol: r.protocol,
        verdict: 'error' as const,
        durationMs: 0,
        detail,
        at,
      },
  );
}

/** The traffic workloads on these nodes (their pods run `image` when given, else the probe workloads' default). */
export function trafficWorkloads(
  nodes: readonly string[],
  image?: string,
): ReturnType<typeof buildProbeWorkloads> {
  return buildProbeWorkloads({
    namespace: TRAFFIC_NAMESPACE,
    nodes: [...nodes],
    ...(image ? { image } : {}),
  });
}

type Obj = Record<string, unknown> & { metadata?: Record<string, unknown> };

function num(v: unknown): number {
  return typeof v === 'number' ? v : 0;
}

function matches(
  labels: Record<string, string> | undefined,
  selector: Record<string, string> | undefined,
): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** DaemonSet/Deployment objects and their pods → the snapshots the flow judges (pure). */
export function workloadSnapshots(
  namespace: string,
  daemonSets: readonly Obj[],
  deployments: readonly Obj[],
  pods: readonly Obj[],
): WorkloadSnapshot[] {
  const podSnaps = pods.map((p) => {
    const status = (p.status ?? {}) as { conditions?: { type: string; status: string }[] };
    const snap: PodSnapshot & { labels: Record<string, string> } = {
      name: String(p.metadata?.name ?? ''),
      images: podSpecImages(p.spec),
      ready: (status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
      terminating: p.metadata?.deletionTimestamp !== undefined && p.metadata?.deletionTimestamp !== null,
      labels: (p.metadata?.labels ?? {}) as Record<string, string>,
    };
    return snap;
  });
  const one = (w: Obj, kind: 'DaemonSet' | 'Deployment'): WorkloadSnapshot => {
    const spec = (w.spec ?? {}) as {
      replicas?: number;
      selector?: { matchLabels?: Record<string, string> };
      template?: { spec?: unknown };
    };
    const st = (w.status ?? {}) as Record<string, unknown>;
    const selector = spec.selector?.matchLabels;
    return {
      namespace,
      kind,
      name: String(w.metadata?.name ?? ''),
      generation: num(w.metadata?.generation),
      observedGeneration: num(st.observedGeneration),
      desired: kind === 'DaemonSet' ? num(st.desiredNumberScheduled) : (spec.replicas ?? 1),
      updated: kind === 'DaemonSet' ? num(st.updatedNumberScheduled) : num(st.updatedReplicas),
      ready: kind === 'DaemonSet' ? num(st.numberReady) : num(st.readyReplicas),
      templateImages: podSpecImages(spec.template?.spec),
      pods: podSnaps.filter((p) => matches(p.labels, selector)).map(({ labels: _l, ...p }) => p),
    };
  };
  return [...daemonSets.map((d) => one(d, 'DaemonSet')), ...deployments.map((d) => one(d, 'Deployment'))];
}

/** The file of the rendered cell B that an upgrade action applies. */
export function fileForAction(action: UpgradeAction): string | undefined {
  switch (action.kind) {
    case 'apply-manifest':
      return 'calico.yaml';
    case 'apply-operator-crds':
      return 'operator-crds.yaml';
    case 'apply-operator':
      return 'tigera-operator.yaml';
    case 'create-installation':
      return undefined;
  }
}

/**
 * Carries out one upgrade step on a cluster: B's file server-side with force-conflicts (Calico's upgrade
 * guide: `kubectl apply --server-side --force-conflicts -f <file>`), or the Installation that starts the
 * operator's migration (`kubectl create` in the migration guide: it must not exist yet).
 */
export async function applyAction(
  kube: Pick<KubeClient, 'applyServerSide' | 'create'>,
  action: UpgradeAction,
  rendered: RenderedFiles,
): Promise<void> {
  if (action.kind === 'create-installation') {
    await kube.create([
      {
        apiVersion: 'operator.tigera.io/v1',
        kind: 'Installation',
        metadata: { name: 'default' },
        spec: action.spec,
      },
    ] as unknown as Parameters<KubeClient['create']>[0]);
    return;
  }
  const name = fileForAction(action)!;
  const file = rendered.files.find((f) => f.name === name);
  if (!file)
    throw new Error(
      `the rendered ${action.cell.id} has no ${name} (files: ${rendered.files.map((f) => f.name).join(', ')})`,
    );
  await kube.applyServerSide(parseManifest(file.content, `${action.cell.calicoVersion}/${name}`), {
    force: true,
    crdTimeoutMs: APPLY_STEP_MS,
  });
}

/** Every DaemonSet and Deployment of the namespaces, with their pods. */
export async function readWorkloadsFrom(
  kube: Pick<KubeClient, 'list'>,
  namespaces: readonly string[],
): Promise<WorkloadSnapshot[]> {
  const out: WorkloadSnapshot[] = [];
  for (const namespace of namespaces) {
    const [ds, deps, pods] = await Promise.all([
      kube.list<Obj>('apps/v1', 'DaemonSet', { namespace }),
      kube.list<Obj>('apps/v1', 'Deployment', { namespace }),
      kube.list<Obj>('v1', 'Pod', { namespace }),
    ]);
    out.push(...workloadSnapshots(namespace, ds, deps, pods));
  }
  return out;
}

export function realUpgradeDeps(opts: RealUpgradeOptions = {}): UpgradeDeps {
  const runner = opts.runner ?? defaultRunner;
  const clients = new Map<string, KubeClient>();
  const kubeOf = (step: StepContext): KubeClient => {
    const path = step.cluster.kubeconfigPath;
    let kube = clients.get(path);
    if (!kube) {
      kube = ClientNodeKube.fromFile(path);
      clients.set(path, kube);
    }
    return kube;
  };

  return {
    clock: systemClock,
    async startTraffic(step): Promise<TrafficHandle> {
      const kube = kubeOf(step);
      const workers = step.nodes.filter((n) => n.role === 'worker');
      const names = (workers.length >= 2 ? workers : step.nodes).slice(0, 2).map((n) => n.name);
      const workloads = trafficWorkloads(names, opts.probeImage);
      const docs = workloads as unknown as Parameters<KubeClient['applyServerSide']>[0];
      step.log(`traffic workloads in ${TRAFFIC_NAMESPACE} on ${names.join(', ')}`);
      await kube.applyServerSide(docs, { force: true, signal: step.signal });
      await kube.waitPodsReady(TRAFFIC_NAMESPACE, `${LABEL_ROLE} in (client,server)`, {
        timeoutMs: TRAFFIC_READY_MS,
        minPods: names.length * 2,
        signal: step.signal,
      });
      // the policy goes on once the servers are up, so the pods' readiness never depended on it
      await kube.applyServerSide([trafficPolicy(TRAFFIC_NAMESPACE)] as unknown as typeof docs, {
        force: true,
        signal: step.signal,
      });
      const pods = await kube.list<Obj & { status?: { podIP?: string } }>('v1', 'Pod', {
        namespace: TRAFFIC_NAMESPACE,
      });
      const byRole = (role: string): TrafficPod[] =>
        pods
          .filter((p) => (p.metadata?.labels as Record<string, string> | undefined)?.[LABEL_ROLE] === role)
          .map((p) => ({
            name: String(p.metadata?.name),
            node: String((p.spec as { nodeName?: string } | undefined)?.nodeName ?? ''),
            ip: String(p.status?.podIP ?? ''),
          }))
          .sort((a, b) => a.name.localeCompare(b.name));
      const plan = planTraffic(TRAFFIC_NAMESPACE, byRole('client'), byRole('server'));
      const rounds = trafficRounds(new KubePodExecutor(kube), plan.requests, {
        probeTimeoutMs: opts.probeTimeoutMs ?? 1000,
        sessions: UPGRADE_TRAFFIC_SESSIONS,
      });
      // stopped (SIGINT, the phase limit): the phase skips dispose and the cluster goes, but the sessions end now
      const onAbort = () => void rounds.close();
      step.signal.addEventListener('abort', onAbort, { once: true });
      let report: string[] = [`traffic rounds: ${rounds.describe()}`];
      return {
        pairs: plan.pairs,
        probeOnce: rounds.probeOnce,
        report: () => report,
        async dispose() {
          step.signal.removeEventListener('abort', onAbort);
          await rounds.close();
          const { left, uncounted } = loopCountLines(await rounds.loopsLeft());
          const found = [...left, ...uncounted.map((u) => `${u} (not counted)`)];
          report = [
            `traffic rounds: ${rounds.describe()}${
              UPGRADE_TRAFFIC_SESSIONS
                ? `; closed, session loops left in the client pod: ${found.length ? found.join(', ') : 'none'}`
                : ''
            }`,
          ];
          step.log(report[0]!);
          await kube.delete([{ apiVersion: 'v1', kind: 'Namespace', name: TRAFFIC_NAMESPACE }]);
          await kube.waitGone([{ apiVersion: 'v1', kind: 'Namespace', name: TRAFFIC_NAMESPACE }], {
            timeoutMs: TRAFFIC_GONE_MS,
          });
        },
      };
    },
    ...(opts.preloadImages
      ? {
          prepareTarget: (step, target) =>
            loadCellImages(step, runner, target.cell, target.rendered, opts.extraImages),
        }
      : {}),
    applyUpgrade: (step, action, rendered) => applyAction(kubeOf(step), action, rendered),
    readWorkloads: (step, namespaces) => readWorkloadsFrom(kubeOf(step), namespaces),
  };
}
