/**
 * Uninstalling Calico, in the order that lets every controller finish its own cleanup.
 *
 * Operator path (tigera/operator's helm pre-delete hook and finalizer choreography; docs/calico-facts.md,
 * "Uninstall order"): delete the APIServer, Goldmane, Whisker and Installation CRs → wait until they are gone
 * (≤ 5 minutes, as the hook does) → wait until the namespaces of Calico's components are gone (calico-system,
 * garbage-collected once the Installation is; calico-apiserver up to v3.30; tigera/operator
 * core_controller.go: both stay Terminating while their pods — calico-node, kube-controllers, Goldmane,
 * Whisker, the API server — shut down, and what those pods leave is what the audit must not see half-way) →
 * delete the operator manifest → delete the CRDs → delete leftover IPPools if their CRD remains (IPPools
 * carry no owner reference, pool_controller.go). Deleting the operator first leaves the Installation stuck on
 * its finalizers (tigera/operator#2031, projectcalico/calico#9066).
 *
 * Manifest path (`kubectl delete -f calico.yaml`) with one change: calico-node and calico-kube-controllers
 * go first and are waited for, while the CNI's RBAC still exists — deleting everything at once lets the RBAC
 * vanish before pod-networked pods are torn down, and their CNI DEL then fails "connection is unauthorized"
 * and the pods stick in Terminating (projectcalico/calico#4857).
 */
import { WaitTimeoutError } from '../../errors.js';
import type { ObjectRef } from '../../kube/yaml.js';
import { type FlowContext, step, timeoutsOf } from './context.js';

const OPERATOR_GROUP = 'operator.tigera.io/';
/** the order of deletion; the Installation last, as its finalizer waits for the others' controllers */
const OPERATOR_CRS = ['APIServer', 'Goldmane', 'Whisker', 'Installation'] as const;
const WORKLOADS = new Set(['DaemonSet', 'Deployment', 'StatefulSet', 'Job']);
const IPPOOL_CRD = 'ippools.crd.projectcalico.org';

export async function uninstallCalico(ctx: FlowContext): Promise<void> {
  if (ctx.cell.install === 'operator') await uninstallOperator(ctx);
  else await uninstallManifest(ctx);
}

function waitOpts(ctx: FlowContext, timeoutMs: number) {
  return { timeoutMs, signal: ctx.signal, ...(ctx.pollIntervalMs ? { intervalMs: ctx.pollIntervalMs } : {}) };
}

function key(r: ObjectRef): string {
  return `${r.apiVersion}|${r.kind}|${r.namespace ?? ''}|${r.name}`;
}

async function deleteAndWait(
  ctx: FlowContext,
  label: string,
  refs: ObjectRef[],
  propagation: 'Foreground' | 'Background',
  timeoutMs: number,
): Promise<void> {
  if (refs.length === 0) return;
  await step(ctx, 'uninstall', `delete ${label} (${refs.length} objects)`, () =>
    ctx.kube.delete(refs, { propagation }),
  );
  await step(ctx, 'uninstall', `wait until ${label} are gone`, () =>
    ctx.kube.waitGone(refs, waitOpts(ctx, timeoutMs)),
  );
}

export async function uninstallOperator(ctx: FlowContext): Promise<void> {
  const t = timeoutsOf(ctx);
  const objects = ctx.rendered.objects;
  const isCr = (o: ObjectRef) =>
    o.apiVersion.startsWith(OPERATOR_GROUP) && (OPERATOR_CRS as readonly string[]).includes(o.kind);

  // 1. The custom resources, in the hook's order; the defaults are included even if the rendered cell did not
  // create them, so a cluster installed by other means is still taken apart in the right order.
  const wanted = new Map<string, ObjectRef>();
  for (const kind of OPERATOR_CRS) {
    if ((kind === 'Goldmane' || kind === 'Whisker') && !ctx.version.goldmaneWhisker) continue;
    for (const o of objects.filter((x) => isCr(x) && x.kind === kind)) wanted.set(key(o), o);
    const dflt: ObjectRef = { apiVersion: 'operator.tigera.io/v1', kind, name: 'default' };
    if (![...wanted.values()].some((o) => o.kind === kind && o.name === 'default'))
      wanted.set(key(dflt), dflt);
  }
  const crs = [...wanted.values()];
  await step(ctx, 'uninstall', `delete ${crs.map((c) => c.kind).join(', ')}`, () =>
    ctx.kube.delete(crs, { propagation: 'Background' }),
  );
  // 2. Until the Installation (and the other CRs, whose finalizers need the operator too) are gone.
  await step(ctx, 'uninstall', 'wait until the Installation and the other operator CRs are gone', () =>
    ctx.kube.waitGone(crs, waitOpts(ctx, t.installationGoneMs)),
  );

  // 3. The namespaces the operator ran Calico's components in: calico-system (owned by the Installation, so
  // garbage-collected only now) and, up to v3.30, calico-apiserver. Terminating until their pods are gone.
  await waitCalicoNamespacesGone(ctx, t.namespacesGoneMs);

  // 4. The operator manifest, newest-applied first (its Deployment before its RBAC and namespace).
  const operatorObjects = objects.filter((o) => !isCr(o) && o.kind !== 'CustomResourceDefinition').reverse();
  await deleteAndWait(ctx, 'the operator manifest', operatorObjects, 'Background', t.deleteMs);

  // 5. The CRDs (this also deletes what is left of their custom resources).
  const crds = dedupe(objects.filter((o) => o.kind === 'CustomResourceDefinition'));
  await deleteAndWait(ctx, 'the CRDs', crds, 'Background', t.deleteMs);

  // 6. IPPools outlive the Installation by design; their CRD survives when it was not among the deleted ones.
  await removeLeftoverIPPools(ctx, t.deleteMs);
}

/** calico-system, plus the API server's own namespace where the version has one (catalogue apiServerNamespace). */
export function calicoNamespaces(ctx: Pick<FlowContext, 'version'>): string[] {
  return [...new Set(['calico-system', ctx.version.apiServerNamespace])];
}

async function waitCalicoNamespacesGone(ctx: FlowContext, timeoutMs: number): Promise<void> {
  const names = calicoNamespaces(ctx);
  const refs: ObjectRef[] = names.map((name) => ({ apiVersion: 'v1', kind: 'Namespace', name }));
  const what = names.length > 1 ? `namespaces ${names.join(' and ')}` : `namespace ${names[0]}`;
  await step(ctx, 'uninstall', `wait until ${what} ${names.length > 1 ? 'are' : 'is'} gone`, async () => {
    try {
      await ctx.kube.waitGone(refs, waitOpts(ctx, timeoutMs));
    } catch (err) {
      if (!(err instanceof WaitTimeoutError)) throw err;
      throw new WaitTimeoutError(
        `${what} to be gone after the Installation (Terminating until every pod in ${names.length > 1 ? 'them' : 'it'} is gone)`,
        err.timeoutMs,
        err.lastSeen,
      );
    }
  });
}

export async function uninstallManifest(ctx: FlowContext): Promise<void> {
  const t = timeoutsOf(ctx);
  const objects = dedupe(ctx.rendered.objects);
  const workloads = objects.filter((o) => WORKLOADS.has(o.kind));
  const crds = objects.filter((o) => o.kind === 'CustomResourceDefinition');
  const rest = objects
    .filter((o) => !WORKLOADS.has(o.kind) && o.kind !== 'CustomResourceDefinition')
    .reverse();
  // Foreground: the DaemonSet is gone only when its pods are, so the CNI RBAC outlives the pod teardown.
  await deleteAndWait(ctx, 'calico-node and calico-kube-controllers', workloads, 'Foreground', t.deleteMs);
  await deleteAndWait(ctx, 'the rest of calico.yaml', rest, 'Background', t.deleteMs);
  await deleteAndWait(ctx, 'the CRDs of calico.yaml', crds, 'Background', t.deleteMs);
  await removeLeftoverIPPools(ctx, t.deleteMs);
}

async function removeLeftoverIPPools(ctx: FlowContext, timeoutMs: number): Promise<void> {
  const crd = await ctx.kube.get({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    name: IPPOOL_CRD,
  });
  if (!crd || crd.metadata?.deletionTimestamp) return;
  const pools = await ctx.kube.list('crd.projectcalico.org/v1', 'IPPool');
  const refs: ObjectRef[] = pools.map((p) => ({
    apiVersion: 'crd.projectcalico.org/v1',
    kind: 'IPPool',
    name: p.metadata?.name ?? '',
  }));
  await deleteAndWait(ctx, 'leftover IPPools', refs, 'Background', timeoutMs);
}

function dedupe(refs: ObjectRef[]): ObjectRef[] {
  const seen = new Set<string>();
  return refs.filter((r) => {
    const k = key(r);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
