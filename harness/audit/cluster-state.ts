/**
 * API-level state the leftover audit reads (`cluster.json` in a dump directory): what Calico and the Tigera
 * operator create in the API and what survives an uninstall (docs/calico-facts.md, "Uninstall order" and
 * "What an uninstall leaves"). Read through the small ClusterStateReader interface; the client-node
 * implementation is below, tests use a double.
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

/**
 * Reads DIR/cluster.json if present and validates every item the rules read: a wrong type is a UsageError
 * naming the field (e.g. `cluster.json nodes[0].conditions`), never a TypeError in the rules later.
 * Optional lists inside an item (annotations, conditions, taints, finalizers) default to empty.
 */
export function readClusterStateFile(dir: string): ClusterState | undefined {
  const p = join(dir, CLUSTER_STATE_FILE);
  if (!existsSync(p)) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(p, 'utf8'));
  } catch (err) {
    throw new UsageError(`${p} is not valid JSON: ${(err as Error).message}`, 'cluster.json');
  }
  return parseClusterState(v, p);
}

/** Validates parsed cluster.json content; `where` names the file in messages. */
export function parseClusterState(v: unknown, where = CLUSTER_STATE_FILE): ClusterState {
  const bad = (field: string, want: string, got: unknown): never => {
    const f = `cluster.json ${field}`;
    throw new UsageError(`${where}: ${f} must be ${want}, got ${describe(got)}`, f);
  };
  if (!isObject(v)) return bad('(top level)', 'an object', v);
  const list = (field: string): unknown[] => {
    const x = v[field];
    if (x === undefined || x === null) return [];
    return Array.isArray(x) ? x : bad(field, 'a list', x);
  };
  const str = (field: string, x: unknown): string => (typeof x === 'string' ? x : bad(field, 'a string', x));
  const optStr = (field: string, x: unknown): string | undefined =>
    x === undefined || x === null ? undefined : str(field, x);
  const obj = (field: string, x: unknown): Record<string, unknown> =>
    isObject(x) ? x : bad(field, 'an object', x);
  const strList = (field: string, x: unknown): string[] => {
    if (x === undefined || x === null) return [];
    if (!Array.isArray(x)) return bad(field, 'a list of strings', x);
    return x.map((s, i) => str(`${field}[${i}]`, s));
  };
  const strMap = (field: string, x: unknown): Record<string, string> => {
    if (x === undefined || x === null) return {};
    const o = obj(field, x);
    for (const [k, val] of Object.entries(o)) str(`${field}.${k}`, val);
    return o as Record<string, string>;
  };
  const conditions = (field: string, x: unknown): Condition[] => {
    if (x === undefined || x === null) return [];
    if (!Array.isArray(x)) return bad(field, 'a list', x);
    return x.map((c, i) => {
      const f = `${field}[${i}]`;
      const o = obj(f, c);
      const reason = optStr(`${f}.reason`, o.reason);
      const message = optStr(`${f}.message`, o.message);
      return {
        type: str(`${f}.type`, o.type),
        status: str(`${f}.status`, o.status),
        ...(reason !== undefined ? { reason } : {}),
        ...(message !== undefined ? { message } : {}),
      };
    });
  };
  const collectedAt = optStr('collectedAt', v.collectedAt);
  return {
    ...(collectedAt !== undefined ? { collectedAt } : {}),
    crds: list('crds').map((x, i) => str(`crds[${i}]`, x)),
    namespaces: list('namespaces').map((x, i) => {
      const f = `namespaces[${i}]`;
      const o = obj(f, x);
      const phase = optStr(`${f}.phase`, o.phase);
      return {
        name: str(`${f}.name`, o.name),
        ...(phase !== undefined ? { phase } : {}),
        conditions: conditions(`${f}.conditions`, o.conditions),
        finalizers: strList(`${f}.finalizers`, o.finalizers),
      };
    }),
    nodes: list('nodes').map((x, i) => {
      const f = `nodes[${i}]`;
      const o = obj(f, x);
      const taints = o.taints === undefined || o.taints === null ? [] : o.taints;
      if (!Array.isArray(taints)) return bad(`${f}.taints`, 'a list', taints);
      return {
        name: str(`${f}.name`, o.name),
        annotations: strMap(`${f}.annotations`, o.annotations),
        conditions: conditions(`${f}.conditions`, o.conditions),
        taints: taints.map((t, j) => {
          const tf = `${f}.taints[${j}]`;
          const to = obj(tf, t);
          const value = optStr(`${tf}.value`, to.value);
          return {
            key: str(`${tf}.key`, to.key),
            effect: str(`${tf}.effect`, to.effect),
            ...(value !== undefined ? { value } : {}),
          };
        }),
      };
    }),
    apiServices: list('apiServices').map((x, i) => str(`apiServices[${i}]`, x)),
    webhooks: list('webhooks').map((x, i) => {
      const f = `webhooks[${i}]`;
      const o = obj(f, x);
      if (o.kind !== 'validating' && o.kind !== 'mutating')
        return bad(`${f}.kind`, '"validating" or "mutating"', o.kind);
      return { kind: o.kind, name: str(`${f}.name`, o.name) };
    }),
    clusterRoles: list('clusterRoles').map((x, i) => str(`clusterRoles[${i}]`, x)),
    clusterRoleBindings: list('clusterRoleBindings').map((x, i) => str(`clusterRoleBindings[${i}]`, x)),
    ipPools: list('ipPools').map((x, i) => {
      const f = `ipPools[${i}]`;
      const o = obj(f, x);
      const cidr = optStr(`${f}.cidr`, o.cidr);
      return { name: str(`${f}.name`, o.name), ...(cidr !== undefined ? { cidr } : {}) };
    }),
  };
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'a list';
  if (typeof x === 'object') return 'an object';
  return `${typeof x} ${JSON.stringify(x)}`;
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
