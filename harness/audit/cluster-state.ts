/**
 * API-level state the leftover audit reads (`cluster.json` in a dump directory): what Calico and the
 * Tigera operator create in the API and what survives an uninstall (calico-tests-uninstall.md §2.2–2.4).
 * Read through the small ClusterStateReader interface; the client-node implementation is below, tests use a
 * double.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { UsageError } from '../errors.js';

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface ClusterState {
  collectedAt?: string;
  crds: string[];
  namespaces: { name: string; phase?: string; conditions?: Condition[]; finalizers?: string[] }[];
  nodes: {
    name: string;
    annotations: Record<string, string>;
    conditions: Condition[];
    taints: { key: string; value?: string; effect: string }[];
  }[];
  apiServices: string[];
  webhooks: { kind: 'validating' | 'mutating'; name: string }[];
  clusterRoles: string[];
  clusterRoleBindings: string[];
  /** crd.projectcalico.org/v1 IPPools (empty when the CRD is gone) */
  ipPools: { name: string; cidr?: string }[];
}

/** One method per list; each answers [] when the kind does not exist in the cluster. */
export interface ClusterStateReader {
  listCrdNames(): Promise<string[]>;
  listNamespaces(): Promise<ClusterState['namespaces']>;
  listNodes(): Promise<ClusterState['nodes']>;
  listApiServiceNames(): Promise<string[]>;
  listWebhookConfigurations(): Promise<ClusterState['webhooks']>;
  listClusterRoleNames(): Promise<string[]>;
  listClusterRoleBindingNames(): Promise<string[]>;
  listIpPools(): Promise<ClusterState['ipPools']>;
}

export async function readClusterState(reader: ClusterStateReader, now = new Date()): Promise<ClusterState> {
  const [crds, namespaces, nodes, apiServices, webhooks, clusterRoles, clusterRoleBindings, ipPools] =
    await Promise.all([
      reader.listCrdNames(),
      reader.listNamespaces(),
      reader.listNodes(),
      reader.listApiServiceNames(),
      reader.listWebhookConfigurations(),
      reader.listClusterRoleNames(),
      reader.listClusterRoleBindingNames(),
      reader.listIpPools(),
    ]);
  return {
    collectedAt: now.toISOString(),
    crds: [...crds].sort(),
    namespaces,
    nodes,
    apiServices: [...apiServices].sort(),
    webhooks,
    clusterRoles: [...clusterRoles].sort(),
    clusterRoleBindings: [...clusterRoleBindings].sort(),
    ipPools,
  };
}

export const CLUSTER_STATE_FILE = 'cluster.json';

export function writeClusterState(dir: string, state: ClusterState): void {
  writeFileSync(join(dir, CLUSTER_STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
}

/** Reads DIR/cluster.json if present; validates the shape enough to name a broken field. */
export function readClusterStateFile(dir: string): ClusterState | undefined {
  const p = join(dir, CLUSTER_STATE_FILE);
  if (!existsSync(p)) return undefined;
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`${p} is not valid JSON: ${(err as Error).message}`, 'cluster.json');
  }
  const lists = [
    'crds',
    'namespaces',
    'nodes',
    'apiServices',
    'webhooks',
    'clusterRoles',
    'clusterRoleBindings',
    'ipPools',
  ];
  for (const k of lists) {
    if (v[k] === undefined) v[k] = [];
    else if (!Array.isArray(v[k]))
      throw new UsageError(`${p}: field ${k} must be a list`, `cluster.json ${k}`);
  }
  return v as unknown as ClusterState;
}

interface Listed {
  items?: {
    metadata?: { name?: string; annotations?: Record<string, string>; finalizers?: string[] } & object;
    spec?: unknown;
    status?: unknown;
  }[];
}

/**
 * ClusterStateReader on @kubernetes/client-node 1.4 (generic object API: one `list(apiVersion, kind)`
 * serves built-ins and Calico's CRDs alike). A kind the server does not know (404) lists as empty.
 */
export async function clientNodeStateReader(kc: KubeConfig): Promise<ClusterStateReader> {
  const { KubernetesObjectApi } = await import('@kubernetes/client-node');
  const api = KubernetesObjectApi.makeApiClient(kc);
  const list = async (apiVersion: string, kind: string): Promise<NonNullable<Listed['items']>> => {
    try {
      const r = (await api.list(apiVersion, kind)) as unknown as Listed;
      return r.items ?? [];
    } catch (err) {
      // the group is not served (404 on discovery) or serves no such kind: nothing of it exists
      const code = (err as { code?: number }).code;
      if (code === 404 || /Unrecognized API version and kind/.test((err as Error).message)) return [];
      throw err;
    }
  };
  const names = async (apiVersion: string, kind: string) =>
    (await list(apiVersion, kind)).map((i) => i.metadata?.name ?? '').filter(Boolean);
  return {
    listCrdNames: () => names('apiextensions.k8s.io/v1', 'CustomResourceDefinition'),
    listNamespaces: async () =>
      (await list('v1', 'Namespace')).map((n) => {
        const st = (n.status ?? {}) as { phase?: string; conditions?: Condition[] };
        return {
          name: n.metadata?.name ?? '',
          ...(st.phase ? { phase: st.phase } : {}),
          conditions: (st.conditions ?? []).map(pickCondition),
          finalizers: ((n.spec ?? {}) as { finalizers?: string[] }).finalizers ?? [],
        };
      }),
    listNodes: async () =>
      (await list('v1', 'Node')).map((n) => ({
        name: n.metadata?.name ?? '',
        annotations: n.metadata?.annotations ?? {},
        conditions: (((n.status ?? {}) as { conditions?: Condition[] }).conditions ?? []).map(pickCondition),
        taints: (
          ((n.spec ?? {}) as { taints?: { key: string; value?: string; effect: string }[] }).taints ?? []
        ).map((t) => ({ key: t.key, effect: t.effect, ...(t.value ? { value: t.value } : {}) })),
      })),
    listApiServiceNames: () => names('apiregistration.k8s.io/v1', 'APIService'),
    listWebhookConfigurations: async () => [
      ...(await names('admissionregistration.k8s.io/v1', 'ValidatingWebhookConfiguration')).map((name) => ({
        kind: 'validating' as const,
        name,
      })),
      ...(await names('admissionregistration.k8s.io/v1', 'MutatingWebhookConfiguration')).map((name) => ({
        kind: 'mutating' as const,
        name,
      })),
    ],
    listClusterRoleNames: () => names('rbac.authorization.k8s.io/v1', 'ClusterRole'),
    listClusterRoleBindingNames: () => names('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding'),
    listIpPools: async () =>
      (await list('crd.projectcalico.org/v1', 'IPPool')).map((p) => ({
        name: p.metadata?.name ?? '',
        ...(((p.spec ?? {}) as { cidr?: string }).cidr ? { cidr: (p.spec as { cidr: string }).cidr } : {}),
      })),
  };
}

function pickCondition(c: Condition): Condition {
  return {
    type: c.type,
    status: c.status,
    ...(c.reason ? { reason: c.reason } : {}),
    ...(c.message ? { message: c.message } : {}),
  };
}
