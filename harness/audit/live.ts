/**
 * Collecting from a live kind cluster: node dumps through `docker exec` on each node container (found by
 * kind's labels), and the API state through a kubeconfig obtained from `kind get kubeconfig`. Used by
 * `collect --cluster`, `audit --cluster` and the pipeline's audit phase, so a live audit and a saved dump
 * go through the same files and the same parsers.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listKindNodes } from '../cluster/kind-nodes.js';
import { DockerNodeShell, type NodeShell } from '../cluster/node-shell.js';
import type { ClusterNode } from '../cluster/provider.js';
import { UsageError } from '../errors.js';
import type { ProcessRunner } from '../exec/process.js';
import type { NodeDump } from '../node-state/dump.js';
import {
  type ClusterState,
  type ClusterStateReader,
  clientNodeStateReader,
  readClusterState,
} from './cluster-state.js';
import { collectNodeDump, DEFAULT_IPSET_HELPER_IMAGE, dockerNetnsIpsetLister } from './collect.js';

export { DEFAULT_IPSET_HELPER_IMAGE } from './collect.js';

export interface LiveCollectOptions {
  runner: ProcessRunner;
  ipsetHelperImage?: string;
  /** per node name, a baseline to put in the dump (a record, or a lookup by node name) */
  baselines?: Record<string, string> | ((node: string) => string | undefined);
  /** build a state reader from a kubeconfig file (default: client-node); tests inject a double */
  stateReaderFor?: (kubeconfigPath: string) => Promise<ClusterStateReader>;
  /** skip the API state */
  skipApi?: boolean;
}

export interface LiveCollection {
  nodes: ClusterNode[];
  dumps: NodeDump[];
  cluster?: ClusterState;
  /** why the API state is missing, when it is */
  apiUnavailable?: string;
}

export async function collectLiveCluster(
  clusterName: string,
  opts: LiveCollectOptions,
): Promise<LiveCollection> {
  const nodes = await listKindNodes(clusterName, opts.runner);
  if (nodes.length === 0) {
    throw new UsageError(
      `--cluster: no kind cluster named ${JSON.stringify(clusterName)} (no container carries the label io.x-k8s.kind.cluster=${clusterName}; see \`kind get clusters\`)`,
      'cluster',
    );
  }
  const image = opts.ipsetHelperImage ?? DEFAULT_IPSET_HELPER_IMAGE;
  const dumps: NodeDump[] = [];
  for (const n of nodes) {
    const shell: NodeShell = new DockerNodeShell(n.container, n.name, opts.runner);
    const baseline = typeof opts.baselines === 'function' ? opts.baselines(n.name) : opts.baselines?.[n.name];
    dumps.push(
      await collectNodeDump(shell, {
        ipsetFallback: dockerNetnsIpsetLister(n.container, image, opts.runner),
        ...(baseline !== undefined ? { baseline } : {}),
      }),
    );
  }
  if (opts.skipApi) return { nodes, dumps, apiUnavailable: 'skipped' };
  const api = await readApiStateViaKind(clusterName, opts);
  return { nodes, dumps, ...api };
}

/**
 * `kind get kubeconfig --name NAME` through the runner, written to a private temporary file (mode 0600,
 * in a 0700 directory, removed afterwards): the kubeconfig carries the cluster-admin key.
 */
export async function readApiStateViaKind(
  clusterName: string,
  opts: Pick<LiveCollectOptions, 'runner' | 'stateReaderFor'>,
): Promise<{ cluster?: ClusterState; apiUnavailable?: string }> {
  const r = await opts.runner.run('kind', ['get', 'kubeconfig', '--name', clusterName], {
    timeoutMs: 30_000,
  });
  if (r.exitCode !== 0) {
    return {
      apiUnavailable: `kind get kubeconfig --name ${clusterName} exited ${r.exitCode}: ${(r.stderr || r.stdout).trim()}`,
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'cc-kubeconfig-'));
  try {
    const path = join(dir, 'kubeconfig');
    writeFileSync(path, r.stdout, { mode: 0o600 });
    const reader = await (opts.stateReaderFor ?? defaultStateReaderFor)(path);
    return { cluster: await readClusterState(reader) };
  } catch (err) {
    return { apiUnavailable: `reading the API state failed: ${(err as Error).message}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function defaultStateReaderFor(path: string): Promise<ClusterStateReader> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return clientNodeStateReader(kc);
}
