/**
 * An existing cluster from a kubeconfig (`run --kubeconfig`). A kind kubeconfig's context is
 * `kind-<cluster>`, and the node containers carry kind's labels; for any other cluster the nodes come from
 * the API and their containers are assumed to be named after them (true for kind; node dumps fail clearly
 * otherwise). Its handle never deletes the cluster.
 */
import { KubeConfig } from '@kubernetes/client-node';
import type { ProcessRunner } from '../exec/process.js';
import { ClientNodeKube } from '../kube/client.js';
import { listKindNodes } from './kind-nodes.js';
import { DockerNodeShell } from './node-shell.js';
import type { ClusterHandle, ClusterNode } from './provider.js';

export async function attachCluster(
  kubeconfigPath: string,
  runner: ProcessRunner,
  name?: string,
  dockerCommand = 'docker',
): Promise<ClusterHandle> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const context = kc.getCurrentContext();
  const clusterName = name ?? (context.startsWith('kind-') ? context.slice('kind-'.length) : context);
  const nodes = async (): Promise<ClusterNode[]> => {
    if (context.startsWith('kind-')) {
      const found = await listKindNodes(clusterName, runner, dockerCommand).catch(() => []);
      if (found.length > 0) return found;
    }
    const kube = new ClientNodeKube(kc);
    const list = await kube.list<{
      metadata?: { name?: string; labels?: Record<string, string> };
      status?: { addresses?: { type: string; address: string }[] };
    }>('v1', 'Node');
    return list.map((n) => {
      const nodeName = n.metadata?.name ?? '';
      return {
        name: nodeName,
        container: nodeName,
        role:
          n.metadata?.labels?.['node-role.kubernetes.io/control-plane'] !== undefined
            ? 'control-plane'
            : 'worker',
        internalIP: n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '',
      };
    });
  };
  return {
    name: clusterName,
    kubeconfigPath,
    nodes,
    shell: (n) => new DockerNodeShell(n, n, runner, dockerCommand),
    dispose: async () => [],
  };
}
