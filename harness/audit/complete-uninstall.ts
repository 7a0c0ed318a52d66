/**
 * The complete uninstall: the steps users are commonly told to run on every host after `kubectl delete -f
 * calico.yaml` (`modprobe -r ipip`, `rm -rf /var/lib/cni/ /etc/cni/net.d/*`, `systemctl restart kubelet`),
 * made safe for kind and extended to every leftover the audit knows, so that a second audit can demand a
 * clean cluster.
 *
 * Nodes — inside each node only (`docker exec`; ipsets with an `ipset` in the node's own network
 * namespace), never on the host: kind nodes share the host's kernel, so nothing here loads or unloads a
 * module (`modprobe -r ipip` would act on the host and every other cluster, and usually fails; the next
 * IPIP install reloads it anyway: docs/calico-facts.md, "tunl0"). What is removed is exactly what the node
 * rules find in a fresh node dump, by each finding's `fix` steps, in the rules' order: routes, devices
 * (tunl0 flushed and set down: it is the kernel's fallback device and cannot be deleted), Calico veths,
 * iptables (one iptables-restore transaction per backend and table), nftables, ipsets, BPF pins, the bpffs
 * and cgroup2 mounts (unmounted before /var/run/calico is removed with `rm --one-file-system`), files and
 * directories, and the CNI plugins install-cni added or overwrote (restored from the copy the baseline
 * phase kept inside the node). Then kubelet is restarted so it re-reads the CNI config directory.
 *
 * API — what Calico keeps by design: the `projectcalico.org/*` node annotations and the
 * NetworkUnavailable=CalicoIsDown condition with its taint (tigera/operator's own FV tests strip them the
 * same way), and the pods Calico's CNI wired (annotated `cni.projectcalico.org/podIP`), force-deleted so
 * their controllers recreate them under the next CNI instead of running on with a deleted veth.
 *
 * Every step reports done, failed (with the command's answer) or unavailable; the second audit is the
 * judge of the result.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { DockerNodeShell, type NodeShell } from '../cluster/node-shell.js';
import { defaultRunner, formatCommand, type RunResult } from '../exec/process.js';
import type { FixStep } from '../model/audit.js';
import type { NodeDump } from '../node-state/dump.js';
import { sleep } from '../time/clock.js';
import type { ClusterState } from './cluster-state.js';
import { collectNodeDump, commandMissing, DEFAULT_IPSET_HELPER_IMAGE, dockerNetnsIpset } from './collect.js';
import { auditNodeDump } from './node-rules.js';
import { nothingCollected } from './rules.js';

export type CleanOutcome = 'done' | 'failed' | 'unavailable';

export interface CleanStep {
  action: string;
  outcome: CleanOutcome;
  detail?: string;
}

export interface NodeCleanReport {
  node: string;
  steps: CleanStep[];
  /** every step done */
  complete: boolean;
  /** checks the node dump could not make (so nothing of that kind could be cleaned) */
  notChecked: string[];
}

export interface NodeCleanOptions {
  /** the node's cni-bin baseline (sha256sum right after cluster creation) */
  baseline?: string;
  /** runs `ipset ARGS` in the node's network namespace when the node has no ipset binary (kind) */
  ipset?: (args: readonly string[]) => Promise<RunResult>;
  /** takes the node dump the clean works from (default: collectNodeDump) */
  collect?: (shell: NodeShell, baseline: string | undefined) => Promise<NodeDump>;
  /** restart kubelet at the end (default true) */
  restartKubelet?: boolean;
  timeoutMs?: number;
}

/** The label of a step: what it removes. */
function actionOf(category: string, name: string): string {
  return `remove ${category} ${name}`;
}

function failure(r: RunResult): string {
  const out = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ');
  return r.timedOut
    ? `timed out after ${Math.round(r.durationMs)}ms`
    : `exit ${r.exitCode}${out ? `: ${out}` : ''}`;
}

/** `docker exec`'s own failure: the container is gone, stopped, or the daemon does not answer. */
const DOCKER_EXEC_FAILED =
  /error response from daemon|no such container|is not running|cannot connect to the docker daemon/i;

export async function completeUninstallNode(
  shell: NodeShell,
  opts: NodeCleanOptions = {},
): Promise<NodeCleanReport> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const steps: CleanStep[] = [];
  const collect =
    opts.collect ??
    ((s: NodeShell, baseline: string | undefined) =>
      collectNodeDump(s, baseline !== undefined ? { baseline } : {}));
  const dump = await collect(shell, opts.baseline);
  const none = nothingCollected(dump);
  if (none) {
    return {
      node: shell.node,
      steps: [{ action: 'read the node state', outcome: 'failed', detail: none.reason }],
      complete: false,
      notChecked: [],
    };
  }
  const { findings, notChecked } = auditNodeDump(dump);
  const ipset =
    opts.ipset ??
    (shell instanceof DockerNodeShell
      ? dockerNetnsIpset(shell.container, DEFAULT_IPSET_HELPER_IMAGE, defaultRunner)
      : undefined);

  const runStep = async (step: FixStep): Promise<RunResult | string> => {
    if (step.via === 'ipset') {
      const args = step.argv.slice(1);
      const own = await shell.exec(['ipset', ...args], { timeoutMs });
      if (!commandMissing(own)) return own;
      if (!ipset) return 'no ipset binary in the node and no helper to run one in its network namespace';
      return ipset(args);
    }
    return shell.exec(step.argv, { timeoutMs, ...(step.input !== undefined ? { input: step.input } : {}) });
  };

  for (const f of findings) {
    const action = actionOf(f.category, f.name);
    let failed: string | undefined;
    let unavailable: string | undefined;
    for (const step of f.fix ?? []) {
      const r = await runStep(step);
      if (typeof r === 'string') {
        unavailable = r;
        break;
      }
      if (r.exitCode !== 0 || r.timedOut) {
        failed = `${formatCommand(step.argv[0]!, step.argv.slice(1))}: ${failure(r)}`;
        break;
      }
    }
    if (!f.fix?.length) unavailable = 'no command removes it from inside the node';
    steps.push(
      failed
        ? { action, outcome: 'failed', detail: failed }
        : unavailable
          ? { action, outcome: 'unavailable', detail: unavailable }
          : { action, outcome: 'done', detail: (f.fix ?? []).map((s) => s.argv.join(' ')).join(' && ') },
    );
    if (failed && DOCKER_EXEC_FAILED.test(failed)) break;
  }

  if (opts.restartKubelet ?? true) steps.push(await restartKubelet(shell));
  return {
    node: shell.node,
    steps,
    complete: steps.every((s) => s.outcome === 'done'),
    notChecked: notChecked.map((n) => `${n.category} ${n.what}: ${n.reason}`),
  };
}

async function restartKubelet(shell: NodeShell): Promise<CleanStep> {
  const restart = await shell.exec(['systemctl', 'restart', 'kubelet'], { timeoutMs: 90_000 });
  const out = `${restart.stderr}\n${restart.stdout}`.trim();
  if (restart.exitCode === 0) return { action: 'restart kubelet', outcome: 'done' };
  if (
    restart.exitCode === 127 ||
    /executable file not found|command not found|not been booted with systemd|Failed to connect to bus|System has not been booted/i.test(
      out,
    )
  )
    return {
      action: 'restart kubelet',
      outcome: 'unavailable',
      detail: `this node has no running systemd to restart kubelet with (${out.split('\n')[0] || `exit ${restart.exitCode}`}); kubelet was not restarted`,
    };
  return { action: 'restart kubelet', outcome: 'failed', detail: failure(restart) };
}

// ---------------------------------------------------------------------------------------------------------
// the API part

/**
 * What the API part needs from the cluster (client-node below; tests use a double or the fake API server).
 */
export interface ApiCleaner {
  listNodes(): Promise<ClusterState['nodes']>;
  removeNodeAnnotations(node: string, keys: readonly string[]): Promise<void>;
  /** sets NetworkUnavailable to False (reason CalicoUninstalled) in the node's status */
  clearNetworkUnavailable(node: string): Promise<void>;
  removeNodeTaint(node: string, key: string): Promise<void>;
  /** pods the Calico CNI plugin wired (annotated cni.projectcalico.org/podIP or podIPs) */
  listCalicoWiredPods(): Promise<{ namespace: string; name: string; node?: string }[]>;
  /** delete with grace period 0; a pod already gone is not an error */
  forceDeletePod(namespace: string, name: string): Promise<void>;
}

export const NETWORK_UNAVAILABLE_TAINT = 'node.kubernetes.io/network-unavailable';

export async function completeUninstallApi(api: ApiCleaner): Promise<CleanStep[]> {
  const steps: CleanStep[] = [];
  const attempt = async (action: string, fn: () => Promise<void>) => {
    try {
      await fn();
      steps.push({ action, outcome: 'done' });
    } catch (err) {
      steps.push({ action, outcome: 'failed', detail: (err as Error).message });
    }
  };
  let pods: Awaited<ReturnType<ApiCleaner['listCalicoWiredPods']>> = [];
  try {
    pods = await api.listCalicoWiredPods();
  } catch (err) {
    steps.push({ action: 'list the pods Calico wired', outcome: 'failed', detail: (err as Error).message });
  }
  for (const p of pods)
    await attempt(`force-delete pod ${p.namespace}/${p.name}${p.node ? ` on ${p.node}` : ''}`, () =>
      api.forceDeletePod(p.namespace, p.name),
    );
  let nodes: ClusterState['nodes'] = [];
  try {
    nodes = await api.listNodes();
  } catch (err) {
    steps.push({ action: 'list the nodes', outcome: 'failed', detail: (err as Error).message });
  }
  for (const n of nodes) {
    const keys = Object.keys(n.annotations).filter((k) => k.startsWith('projectcalico.org/'));
    if (keys.length)
      await attempt(`node ${n.name}: remove ${keys.length} projectcalico.org/* annotation(s)`, () =>
        api.removeNodeAnnotations(n.name, keys),
      );
    const down = n.conditions.some(
      (c) => c.type === 'NetworkUnavailable' && c.status === 'True' && c.reason === 'CalicoIsDown',
    );
    if (down)
      await attempt(`node ${n.name}: NetworkUnavailable=CalicoIsDown → False`, () =>
        api.clearNetworkUnavailable(n.name),
      );
    if (n.taints.some((t) => t.key === NETWORK_UNAVAILABLE_TAINT))
      await attempt(`node ${n.name}: remove taint ${NETWORK_UNAVAILABLE_TAINT}`, () =>
        api.removeNodeTaint(n.name, NETWORK_UNAVAILABLE_TAINT),
      );
  }
  return steps;
}

/** ApiCleaner on @kubernetes/client-node 1.4 (CoreV1Api; merge and strategic-merge patches). */
export async function clientNodeApiCleaner(kc: KubeConfig): Promise<ApiCleaner> {
  const k8s = await import('@kubernetes/client-node');
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
  const strategic = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch);
  const codeOf = (err: unknown) => (err as { code?: number }).code;
  const { clientNodeStateReader } = await import('./cluster-state.js');
  const reader = await clientNodeStateReader(kc);
  return {
    listNodes: () => reader.listNodes(),
    async removeNodeAnnotations(node, keys) {
      // JSON merge patch (RFC 7386): null removes a key
      await core.patchNode(
        { name: node, body: { metadata: { annotations: Object.fromEntries(keys.map((k) => [k, null])) } } },
        merge,
      );
    },
    async clearNetworkUnavailable(node) {
      // conditions merge on `type` in a strategic merge patch: only NetworkUnavailable changes
      await core.patchNodeStatus(
        {
          name: node,
          body: {
            status: {
              conditions: [
                {
                  type: 'NetworkUnavailable',
                  status: 'False',
                  reason: 'CalicoUninstalled',
                  message: 'cleared by the complete uninstall (calico-conformance)',
                  lastTransitionTime: new Date().toISOString(),
                  lastHeartbeatTime: new Date().toISOString(),
                },
              ],
            },
          },
        },
        strategic,
      );
    },
    async removeNodeTaint(node, key) {
      // a merge patch replaces the list; the resourceVersion makes a concurrent change a 409, retried once
      for (let attempt = 0; ; attempt++) {
        const n = await core.readNode({ name: node });
        const taints = n.spec?.taints ?? [];
        if (!taints.some((t) => t.key === key)) return;
        try {
          await core.patchNode(
            {
              name: node,
              body: {
                metadata: { resourceVersion: n.metadata?.resourceVersion },
                spec: { taints: taints.filter((t) => t.key !== key) },
              },
            },
            merge,
          );
          return;
        } catch (err) {
          if (codeOf(err) !== 409 || attempt >= 1) throw err;
        }
      }
    },
    async listCalicoWiredPods() {
      const list = await core.listPodForAllNamespaces();
      return list.items
        .filter((p) => {
          const a = p.metadata?.annotations ?? {};
          return (
            !p.spec?.hostNetwork &&
            ('cni.projectcalico.org/podIP' in a || 'cni.projectcalico.org/podIPs' in a)
          );
        })
        .map((p) => ({
          namespace: p.metadata?.namespace ?? '',
          name: p.metadata?.name ?? '',
          ...(p.spec?.nodeName ? { node: p.spec.nodeName } : {}),
        }));
    },
    async forceDeletePod(namespace, name) {
      try {
        await core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 });
      } catch (err) {
        if (codeOf(err) !== 404) throw err;
      }
    },
  };
}

/**
 * The whole complete uninstall of a cluster: the API part (through the kubeconfig), then every node in
 * parallel. Returns one evidence line per step; throws, with every line, when a step did not succeed.
 */
export async function completeUninstallCluster(opts: {
  kubeconfigPath: string;
  nodes: readonly { name: string; shell: NodeShell }[];
  baseline: (node: string) => string | undefined;
  /** the API part's cluster access (default: client-node from the kubeconfig) */
  api?: ApiCleaner;
  /** extra node passes while a pass still removes something (default 3), and the wait between (5 s) */
  settlePasses?: number;
  settleMs?: number;
  /** an interrupt ends the wait between passes at once (rejecting with the signal's reason) */
  signal?: AbortSignal;
  /** how a node's state is read (default: collectNodeDump through its shell) */
  collect?: NodeCleanOptions['collect'];
}): Promise<string[]> {
  let api = opts.api;
  if (!api) {
    const { KubeConfig } = await import('@kubernetes/client-node');
    const kc = new KubeConfig();
    kc.loadFromFile(opts.kubeconfigPath);
    api = await clientNodeApiCleaner(kc);
  }
  const apiSteps = await completeUninstallApi(api);
  const pass = () =>
    Promise.all(
      opts.nodes.map((n) => {
        const b = opts.baseline(n.name);
        return completeUninstallNode(n.shell, {
          ...(b !== undefined ? { baseline: b } : {}),
          ...(opts.collect ? { collect: opts.collect } : {}),
        });
      }),
    );
  // Seen on the lab: the kubelet tears the force-deleted pods' sandboxes down after the API has forgotten
  // them, and that teardown (CNI DEL through whatever Calico config is still there) can write files while
  // the node pass runs, so a final audit found one. Node passes repeat, a settle interval apart, until a
  // pass finds nothing left to remove (at most settlePasses more passes).
  const earlier: NodeCleanReport[] = [];
  let nodes = await pass();
  const removedSomething = (rs: readonly NodeCleanReport[]) =>
    rs.some((r) => r.steps.some((s) => s.action !== 'restart kubelet' && s.outcome === 'done'));
  for (let i = 0; i < (opts.settlePasses ?? 3) && removedSomething(nodes); i++) {
    earlier.push(...nodes);
    await sleep(opts.settleMs ?? 5000, opts.signal);
    nodes = await pass();
  }
  const line = (where: string, s: CleanStep) =>
    `${where}: ${s.action}: ${s.outcome}${s.detail ? ` (${s.detail})` : ''}`;
  const lines = [
    ...apiSteps.map((s) => line('api', s)),
    ...[...earlier, ...nodes].flatMap((r) => [
      ...r.steps.map((s) => line(r.node, s)),
      ...r.notChecked.map((n) => `${r.node}: not checked, so not cleaned: ${n}`),
    ]),
  ];
  const incomplete = [
    ...(apiSteps.some((s) => s.outcome !== 'done') ? ['the API'] : []),
    ...nodes.filter((r) => !r.complete).map((r) => r.node),
  ];
  if (incomplete.length)
    throw new Error(`complete uninstall incomplete on ${incomplete.join(', ')}:\n${lines.join('\n')}`);
  return lines;
}
