/**
 * DiagnosticsKube over @kubernetes/client-node, for hosts without kubectl (kind itself needs only Docker).
 * Object dumps are YAML of the API's list answer; a resource type the cluster does not serve (the operator's
 * CRDs on the manifest path) is reported as absent, not as a failure.
 */
import {
  CoreV1Api,
  type KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
} from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { statusOf } from '../kube/client.js';
import type { DiagnosticsKube, PodRef } from './collect.js';

/** The resource names collectDiagnostics asks for (OBJECT_DUMPS), as apiVersion and kind. */
export const RESOURCE_KINDS: Record<string, { apiVersion: string; kind: string }> = {
  pods: { apiVersion: 'v1', kind: 'Pod' },
  events: { apiVersion: 'v1', kind: 'Event' },
  nodes: { apiVersion: 'v1', kind: 'Node' },
  'tigerastatuses.operator.tigera.io': { apiVersion: 'operator.tigera.io/v1', kind: 'TigeraStatus' },
  'installations.operator.tigera.io': { apiVersion: 'operator.tigera.io/v1', kind: 'Installation' },
  'ippools.crd.projectcalico.org': { apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool' },
  'ippools.projectcalico.org': { apiVersion: 'projectcalico.org/v3', kind: 'IPPool' },
};

function messageOf(err: unknown): string {
  const body = (err as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      return (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      return body;
    }
  }
  return (err as Error).message ?? String(err);
}

/** The generic client throws this (not a 404) when discovery does not know the group/version. */
const UNSERVED = /unrecognized api version and kind|not found|no matches for kind/i;

export function clientNodeDiagnosticsKube(kc: KubeConfig): DiagnosticsKube {
  const core = kc.makeApiClient(CoreV1Api);
  const objects = KubernetesObjectApi.makeApiClient(kc);
  return {
    async listPods(namespace, labelSelector): Promise<PodRef[]> {
      try {
        const list = await core.listNamespacedPod({ namespace, labelSelector });
        return list.items.map((p) => ({
          namespace,
          name: p.metadata?.name ?? '?',
          containers: [...(p.spec?.initContainers ?? []), ...(p.spec?.containers ?? [])].map((c) => c.name),
          restarts: (p.status?.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0),
        }));
      } catch (err) {
        if (statusOf(err) === 404) return [];
        throw new Error(`listing pods ${labelSelector} in ${namespace}: ${messageOf(err)}`);
      }
    },
    async podLogs(namespace, pod, container, opts) {
      try {
        const text = await core.readNamespacedPodLog({
          name: pod,
          namespace,
          container,
          timestamps: true,
          ...(opts?.previous ? { previous: true } : {}),
        });
        return typeof text === 'string' ? text : String(text ?? '');
      } catch (err) {
        throw new Error(`logs of ${namespace}/${pod} ${container}: ${messageOf(err)}`);
      }
    },
    async dumpObjects(resource) {
      const rk = RESOURCE_KINDS[resource];
      if (!rk) throw new Error(`no apiVersion/kind known for ${resource}`);
      try {
        const list = await objects.list<KubernetesObject>(rk.apiVersion, rk.kind);
        return stringify({ apiVersion: 'v1', kind: 'List', items: list.items ?? [] });
      } catch (err) {
        if (statusOf(err) === 404 || UNSERVED.test(messageOf(err))) return undefined;
        throw new Error(`listing ${rk.kind} (${rk.apiVersion}): ${messageOf(err)}`);
      }
    },
  };
}
