/**
 * The policy model on a live cell: pure builders of its workloads (the netpol e2e model: namespaces
 * x,y,z × pods a,b,c, each pod serving TCP and UDP on 80 and 81 with agnhost), of the oracle's model from
 * the pods' real IPs, and of the scenario inputs in the live namespace names.
 *
 * Each pod runs one agnhost `netexec` container per port (`--http-port=N --udp-port=N`: HTTP `/hostname`
 * and UDP `hostname` answer with the pod name, which the prober checks), and names its container ports
 * `serve-<port>-<tcp|udp>` so named-port policies resolve the same way as in the model. Live namespaces
 * carry a prefix (several runs may share a cluster) but keep the label `ns: x`; the Kubernetes
 * `kubernetes.io/metadata.name` selectors of the catalogue are rewritten to the live names.
 */
import { UsageError } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import type { Protocol } from '../model/connectivity.js';
import { MODEL_NAMESPACES, MODEL_PODS, MODEL_PORTS, portName, standardModel } from './model.js';
import type { ScenarioInput } from './runner.js';
import { type PolicyScenario, resolvePlaceholders } from './scenarios.js';
import type { PolicyModel } from './types.js';

export { AGNHOST_IMAGE } from '../probe/workloads.js';

import { AGNHOST_IMAGE } from '../probe/workloads.js';
export const POLICY_PURPOSE_LABEL = 'calico-conformance/purpose';

/**
 * The in-pod timeout of a policy probe. Measured with bench:probe-floor on the 2-core lab under load (four
 * namespace sets, 1,152 probes a round, another cell running beside it): 1 s gave 50 false timeouts in
 * 23,040 all-allowed probes, 2 s gave 11, and the rounds took the same 10 s (CPU-bound): past one set the
 * longer timeout costs nothing and a third of the false "denied" cells. The stable-rounds rule absorbs the
 * rest (a false timeout restarts the streak; it never passes a wrong table).
 */
export const POLICY_PROBE_TIMEOUT_MS = 2000;

/**
 * Policy probe rounds go through one long-lived exec per source pod (probe/session.ts) instead of one exec
 * per source pod per round. Measured with bench:probe-floor on the 2-core lab (4 namespace sets, 1,152
 * probes a round, 2 s timeout, matrix runs on the same lab beside it): 4.2 s a round against 10.0 s with one
 * exec per round, false timeouts 7 against 15 of 23,040; one set 0.96 s against 2.29 s. The suite closes the
 * sessions at its end.
 */
export const POLICY_PROBE_SESSIONS = true;

/**
 * The namespace-set label. Scenarios run concurrently, each in its own set of the model's namespaces
 * (x, y, z with their own pods); every namespace carries its set's number under this label, and every
 * namespace selector of a scenario is narrowed to its own set (localizePolicies), so a `namespaceSelector`
 * of one scenario never matches another's namespaces.
 */
export const POLICY_SET_LABEL = 'calico-conformance/policy-set';

/** The live-name prefix of namespace set `set`: set 0 keeps the suite's prefix (`ccpolicy-x`), set 2 is `ccpolicy-2-x`. */
export function policySetPrefix(prefix: string, set: number): string {
  if (!Number.isInteger(set) || set < 0) throw new Error(`namespace set ${set}: not a whole number ≥ 0`);
  return set === 0 ? prefix : `${prefix}${set}-`;
}

/** The name of the model pod's container serving `port`. */
export function policyContainerName(port: number): string {
  return `cont-${port}`;
}

/**
 * The container every probe execs into. A model pod has one container per port, and the API server refuses
 * an exec that names no container on a pod with several (HTTP 400 "a container name must be specified for
 * pod a, choose one of: [cont-80 cont-81]", kubernetes pkg/registry/core/pod/strategy.go); the containers
 * share the pod's network namespace, so any of them probes for the pod.
 */
export const POLICY_PROBE_CONTAINER = policyContainerName(MODEL_PORTS[0]?.port ?? 80);

export interface LiveModelOptions {
  /** prefix of the live namespaces (SuiteContext.namespacePrefix) */
  namespacePrefix: string;
  image?: string;
  pullPolicy?: 'IfNotPresent' | 'Always' | 'Never';
  /** the namespace set these workloads form (POLICY_SET_LABEL; default 0) */
  set?: number;
}

export type KubeObject = { apiVersion: string; kind: string; metadata: Record<string, unknown> } & Record<
  string,
  unknown
>;

/** The live name of model namespace `ns`, validated as a DNS label. */
export function liveNamespace(prefix: string, ns: string): string {
  const name = `${prefix}${ns}`;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 63)
    throw new UsageError(
      `namespacePrefix: ${JSON.stringify(prefix)} does not make a DNS label with "${ns}"`,
      'namespacePrefix',
    );
  return name;
}

/** Namespaces first, then the nine pods. */
export function policyWorkloads(opts: LiveModelOptions): KubeObject[] {
  const image = opts.image ?? AGNHOST_IMAGE;
  const pull = opts.pullPolicy ?? 'IfNotPresent';
  const ports = [...new Set(MODEL_PORTS.map((p) => p.port))];
  const out: KubeObject[] = MODEL_NAMESPACES.map((ns) => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: liveNamespace(opts.namespacePrefix, ns),
      labels: { ns, [POLICY_PURPOSE_LABEL]: 'policy', [POLICY_SET_LABEL]: String(opts.set ?? 0) },
    },
  }));
  for (const ns of MODEL_NAMESPACES)
    for (const pod of MODEL_PODS)
      out.push({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: pod, namespace: liveNamespace(opts.namespacePrefix, ns), labels: { pod } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: ports.map((port) => ({
            name: policyContainerName(port),
            image,
            imagePullPolicy: pull,
            args: ['netexec', `--http-port=${port}`, `--udp-port=${port}`],
            ports: (['TCP', 'UDP'] as Protocol[]).map((protocol) => ({
              name: portName(port, protocol),
              containerPort: port,
              protocol,
            })),
            readinessProbe: { httpGet: { path: '/healthz', port }, periodSeconds: 2 },
          })),
        },
      });
  return out;
}

/** The kube client calls removePolicyNamespaces needs (tests pass the real client against a fake API). */
export type NamespaceRemover = Pick<KubeClient, 'delete' | 'waitGone'>;

/** How long the policy suite waits for its namespaces to be gone (pods, their veths, their IPs released). */
export const POLICY_NAMESPACES_GONE_MS = 3 * 60_000;

/**
 * Deletes the live model's namespaces and waits until they are gone. The pods must be gone before the
 * uninstall removes the CNI: once Calico's RBAC and plugin are removed, a pod still terminating cannot be
 * torn down, stays Terminating and leaves its cali veth, which the audit would blame on Calico. The wait
 * times out naming what is left and its finalizers.
 */
export async function removePolicyNamespaces(
  kube: NamespaceRemover,
  namespaces: readonly string[],
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<void> {
  const refs = namespaces.map((name) => ({ apiVersion: 'v1', kind: 'Namespace', name }));
  await kube.delete(refs);
  await kube.waitGone(refs, {
    timeoutMs: opts.timeoutMs ?? POLICY_NAMESPACES_GONE_MS,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
}

/**
 * The oracle's model of the live pods; `podIp` gives the IP of "x/a" (model names). `set`: the namespace
 * set, whose label the model's namespaces carry as the live ones do.
 */
export function liveModel(
  prefix: string,
  podIp: (modelKey: string) => string | undefined,
  set?: number,
): PolicyModel {
  return standardModel({
    ...(set !== undefined ? { namespaceLabels: { [POLICY_SET_LABEL]: String(set) } } : {}),
    namespaceName: (ns) => liveNamespace(prefix, ns),
    podIp: (ns, pod) => {
      const ip = podIp(`${ns}/${pod}`);
      if (!ip) throw new Error(`pod ${liveNamespace(prefix, ns)}/${pod} has no IP yet`);
      return ip;
    },
  });
}

/** The live namespaces of the namespace sets with these prefixes (policySetPrefix), set by set. */
export function namespaceSetNames(prefixes: readonly string[]): string[] {
  return prefixes.flatMap((prefix) => MODEL_NAMESPACES.map((ns) => liveNamespace(prefix, ns)));
}

/** The kube client calls makeNamespaceSets needs. */
export type NamespaceSetKube = Pick<KubeClient, 'applyServerSide' | 'waitPodsReady' | 'list'>;

/**
 * Creates namespace set i (prefixes[i]) with its nine pods for every prefix, waits until every pod is
 * ready (each namespace up to `timeoutMs`, default 5 min) and returns each set's model from its pods' real
 * IPs: what the policy suite and bench:probe-floor start from.
 */
export async function makeNamespaceSets(
  kube: NamespaceSetKube,
  prefixes: readonly string[],
  opts: { image?: string; timeoutMs?: number } = {},
): Promise<PolicyModel[]> {
  const workloads = prefixes.flatMap((namespacePrefix, set) =>
    policyWorkloads({ namespacePrefix, set, ...(opts.image ? { image: opts.image } : {}) }),
  );
  await kube.applyServerSide(workloads as never[]);
  for (const ns of namespaceSetNames(prefixes))
    await kube.waitPodsReady(ns, 'pod', {
      minPods: MODEL_PODS.length,
      timeoutMs: opts.timeoutMs ?? 5 * 60_000,
    });
  const models: PolicyModel[] = [];
  for (const [set, prefix] of prefixes.entries()) {
    const ips = new Map<string, string>();
    for (const ns of MODEL_NAMESPACES)
      for (const p of await kube.list<{ metadata?: { name?: string }; status?: { podIP?: string } }>(
        'v1',
        'Pod',
        {
          namespace: liveNamespace(prefix, ns),
        },
      ))
        if (p.metadata?.name && p.status?.podIP) ips.set(`${ns}/${p.metadata.name}`, p.status.podIP);
    models.push(liveModel(prefix, (k) => ips.get(k), set));
  }
  return models;
}

/** One model holding every set's namespaces and pods (what one prober probes across the sets). */
export function mergeModels(models: readonly PolicyModel[]): PolicyModel {
  const first = models[0];
  if (!first) throw new Error('mergeModels: no models');
  return {
    namespaces: models.flatMap((m) => m.namespaces),
    pods: models.flatMap((m) => m.pods),
    ports: first.ports,
  };
}

const NAME_LABEL = 'kubernetes.io/metadata.name';
const CALICO_NAME_LABELS = /projectcalico\.org\/(name|namespace)/;

function rewriteSelector(sel: unknown, rename: (ns: string) => string, set: number | undefined): void {
  if (!sel || typeof sel !== 'object') return;
  const s = sel as {
    matchLabels?: Record<string, string>;
    matchExpressions?: { key: string; values?: string[] }[];
  };
  if (s.matchLabels?.[NAME_LABEL] !== undefined)
    s.matchLabels[NAME_LABEL] = rename(s.matchLabels[NAME_LABEL]);
  for (const e of s.matchExpressions ?? [])
    if (e.key === NAME_LABEL && e.values) e.values = e.values.map(rename);
  // narrowed to the scenario's own namespace set: ANDed with whatever the selector already requires
  if (set !== undefined) s.matchLabels = { ...(s.matchLabels ?? {}), [POLICY_SET_LABEL]: String(set) };
}

/** A Calico namespace selector narrowed to one namespace set; "" (the policy's own namespace) stays as it is. */
function narrowCalicoSelector(sel: unknown, set: number): unknown {
  if (typeof sel !== 'string' || sel.trim() === '') return sel;
  return `(${sel}) && ${POLICY_SET_LABEL} == '${set}'`;
}

function narrowCalicoRules(spec: Record<string, unknown> | undefined, set: number): void {
  if (!spec) return;
  if ('namespaceSelector' in spec) spec.namespaceSelector = narrowCalicoSelector(spec.namespaceSelector, set);
  for (const dir of ['ingress', 'egress'] as const) {
    const rules = spec[dir];
    if (!Array.isArray(rules)) continue;
    for (const r of rules as Record<string, Record<string, unknown> | undefined>[])
      for (const side of ['source', 'destination'] as const) {
        const ent = r[side];
        if (ent && 'namespaceSelector' in ent)
          ent.namespaceSelector = narrowCalicoSelector(ent.namespaceSelector, set);
      }
  }
}

/**
 * Rewrites model namespace names (x, y, z) to live ones: `metadata.namespace` and Kubernetes selectors on
 * `kubernetes.io/metadata.name`. Calico selector strings are left alone; one that selects by namespace
 * name cannot be rewritten safely and is refused. With `set`, every namespace selector (Kubernetes peers;
 * Calico rule and global-policy namespace selectors) is narrowed to that namespace set (POLICY_SET_LABEL).
 */
export function localizePolicies(policies: object[], rename: (ns: string) => string, set?: number): object[] {
  return policies.map((p) => {
    const doc = structuredClone(p) as {
      apiVersion?: string;
      metadata?: { namespace?: string };
      spec?: Record<string, unknown>;
    };
    if (doc.metadata?.namespace) doc.metadata.namespace = rename(doc.metadata.namespace);
    if (doc.apiVersion === 'projectcalico.org/v3') {
      if (CALICO_NAME_LABELS.test(JSON.stringify(doc.spec ?? {})))
        throw new UsageError(
          'Calico selectors on projectcalico.org/name or projectcalico.org/namespace cannot be moved to prefixed live namespaces; select on the ns label instead',
          'policies',
        );
      if (set !== undefined) narrowCalicoRules(doc.spec, set);
      return doc;
    }
    const spec = doc.spec as { ingress?: { from?: unknown[] }[]; egress?: { to?: unknown[] }[] } | undefined;
    for (const r of spec?.ingress ?? [])
      for (const peer of r.from ?? [])
        rewriteSelector((peer as { namespaceSelector?: unknown }).namespaceSelector, rename, set);
    for (const r of spec?.egress ?? [])
      for (const peer of r.to ?? [])
        rewriteSelector((peer as { namespaceSelector?: unknown }).namespaceSelector, rename, set);
    return doc;
  });
}

/** A catalogue scenario as the runner's input on the live model (of namespace set `set`, when given). */
export function liveScenarioInput(
  s: PolicyScenario,
  prefix: string,
  model: PolicyModel,
  set?: number,
): ScenarioInput {
  const rename = (ns: string) => liveNamespace(prefix, ns);
  const modelIp = (key: string) => {
    const [ns, pod] = key.split('/') as [string, string];
    return model.pods.find((p) => p.namespace === rename(ns) && p.name === pod)?.ip;
  };
  return {
    name: s.name,
    tags: s.tags,
    model,
    policies: localizePolicies(resolvePlaceholders(s.policies, modelIp), rename, set),
  };
}

/** Whether a scenario matches the suite's selection (a regular expression over the name and the tags). */
export function scenarioSelected(s: PolicyScenario, select: string | undefined): boolean {
  if (!select) return true;
  let re: RegExp;
  try {
    re = new RegExp(select);
  } catch (err) {
    throw new UsageError(
      `policySelect: ${JSON.stringify(select)} is not a regular expression: ${(err as Error).message}`,
      'policySelect',
    );
  }
  return re.test(s.name) || s.tags.some((t) => re.test(t));
}
