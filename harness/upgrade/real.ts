/**
 * The live dependencies of the upgrade flow: kind (KindProvider), the renderer (renderCell), the install and
 * uninstall flows, the Kubernetes client (server-side apply, reads), the probe engine (batched Prober over
 * kubectl-exec), the vitest suites and the leftover audit. Built only after validation and preflight.
 *
 * Everything here is a thin binding; the order, the waits and the measurements live in flow.ts and are
 * tested with doubles. A real run needs kind and Docker (the CLI checks them first, exit 3).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeClusterState } from '../audit/cluster-state.js';
import { completeUninstallCluster } from '../audit/complete-uninstall.js';
import { writeNodeDump } from '../audit/dump.js';
import { collectBaselines, collectLiveCluster } from '../audit/live.js';
import { auditReport } from '../audit/rules.js';
import { getVersion } from '../calico/catalogue.js';
import { installCalico } from '../calico/flows/install.js';
import { uninstallCalico } from '../calico/flows/uninstall.js';
import { type RenderedCell, renderCell } from '../calico/render.js';
import {
  defaultCacheDir,
  HttpsCacheSource,
  LocalDirSource,
  loadLock,
  type ManifestSource,
  MemoSource,
} from '../calico/source.js';
import { clusterNameFor, KindProvider } from '../cluster/kind.js';
import { renderKindConfig } from '../cluster/kind-config.js';
import type { ClusterHandle } from '../cluster/provider.js';
import type { Cell } from '../config/cell.js';
import { defaultRunner, type ProcessRunner } from '../exec/process.js';
import { ClientNodeKube, type KubeClient } from '../kube/client.js';
import { parseManifest } from '../kube/yaml.js';
import { suiteFile } from '../pipeline/real.js';
import { PROJECT_ROOT, runVitestSuite } from '../pipeline/suites.js';
import { KubePodExecutor } from '../probe/kube-executor.js';
import { ProbeRoundError, Prober } from '../probe/prober.js';
import type { ProbeKey, ProbeRecord } from '../probe/types.js';
import { buildProbeWorkloads, LABEL_ROLE } from '../probe/workloads.js';
import type { PhaseResult } from '../report/model.js';
import { sameKey } from './continuous.js';
import {
  type PodSnapshot,
  type SuitePhase,
  systemClock,
  type TrafficHandle,
  type UpgradeAction,
  type UpgradeCluster,
  type UpgradeDeps,
  type WorkloadSnapshot,
} from './deps.js';
import type { UpgradeFlowOptions } from './flow.js';
import { planTraffic, TRAFFIC_NAMESPACE, type TrafficPod, trafficPolicy } from './traffic.js';

export interface RealUpgradeOptions {
  flow: UpgradeFlowOptions;
  reportDir: string;
  log: (line: string) => void;
  runner?: ProcessRunner;
  /** read upstream files from DIR/<version>/<file> instead of downloading (render's --manifests-dir) */
  manifestsDir?: string;
  allowUnpinned?: boolean;
  /** false: operator cells without the Goldmane and Whisker CRs (unset: what upstream's custom-resources.yaml creates) */
  goldmaneWhisker?: boolean;
  env?: NodeJS.ProcessEnv;
  /**
   * in-pod timeout of one probe: a denied probe costs this much (default 1 s, as the netpol e2e's
   * `agnhost connect --timeout=1s`)
   */
  probeTimeoutMs?: number;
}

/** The suite file a phase runs: the same files `run` runs (verify is the mode suite, as in the pipeline). */
export const SUITE_FILES: Record<SuitePhase, string> = {
  verify: suiteFile('mode'),
  connectivity: suiteFile('connectivity'),
  policy: suiteFile('policy'),
};

interface Live {
  handle: ClusterHandle;
  kube: KubeClient;
  /** `sha256sum /opt/cni/bin/*` per node before Calico: the audit tells overwritten CNI binaries by it */
  baselines: Record<string, string>;
}

type Obj = Record<string, unknown> & { metadata?: Record<string, unknown> };

function num(v: unknown): number {
  return typeof v === 'number' ? v : 0;
}

function imagesOf(podSpec: unknown): string[] {
  const spec = (podSpec ?? {}) as {
    containers?: { image?: string }[];
    initContainers?: { image?: string }[];
  };
  return [...(spec.initContainers ?? []), ...(spec.containers ?? [])]
    .map((c) => c.image)
    .filter((i): i is string => typeof i === 'string');
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
      images: imagesOf(p.spec),
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
      templateImages: imagesOf(spec.template?.spec),
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
  render: (cell: Cell) => Promise<RenderedCell>,
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
  const r = await render(action.cell);
  const file = r.files.find((f) => f.name === name);
  if (!file)
    throw new Error(
      `the rendered ${action.cell.id} has no ${name} (files: ${r.files.map((f) => f.name).join(', ')})`,
    );
  await kube.applyServerSide(parseManifest(file.content, `${action.cell.calicoVersion}/${name}`), {
    force: true,
    crdTimeoutMs: 2 * 60_000,
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

export async function realUpgradeDeps(opts: RealUpgradeOptions): Promise<UpgradeDeps> {
  const runner = opts.runner ?? defaultRunner;
  const env = opts.env ?? process.env;
  const log = opts.log;
  const source: ManifestSource = new MemoSource(
    opts.manifestsDir
      ? new LocalDirSource(opts.manifestsDir)
      : new HttpsCacheSource({
          cacheDir: defaultCacheDir(env),
          lock: await loadLock(),
          allowUnpinned:
            opts.allowUnpinned === true ||
            opts.flow.from.calicoVersion === 'master' ||
            opts.flow.to.calicoVersion === 'master',
          warn: (m) => log(`warning: ${m}`),
        }),
  );
  const rendered = new Map<string, Promise<RenderedCell>>();
  const render = (cell: Cell) => {
    let r = rendered.get(cell.id);
    if (!r) {
      r = renderCell(
        cell,
        source,
        opts.goldmaneWhisker !== undefined ? { goldmaneWhisker: opts.goldmaneWhisker } : {},
      );
      rendered.set(cell.id, r);
    }
    return r;
  };
  // every file of A and B is rendered (and validated) before a cluster exists: a bad render is a usage
  // error before anything is created
  await render(opts.flow.from);
  await render(opts.flow.to);

  const provider = new KindProvider({ runner, log });
  const live = new Map<string, Live>();
  const get = (c: UpgradeCluster): Live => {
    const l = live.get(c.name);
    if (!l) throw new Error(`cluster ${c.name} is not known to this run`);
    return l;
  };
  const cellDir = join(opts.reportDir, 'cells', `${opts.flow.from.calicoVersion}-to-${opts.flow.to.id}`);
  const status = (e: { step: string; state: string; detail?: string }) =>
    log(
      `  ${e.state === 'start' ? '…' : e.state === 'done' ? '✓' : '✗'} ${e.step}${e.detail ? `: ${e.detail}` : ''}`,
    );

  const phase = (
    name: PhaseResult['name'],
    outcome: PhaseResult['outcome'],
    started: number,
    startedAt: string,
    evidence: string[],
    reason?: string,
  ): PhaseResult => ({
    name,
    outcome,
    startedAt,
    durationMs: Date.now() - started,
    ...(reason ? { reason } : {}),
    evidence,
    checks: [],
  });

  return {
    clock: systemClock,
    log,
    async createCluster(cell) {
      const name = clusterNameFor(`up-${cell.calicoVersion}`);
      const handle = await provider.create({
        name,
        kindConfigYaml: renderKindConfig(cell, { clusterName: name }),
        nodeImage: cell.nodeImage,
      });
      let baselines: Record<string, string> = {};
      try {
        baselines = await collectBaselines(await handle.nodes(), runner);
      } catch (err) {
        log(
          `  CNI baseline not collected (the audit reports CNI binaries as not checked): ${(err as Error).message}`,
        );
      }
      live.set(name, { handle, kube: ClientNodeKube.fromFile(handle.kubeconfigPath), baselines });
      return { name, kubeconfigPath: handle.kubeconfigPath };
    },
    async install(cluster, cell) {
      const { kube } = get(cluster);
      await installCalico({
        cell,
        kube,
        rendered: await render(cell),
        version: getVersion(cell.calicoVersion),
        status,
      });
    },
    async startTraffic(cluster): Promise<TrafficHandle> {
      const { handle, kube } = get(cluster);
      const nodes = (await handle.nodes()).filter((n) => n.role === 'worker');
      const names = (nodes.length >= 2 ? nodes : await handle.nodes()).slice(0, 2).map((n) => n.name);
      const workloads = buildProbeWorkloads({ namespace: TRAFFIC_NAMESPACE, nodes: names });
      const docs = workloads as unknown as Parameters<KubeClient['applyServerSide']>[0];
      await kube.applyServerSide(docs, { force: true });
      await kube.waitPodsReady(TRAFFIC_NAMESPACE, `${LABEL_ROLE} in (client,server)`, {
        timeoutMs: 5 * 60_000,
        minPods: names.length * 2,
      });
      // the policy goes on once the servers are up, so the pods' readiness never depended on it
      await kube.applyServerSide([trafficPolicy(TRAFFIC_NAMESPACE)] as unknown as typeof docs, {
        force: true,
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
      const prober = new Prober(new KubePodExecutor(kube), { probeTimeoutMs: opts.probeTimeoutMs ?? 1000 });
      return {
        pairs: plan.pairs,
        async probeOnce(keys: readonly ProbeKey[], signal?: AbortSignal): Promise<ProbeRecord[]> {
          const requests = plan.requests.filter((r) => keys.some((k) => sameKey(k, r)));
          const at = new Date().toISOString();
          try {
            return (await prober.round(requests, signal)).map((r) => ({ ...r, at }));
          } catch (err) {
            if (!(err instanceof ProbeRoundError)) throw err;
            // what finished counts; the rest is an infrastructure error for those pairs, not a verdict
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
        },
        async dispose() {
          await kube.delete([{ apiVersion: 'v1', kind: 'Namespace', name: TRAFFIC_NAMESPACE }]);
          await kube.waitGone([{ apiVersion: 'v1', kind: 'Namespace', name: TRAFFIC_NAMESPACE }], {
            timeoutMs: 3 * 60_000,
          });
        },
      };
    },
    async applyUpgrade(cluster, action) {
      await applyAction(get(cluster).kube, action, render);
    },
    async readWorkloads(cluster, namespaces) {
      return readWorkloadsFrom(get(cluster).kube, namespaces);
    },
    async runSuite(cluster, name, cell) {
      const { handle } = get(cluster);
      const started = Date.now();
      const startedAt = new Date().toISOString();
      const file = SUITE_FILES[name];
      if (!existsSync(join(PROJECT_ROOT, file))) {
        return phase(
          name,
          'error',
          started,
          startedAt,
          [],
          `the suite ${file} does not exist in this checkout`,
        );
      }
      mkdirSync(cellDir, { recursive: true });
      const nodes = await handle.nodes();
      const run = await runVitestSuite({
        files: [file],
        outDir: cellDir,
        label: name,
        ctx: {
          cell,
          clusterName: handle.name,
          kubeconfigPath: handle.kubeconfigPath,
          cellDir,
          nodes: nodes.map((n) => ({ name: n.name, role: n.role, container: n.container, internalIP: n.ip })),
          namespacePrefix: `cc-up-${name}`,
        },
      });
      const failed = run.checks.filter((c) => c.outcome === 'failed' || c.outcome === 'error');
      return {
        ...phase(
          name,
          run.checks.length === 0 ? 'error' : failed.length ? 'failed' : 'passed',
          started,
          startedAt,
          run.evidence,
          run.checks.length === 0
            ? `${file} reported no test`
            : failed.length
              ? `${failed.length} check(s) failed: ${failed.map((c) => c.name).join(', ')}`
              : undefined,
        ),
        checks: run.checks,
      };
    },
    async uninstall(cluster, cell) {
      const { kube } = get(cluster);
      const started = Date.now();
      const startedAt = new Date().toISOString();
      const evidence: string[] = [];
      await uninstallCalico({
        cell,
        kube,
        rendered: await render(cell),
        version: getVersion(cell.calicoVersion),
        status: (e) => {
          if (e.state !== 'start')
            evidence.push(`${e.state === 'done' ? '✓' : '✗'} ${e.step}${e.detail ? `: ${e.detail}` : ''}`);
          status(e);
        },
      });
      return phase('uninstall', 'passed', started, startedAt, evidence);
    },
    async audit(cluster, cell, stage) {
      const { baselines } = get(cluster);
      const collected = await collectLiveCluster(cluster.name, { runner, baselines });
      const dir = join(cellDir, stage === 'upstream' ? 'node-dump' : 'node-dump-final');
      for (const d of collected.dumps) writeNodeDump(dir, d);
      if (collected.cluster) writeClusterState(dir, collected.cluster);
      else if (collected.apiUnavailable) log(`  API state not read: ${collected.apiUnavailable}`);
      return {
        report: auditReport(
          { dumps: collected.dumps, ...(collected.cluster ? { cluster: collected.cluster } : {}) },
          { nodeImage: cell.nodeImage },
        ),
        dumps: collected.dumps,
        where: `node dumps in ${dir}`,
      };
    },
    async completeUninstall(cluster) {
      const { handle, baselines } = get(cluster);
      const nodes = await handle.nodes();
      return completeUninstallCluster({
        kubeconfigPath: handle.kubeconfigPath,
        nodes: nodes.map((n) => ({ name: n.name, shell: handle.shell(n.name) })),
        baseline: (node) => baselines[node],
      });
    },
    async deleteCluster(cluster) {
      const { handle } = get(cluster);
      const left = await handle.dispose({ keep: false });
      live.delete(cluster.name);
      if (left.length) throw new Error(`could not remove: ${left.join(', ')}`);
    },
  };
}
