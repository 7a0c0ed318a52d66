/**
 * The diagnostics bundle of a failed cell: what a person needs to understand the failure after the cluster
 * is gone. Modelled on what Calico's own e2e collects on failure (logDiagsForNamespace: pod logs, policies,
 * a namespace dump) and on `kind export logs`. Every step is independent: one that fails (a crashed API
 * server, a missing kind binary) is listed and the rest still run, because a bundle is most needed exactly
 * when the cluster is in a bad state.
 *
 * Layout under outDir:
 *   kind-logs/                          `kind export logs` (node journals, containerd, kubelet, pod logs)
 *   logs/<component>/<ns>_<pod>_<container>[.previous].log
 *   node-dump/<node>/                   the node dump of docs/contracts.md (written by the injected nodeDumps)
 *   objects/<resource>.yaml             pods, events, TigeraStatus, IPPools, Installation, nodes
 *   index.json                          {written, failed, notPresent}
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { type ProcessRunner, tailOf } from '../exec/process.js';

export interface PodRef {
  namespace: string;
  name: string;
  containers: string[];
  /** restarts summed over the containers; > 0 means a previous instance's log may hold the crash */
  restarts: number;
}

/** The little of the Kubernetes API the bundle needs; `kubectlDiagnosticsKube` implements it with kubectl. */
export interface DiagnosticsKube {
  /** pods matching a label selector in one namespace ([] when none, or the namespace does not exist) */
  listPods(namespace: string, labelSelector: string): Promise<PodRef[]>;
  /** one container's log; `previous` reads the last terminated instance */
  podLogs(namespace: string, pod: string, container: string, opts?: { previous?: boolean }): Promise<string>;
  /** every object of a resource type, all namespaces, as YAML; undefined when the type does not exist */
  dumpObjects(resource: string): Promise<string | undefined>;
}

export interface DiagnosticsContext {
  clusterName: string;
  kubeconfigPath: string;
  outDir: string;
  runner: ProcessRunner;
  kube?: DiagnosticsKube;
  nodeDumps?: (dir: string) => Promise<void>;
  /** per-command timeout (default 2 minutes; `kind export logs` gets 5) */
  timeoutMs?: number;
}

export interface DiagnosticsResult {
  /** files and folders written, relative to outDir */
  written: string[];
  /** "<step>: <why>" for each step that failed */
  failed: string[];
  /** what does not exist on this cell and so was not collected (the operator on the manifest path) */
  notPresent: string[];
}

/**
 * Where each Calico component runs: the manifest path puts calico-node and kube-controllers in kube-system
 * (calico.yaml), the operator path in calico-system, and the operator itself in tigera-operator with the
 * label `name: tigera-operator` (tigera-operator.yaml's Deployment selector).
 */
export const COMPONENTS: { name: string; namespaces: string[]; selector: string }[] = [
  { name: 'calico-node', namespaces: ['kube-system', 'calico-system'], selector: 'k8s-app=calico-node' },
  {
    name: 'calico-kube-controllers',
    namespaces: ['kube-system', 'calico-system'],
    selector: 'k8s-app=calico-kube-controllers',
  },
  { name: 'tigera-operator', namespaces: ['tigera-operator'], selector: 'name=tigera-operator' },
];

/**
 * Object dumps: a resource and its alternatives, tried in order. IPPools are CRDs of the
 * crd.projectcalico.org group on both install paths; the projectcalico.org group is the fallback for a
 * cluster serving the v3 API directly.
 */
export const OBJECT_DUMPS: { file: string; resources: string[] }[] = [
  { file: 'pods', resources: ['pods'] },
  { file: 'events', resources: ['events'] },
  { file: 'nodes', resources: ['nodes'] },
  { file: 'tigerastatuses', resources: ['tigerastatuses.operator.tigera.io'] },
  { file: 'installations', resources: ['installations.operator.tigera.io'] },
  { file: 'ippools', resources: ['ippools.crd.projectcalico.org', 'ippools.projectcalico.org'] },
];

const safeName = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_');

export async function collectDiagnostics(ctx: DiagnosticsContext): Promise<DiagnosticsResult> {
  const result: DiagnosticsResult = { written: [], failed: [], notPresent: [] };
  const timeoutMs = ctx.timeoutMs ?? 120_000;
  const kube = ctx.kube ?? kubectlDiagnosticsKube(ctx.runner, ctx.kubeconfigPath, timeoutMs);
  await mkdir(ctx.outDir, { recursive: true });
  const rel = (p: string) => relative(ctx.outDir, p);

  async function step(name: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      result.failed.push(`${name}: ${(err as Error).message}`);
    }
  }

  await step('kind export logs', async () => {
    const dir = join(ctx.outDir, 'kind-logs');
    const r = await ctx.runner.run('kind', ['export', 'logs', dir, '--name', ctx.clusterName], {
      timeoutMs: Math.max(timeoutMs, 300_000),
    });
    if (r.timedOut) throw new Error(`timed out after ${Math.round(r.durationMs)}ms`);
    if (r.exitCode !== 0) throw new Error(`exited ${r.exitCode}${tailOf(r.stderr || r.stdout, 5)}`);
    result.written.push(rel(dir));
  });

  for (const component of COMPONENTS) {
    let found = 0;
    for (const ns of component.namespaces) {
      let pods: PodRef[] = [];
      await step(`list ${component.name} pods in ${ns}`, async () => {
        pods = await kube.listPods(ns, component.selector);
      });
      for (const pod of pods) {
        for (const container of pod.containers) {
          found++;
          const base = join(ctx.outDir, 'logs', component.name, safeName(`${ns}_${pod.name}_${container}`));
          await step(`logs ${ns}/${pod.name} ${container}`, async () => {
            const text = await kube.podLogs(ns, pod.name, container);
            await mkdir(join(ctx.outDir, 'logs', component.name), { recursive: true });
            await writeFile(`${base}.log`, text);
            result.written.push(rel(`${base}.log`));
          });
          if (pod.restarts > 0) {
            await step(`previous logs ${ns}/${pod.name} ${container}`, async () => {
              const text = await kube.podLogs(ns, pod.name, container, { previous: true });
              await writeFile(`${base}.previous.log`, text);
              result.written.push(rel(`${base}.previous.log`));
            });
          }
        }
      }
    }
    if (found === 0) result.notPresent.push(`${component.name} pods (${component.namespaces.join(', ')})`);
  }

  if (ctx.nodeDumps) {
    const dump = ctx.nodeDumps;
    await step('node dumps', async () => {
      const dir = join(ctx.outDir, 'node-dump');
      await mkdir(dir, { recursive: true });
      await dump(dir);
      result.written.push(rel(dir));
    });
  }

  for (const dumpSpec of OBJECT_DUMPS) {
    await step(`objects ${dumpSpec.file}`, async () => {
      for (const resource of dumpSpec.resources) {
        const yaml = await kube.dumpObjects(resource);
        if (yaml === undefined) continue;
        const path = join(ctx.outDir, 'objects', `${dumpSpec.file}.yaml`);
        await mkdir(join(ctx.outDir, 'objects'), { recursive: true });
        await writeFile(path, yaml);
        result.written.push(rel(path));
        return;
      }
      result.notPresent.push(`${dumpSpec.resources.join(' / ')} (no such resource type)`);
    });
  }

  await step('index', async () => {
    const path = join(ctx.outDir, 'index.json');
    await writeFile(path, `${JSON.stringify({ cluster: ctx.clusterName, ...result }, null, 2)}\n`);
  });
  return result;
}

/** kubectl's answer when a resource type is not served (the CRD is not installed). */
const NO_SUCH_TYPE = /doesn't have a resource type|the server could not find the requested resource/i;

/** DiagnosticsKube over kubectl, through the ProcessRunner (argument arrays, timeouts). */
export function kubectlDiagnosticsKube(
  runner: ProcessRunner,
  kubeconfigPath: string,
  timeoutMs = 120_000,
): DiagnosticsKube {
  const kubectl = async (args: string[], doing: string) => {
    const r = await runner.run('kubectl', ['--kubeconfig', kubeconfigPath, ...args], { timeoutMs });
    if (r.timedOut) throw new Error(`${doing}: kubectl timed out after ${Math.round(r.durationMs)}ms`);
    return r;
  };
  return {
    async listPods(namespace, labelSelector) {
      const r = await kubectl(
        ['get', 'pods', '-n', namespace, '-l', labelSelector, '-o', 'json'],
        `listing ${labelSelector} pods in ${namespace}`,
      );
      if (r.exitCode !== 0)
        throw new Error(`kubectl get pods -n ${namespace} exited ${r.exitCode}${tailOf(r.stderr, 3)}`);
      const list = JSON.parse(r.stdout || '{"items":[]}') as {
        items?: {
          metadata?: { name?: string };
          spec?: { containers?: { name: string }[]; initContainers?: { name: string }[] };
          status?: { containerStatuses?: { restartCount?: number }[] };
        }[];
      };
      return (list.items ?? []).map((p) => ({
        namespace,
        name: p.metadata?.name ?? '?',
        // init containers too: calico-node's install-cni and upgrade-ipam fail there first
        containers: [...(p.spec?.initContainers ?? []), ...(p.spec?.containers ?? [])].map((c) => c.name),
        restarts: (p.status?.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0),
      }));
    },
    async podLogs(namespace, pod, container, opts) {
      const r = await kubectl(
        [
          'logs',
          '-n',
          namespace,
          pod,
          '-c',
          container,
          '--timestamps',
          ...(opts?.previous ? ['--previous'] : []),
        ],
        `logs of ${namespace}/${pod} ${container}`,
      );
      if (r.exitCode !== 0) throw new Error(`kubectl logs exited ${r.exitCode}${tailOf(r.stderr, 3)}`);
      return r.stdout;
    },
    async dumpObjects(resource) {
      const r = await kubectl(['get', resource, '--all-namespaces', '-o', 'yaml'], `dumping ${resource}`);
      if (r.exitCode !== 0) {
        if (NO_SUCH_TYPE.test(r.stderr)) return undefined;
        throw new Error(`kubectl get ${resource} exited ${r.exitCode}${tailOf(r.stderr, 3)}`);
      }
      return r.stdout;
    },
  };
}
