/**
 * The cluster provider, the one interface between the pipeline and whatever runs its clusters: the pipeline
 * creates a cluster (or attaches to an existing one) through it and gets back a handle it must dispose (as
 * testcontainers-node's started containers are; as kind's provider interface,
 * pkg/cluster/internal/providers, hides the container runtime). KindProvider (kind.ts) implements it with
 * the kind CLI; the pipeline's tests implement it with doubles (test/unit/pipeline/doubles.ts, and real
 * containers as nodes in test/e2e).
 */
import type { NodeShell } from './node-shell.js';

/**
 * A node of a cluster, the one node type of the harness: what the cluster provider lists, the pipeline's
 * phases get and the suites receive (pipeline/suite-context.ts).
 */
export interface ClusterNode {
  /** the Kubernetes node name (kind: also the hostname and the container name) */
  name: string;
  /** the docker container of the node */
  container: string;
  role: 'control-plane' | 'worker';
  /** the node's InternalIP: its IPv4 address on the cluster's docker network (kind's `kind` network) */
  internalIP: string;
}

export interface ClusterSpec {
  name: string;
  /** the rendered kind Cluster config (harness/cluster/kind-config.ts) */
  kindConfigYaml: string;
  /** pinned node image, passed as `--image` so every node uses it */
  nodeImage: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** status lines while it is created (the provider's own output; "last seen" for a timeout) */
  log?: (line: string) => void;
}

export interface ClusterProvider {
  create(spec: ClusterSpec): Promise<ClusterHandle>;
  /** an existing cluster reached through a kubeconfig; its handle never deletes it */
  attach(kubeconfigPath: string, opts?: { name?: string }): Promise<ClusterHandle>;
}

export interface ClusterHandle {
  readonly name: string;
  /** a private (0600) kubeconfig file for this cluster; removed by dispose() unless kept */
  readonly kubeconfigPath: string;
  nodes(): Promise<ClusterNode[]>;
  shell(nodeName: string): NodeShell;
  /**
   * Deletes the cluster and its temp files, or with `keep` leaves them and says how to reach them. Resolves with
   * what was left (kept on purpose, or could not be removed); [] when everything is gone.
   */
  dispose(opts: { keep: boolean }): Promise<string[]>;
}
