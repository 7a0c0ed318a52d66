/**
 * The Kubernetes layer: a small interface the install/uninstall flows and suites use, and its implementation on
 * @kubernetes/client-node 1.4.0 (ESM, object-parameter API; kubernetes-client/javascript at 1.4.0).
 *
 * Every waiter polls with a deadline and, when time runs out, throws WaitTimeoutError carrying what it last saw:
 * conditions, pod phases, container waiting reasons with the image, recent events, and finalizers.
 */
import { Writable } from 'node:stream';
import {
  ApiException,
  Exec,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
  type V1Status,
} from '@kubernetes/client-node';
import { ObjectSerializer } from '@kubernetes/client-node/dist/gen/models/ObjectSerializer.js';
import { sleep } from '../time/clock.js';
import { pollUntil } from '../time/poll.js';
import {
  conditionIs,
  describeDeletion,
  describeEvents,
  describePod,
  type EventLike,
  formatConditions,
  imagePullFailures,
  type PodLike,
  podReady,
} from './diagnostics.js';
import { describeRef, isCrd, type ObjectRef, refOf } from './yaml.js';

export const FIELD_MANAGER = 'calico-conformance';

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  signal?: AbortSignal;
}

export interface ApplyOptions extends WaitOptions {
  fieldManager?: string;
  force?: boolean;
  /** how long to wait for applied CRDs to be Established before applying the rest (default 60s) */
  crdTimeoutMs?: number;
  /**
   * how long one object's apply is retried on a transient answer (default 30s): a kind not yet in discovery just
   * after its CRD became Established (404), an admission webhook whose pod is not serving yet (500/503), or
   * throttling (429)
   */
  retryMs?: number;
}

export type Propagation = 'Foreground' | 'Background' | 'Orphan';

export interface DeleteOptions {
  propagation?: Propagation;
}

export interface DeleteResult {
  /** delete requests the API accepted */
  deleted: ObjectRef[];
  /** objects (or whole kinds) that were already absent */
  absent: ObjectRef[];
}

export interface ExecResult {
  /** the command's exit code from the exec status channel; -1 when the exec itself failed to start */
  exitCode: number;
  stdout: string;
  stderr: string;
  /**
   * the in-pod `timeout` or the client-side deadline ended it. In-pod: coreutils `timeout` exits 124;
   * busybox `timeout` (Alpine images such as agnhost) runs the command in its own process and signals it, so
   * the exit is the signal's, 143 (TERM) or 137 (KILL). Only with the in-pod timeout on.
   */
  timedOut: boolean;
  /** the status message when the exec failed for another reason than a non-zero exit */
  failure?: string;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface KubeClient {
  /** server-side apply (CRDs first, then wait Established; then Namespaces; then the rest in document order) */
  applyServerSide(docs: readonly KubernetesObject[], opts?: ApplyOptions): Promise<ObjectRef[]>;
  /** create, treating AlreadyExists (409) as done */
  create(docs: readonly KubernetesObject[]): Promise<ObjectRef[]>;
  delete(docs: readonly (KubernetesObject | ObjectRef)[], opts?: DeleteOptions): Promise<DeleteResult>;
  /** waits until every object is NotFound; on timeout lists what remains with its finalizers */
  waitGone(docs: readonly (KubernetesObject | ObjectRef)[], opts?: WaitOptions): Promise<void>;
  /** undefined when the object, or its kind, does not exist */
  get<T extends KubernetesObject = KubernetesObject>(ref: ObjectRef): Promise<T | undefined>;
  /** [] when the kind does not exist */
  list<T extends KubernetesObject = KubernetesObject>(
    apiVersion: string,
    kind: string,
    opts?: ListOptions,
  ): Promise<T[]>;
  waitCrdsEstablished(names: readonly string[], opts?: WaitOptions): Promise<void>;
  waitDaemonSetRolledOut(namespace: string, name: string, opts?: WaitOptions): Promise<void>;
  waitDeploymentAvailable(namespace: string, name: string, opts?: WaitOptions): Promise<void>;
  waitTigeraStatusAvailable(names: readonly string[], opts?: WaitOptions): Promise<void>;
  waitPodsReady(
    namespace: string,
    labelSelector: string,
    opts?: WaitOptions & { minPods?: number },
  ): Promise<void>;
  waitNodesReady(opts?: WaitOptions & { count?: number }): Promise<void>;
  exec(
    pod: { namespace: string; name: string; container?: string },
    argv: readonly string[],
    opts?: ExecOptions,
  ): Promise<ExecResult>;
}

export interface ExecOptions {
  timeoutMs?: number;
  /**
   * wrap the command in the pod's own `timeout` (default true). Turn it off only for images without a `timeout`
   * binary (distroless); the client-side deadline then only closes the stream and the process may live on.
   */
  inPodTimeout?: boolean;
}

/** A request the API server refused: names the object and the server's message. */
export class KubeRequestError extends Error {
  constructor(
    readonly doing: string,
    readonly object: ObjectRef | undefined,
    readonly code: number | undefined,
    readonly serverMessage: string,
  ) {
    super(
      `${doing}${object ? ` ${describeRef(object)}` : ''}: ${code ? `HTTP ${code} ` : ''}${serverMessage}`,
    );
    this.name = 'KubeRequestError';
  }
}

export const DEFAULT_WAIT_MS = 5 * 60_000;

/** The HTTP status of a client-node error, or 404 for a kind the server does not serve. */
export function statusOf(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  if (err instanceof Error && /Unrecognized API version and kind/.test(err.message)) return 404;
  return undefined;
}

export function serverMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const body = err.body as unknown;
    try {
      const parsed = typeof body === 'string' ? JSON.parse(body) : body;
      if (parsed && typeof parsed === 'object' && 'message' in parsed) return String(parsed.message);
    } catch {
      /* not JSON: fall through to the raw body */
    }
    return typeof body === 'string' && body ? body.slice(0, 500) : err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

const CRD_API = { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition' };

export class ClientNodeKube implements KubeClient {
  private readonly objects: KubernetesObjectApi;
  /** the file the configuration was loaded from (fromFile), for commands a person repeats by hand */
  kubeconfigPath?: string;

  constructor(
    private readonly kc: KubeConfig,
    private readonly defaults: { intervalMs?: number; timeoutMs?: number } = {},
  ) {
    this.objects = KubernetesObjectApi.makeApiClient(kc);
  }

  /** the configuration every request of this client uses (long-lived exec streams connect with it too) */
  get kubeConfig(): KubeConfig {
    return this.kc;
  }

  /** A client for the file's current context; `kubectl --kubeconfig FILE` addresses the same cluster. */
  static fromFile(kubeconfigPath: string): ClientNodeKube {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    const kube = new ClientNodeKube(kc);
    kube.kubeconfigPath = kubeconfigPath;
    return kube;
  }

  private waitOpts(opts: WaitOptions | undefined, fallbackMs = DEFAULT_WAIT_MS) {
    return {
      timeoutMs: opts?.timeoutMs ?? this.defaults.timeoutMs ?? fallbackMs,
      intervalMs: opts?.intervalMs ?? this.defaults.intervalMs ?? 2000,
      ...(opts?.signal ? { signal: opts.signal } : {}),
    };
  }

  async applyServerSide(docs: readonly KubernetesObject[], opts: ApplyOptions = {}): Promise<ObjectRef[]> {
    const crds = docs.filter(isCrd);
    const namespaces = docs.filter((d) => d.kind === 'Namespace');
    const rest = docs.filter((d) => !isCrd(d) && d.kind !== 'Namespace');
    const applied: ObjectRef[] = [];
    const retryMs = opts.retryMs ?? 30_000;
    const interval = opts.intervalMs ?? this.defaults.intervalMs ?? 1000;
    const apply = async (d: KubernetesObject) => {
      const deadline = Date.now() + retryMs;
      for (;;) {
        try {
          await this.objects.patch(
            typedForWrite(d),
            undefined,
            undefined,
            opts.fieldManager ?? FIELD_MANAGER,
            opts.force ?? true,
            PatchStrategy.ServerSideApply,
          );
          applied.push(refOf(d));
          return;
        } catch (err) {
          const code = statusOf(err);
          const transient = code === 404 || code === 429 || code === 500 || code === 503 || code === 504;
          if (!transient || Date.now() >= deadline)
            throw new KubeRequestError('server-side apply of', refOf(d), code, serverMessage(err));
          await sleep(interval, opts.signal);
        }
      }
    };
    for (const d of crds) await apply(d);
    if (crds.length > 0)
      await this.waitCrdsEstablished(
        crds.map((c) => c.metadata?.name ?? ''),
        { ...opts, timeoutMs: opts.crdTimeoutMs ?? 60_000 },
      );
    for (const d of namespaces) await apply(d);
    for (const d of rest) await apply(d);
    return applied;
  }

  async create(docs: readonly KubernetesObject[]): Promise<ObjectRef[]> {
    const out: ObjectRef[] = [];
    for (const d of docs) {
      try {
        await this.objects.create(typedForWrite(d), undefined, undefined, FIELD_MANAGER);
      } catch (err) {
        if (statusOf(err) !== 409)
          throw new KubeRequestError('creating', refOf(d), statusOf(err), serverMessage(err));
      }
      out.push(refOf(d));
    }
    return out;
  }

  async delete(
    docs: readonly (KubernetesObject | ObjectRef)[],
    opts: DeleteOptions = {},
  ): Promise<DeleteResult> {
    const result: DeleteResult = { deleted: [], absent: [] };
    for (const d of docs) {
      const ref = refOf(d);
      try {
        await this.objects.delete(
          headerOf(ref),
          undefined,
          undefined,
          undefined,
          undefined,
          opts.propagation ?? 'Background',
        );
        result.deleted.push(ref);
      } catch (err) {
        if (statusOf(err) === 404) result.absent.push(ref);
        else throw new KubeRequestError('deleting', ref, statusOf(err), serverMessage(err));
      }
    }
    return result;
  }

  async get<T extends KubernetesObject = KubernetesObject>(ref: ObjectRef): Promise<T | undefined> {
    try {
      return (await this.objects.read(headerOf(ref))) as T;
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw new KubeRequestError('reading', ref, statusOf(err), serverMessage(err));
    }
  }

  async list<T extends KubernetesObject = KubernetesObject>(
    apiVersion: string,
    kind: string,
    opts: ListOptions = {},
  ): Promise<T[]> {
    try {
      const r = await this.objects.list<T>(
        apiVersion,
        kind,
        opts.namespace,
        undefined,
        undefined,
        undefined,
        opts.fieldSelector,
        opts.labelSelector,
      );
      return r.items ?? [];
    } catch (err) {
      if (statusOf(err) === 404) return [];
      throw new KubeRequestError(`listing ${kind}`, undefined, statusOf(err), serverMessage(err));
    }
  }

  async waitGone(docs: readonly (KubernetesObject | ObjectRef)[], opts?: WaitOptions): Promise<void> {
    const refs = docs.map(refOf);
    if (refs.length === 0) return;
    let remaining: KubernetesObject[] = [];
    await pollUntil(
      `${refs.length === 1 ? describeRef(refs[0]!) : `${refs.length} objects`} to be deleted`,
      async () => {
        remaining = [];
        for (const r of refs) {
          const obj = await this.get(r);
          if (obj) remaining.push({ ...obj, kind: obj.kind ?? r.kind });
        }
        return {
          done: remaining.length === 0,
          seen:
            remaining.length === 0
              ? 'all gone'
              : `${remaining.length} still present: ${remaining.map((o) => describeDeletion(o as never)).join('; ')}`,
        };
      },
      {
        ...this.waitOpts(opts),
        diagnose: async () => {
          const namespaces = [
            ...new Set(remaining.map((o) => o.metadata?.namespace).filter((n): n is string => !!n)),
          ];
          const lines: string[] = [];
          for (const ns of namespaces.slice(0, 3)) lines.push(...(await this.eventLines(ns)));
          return lines.length ? `recent events:\n  ${lines.join('\n  ')}` : '';
        },
      },
    );
  }

  async waitCrdsEstablished(names: readonly string[], opts?: WaitOptions): Promise<void> {
    await pollUntil(
      `CRDs ${names.length > 3 ? `(${names.length})` : names.join(', ')} to be Established`,
      async () => {
        const pending: string[] = [];
        for (const name of names) {
          const crd = await this.get<KubernetesObject & { status?: { conditions?: never[] } }>({
            ...CRD_API,
            name,
          });
          if (!crd) pending.push(`${name}: not found`);
          else if (!conditionIs(crd.status?.conditions, 'Established'))
            pending.push(`${name}: ${formatConditions(crd.status?.conditions)}`);
        }
        return { done: pending.length === 0, seen: pending.length ? pending.join('; ') : 'all Established' };
      },
      this.waitOpts(opts, 60_000),
    );
  }

  async waitDaemonSetRolledOut(namespace: string, name: string, opts?: WaitOptions): Promise<void> {
    let selector: string | undefined;
    await pollUntil(
      `DaemonSet ${namespace}/${name} to roll out`,
      async () => {
        const ds = await this.get<DaemonSetLike>({
          apiVersion: 'apps/v1',
          kind: 'DaemonSet',
          namespace,
          name,
        });
        if (!ds) return { done: false, seen: 'the DaemonSet does not exist' };
        selector = selectorOf(ds.spec?.selector?.matchLabels);
        const s = ds.status ?? {};
        const desired = s.desiredNumberScheduled ?? 0;
        const current = (s.observedGeneration ?? 0) >= (ds.metadata?.generation ?? 0);
        const done =
          current &&
          desired > 0 &&
          (s.updatedNumberScheduled ?? 0) >= desired &&
          (s.numberAvailable ?? 0) >= desired &&
          (s.numberReady ?? 0) >= desired;
        return {
          done,
          seen: `desired=${desired} updated=${s.updatedNumberScheduled ?? 0} ready=${s.numberReady ?? 0} available=${
            s.numberAvailable ?? 0
          }${current ? '' : ' (status not yet observed for the latest generation)'}`,
        };
      },
      { ...this.waitOpts(opts), diagnose: () => this.podDiagnostics(namespace, selector) },
    );
  }

  async waitDeploymentAvailable(namespace: string, name: string, opts?: WaitOptions): Promise<void> {
    let selector: string | undefined;
    await pollUntil(
      `Deployment ${namespace}/${name} to be Available`,
      async () => {
        const d = await this.get<DeploymentLike>({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          namespace,
          name,
        });
        if (!d) return { done: false, seen: 'the Deployment does not exist' };
        selector = selectorOf(d.spec?.selector?.matchLabels);
        const s = d.status ?? {};
        const want = d.spec?.replicas ?? 1;
        const done =
          conditionIs(s.conditions, 'Available') &&
          (s.updatedReplicas ?? 0) >= want &&
          (s.availableReplicas ?? 0) >= want &&
          (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
        return {
          done,
          seen: `replicas=${want} updated=${s.updatedReplicas ?? 0} available=${s.availableReplicas ?? 0}; ${formatConditions(
            s.conditions,
          )}`,
        };
      },
      { ...this.waitOpts(opts), diagnose: () => this.podDiagnostics(namespace, selector) },
    );
  }

  async waitTigeraStatusAvailable(names: readonly string[], opts?: WaitOptions): Promise<void> {
    await pollUntil(
      `TigeraStatus ${names.join(', ')} to be Available`,
      async () => {
        const all = await this.list<KubernetesObject & { status?: { conditions?: never[] } }>(
          'operator.tigera.io/v1',
          'TigeraStatus',
        );
        const lines: string[] = [];
        let done = true;
        for (const n of names) {
          const ts = all.find((t) => t.metadata?.name === n);
          if (!ts) {
            done = false;
            lines.push(`${n}: not created yet`);
            continue;
          }
          const ok = conditionIs(ts.status?.conditions, 'Available');
          if (!ok) done = false;
          lines.push(`${n}: ${formatConditions(ts.status?.conditions)}`);
        }
        return { done, seen: lines.join('; ') };
      },
      {
        ...this.waitOpts(opts),
        diagnose: async () => {
          const parts: string[] = [];
          for (const ns of ['tigera-operator', 'calico-system', 'calico-apiserver'])
            parts.push(await this.podDiagnostics(ns, undefined));
          return parts.filter(Boolean).join('\n');
        },
      },
    );
  }

  async waitPodsReady(
    namespace: string,
    labelSelector: string,
    opts?: WaitOptions & { minPods?: number },
  ): Promise<void> {
    const min = opts?.minPods ?? 1;
    await pollUntil(
      `pods ${labelSelector} in ${namespace} to be Ready`,
      async () => {
        const pods = (
          await this.list<PodLike & KubernetesObject>('v1', 'Pod', { namespace, labelSelector })
        ).filter((p) => !p.metadata?.deletionTimestamp);
        const ready = pods.filter(podReady);
        return {
          done: pods.length >= min && ready.length === pods.length,
          seen:
            pods.length === 0
              ? 'no pods match yet'
              : `${ready.length}/${pods.length} Ready; ${pods
                  .filter((p) => !podReady(p))
                  .map(describePod)
                  .join('; ')}`,
        };
      },
      { ...this.waitOpts(opts), diagnose: () => this.podDiagnostics(namespace, labelSelector) },
    );
  }

  async waitNodesReady(opts?: WaitOptions & { count?: number }): Promise<void> {
    await pollUntil(
      `${opts?.count ?? 'all'} nodes to be Ready`,
      async () => {
        const nodes = await this.list<KubernetesObject & { status?: { conditions?: never[] } }>('v1', 'Node');
        const notReady = nodes.filter((n) => !conditionIs(n.status?.conditions, 'Ready'));
        const enough = nodes.length >= (opts?.count ?? 1);
        return {
          done: enough && notReady.length === 0,
          seen: `${nodes.length - notReady.length}/${nodes.length} Ready${
            notReady.length
              ? `; ${notReady
                  .map(
                    (n) =>
                      `${n.metadata?.name}: ${formatConditions((n.status?.conditions ?? []).filter((c: { type?: string }) => c.type === 'Ready' || c.type === 'NetworkUnavailable'))}`,
                  )
                  .join('; ')}`
              : ''
          }`,
        };
      },
      this.waitOpts(opts),
    );
  }

  async exec(
    pod: { namespace: string; name: string; container?: string },
    argv: readonly string[],
    opts: ExecOptions = {},
  ): Promise<ExecResult> {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    // Closing the websocket does not stop the remote process (client-node issue #2532), so the pod enforces the
    // deadline itself with coreutils/busybox `timeout`; the client-side timer is only the backstop.
    const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
    const command = opts.inPodTimeout === false ? [...argv] : ['timeout', String(seconds), ...argv];
    let stdout = '';
    let stderr = '';
    const out = new Writable({
      write(c, _e, cb) {
        stdout += String(c);
        cb();
      },
    });
    const err = new Writable({
      write(c, _e, cb) {
        stderr += String(c);
        cb();
      },
    });
    return new Promise<ExecResult>((resolve) => {
      let settled = false;
      let socket: { close(): void; on?(ev: string, fn: () => void): void } | undefined;
      const finish = (r: ExecResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        try {
          socket?.close();
        } catch {
          /* already closed */
        }
        resolve(r);
      };
      const timer = setTimeout(
        () =>
          finish({
            exitCode: 124,
            stdout,
            stderr,
            timedOut: true,
            failure: `no exit status within ${timeoutMs + 5000}ms`,
          }),
        timeoutMs + 5000,
      );
      new Exec(this.kc)
        .exec(
          pod.namespace,
          pod.name,
          pod.container ?? '',
          command,
          out,
          err,
          null,
          false,
          (st: V1Status) => {
            const code = exitCodeFromStatus(st);
            finish({
              exitCode: code,
              stdout,
              stderr,
              timedOut: opts.inPodTimeout !== false && IN_POD_TIMEOUT_EXITS.includes(code),
              ...(code === -1 ? { failure: st.message ?? st.reason ?? 'exec failed' } : {}),
            });
          },
        )
        .then(
          (ws) => {
            socket = ws as never;
            // The status callback is not guaranteed (client issue #714): a close without status is a failure.
            (ws as unknown as { on(ev: string, fn: () => void): void }).on('close', () =>
              setTimeout(
                () =>
                  finish({
                    exitCode: -1,
                    stdout,
                    stderr,
                    timedOut: false,
                    failure: 'the exec stream closed without an exit status',
                  }),
                50,
              ),
            );
          },
          (e: unknown) => finish({ exitCode: -1, stdout, stderr, timedOut: false, failure: execRefusal(e) }),
        );
    });
  }

  private async eventLines(namespace: string, names?: Set<string>): Promise<string[]> {
    const events = await this.list<EventLike & KubernetesObject>('v1', 'Event', { namespace });
    return describeEvents(names ? events.filter((e) => names.has(e.involvedObject?.name ?? '')) : events);
  }

  /** Not-ready pods (phase, waiting reasons and images), image-pull failures, and the newest events about them. */
  private async podDiagnostics(namespace: string, labelSelector: string | undefined): Promise<string> {
    const pods = await this.list<PodLike & KubernetesObject>('v1', 'Pod', {
      namespace,
      ...(labelSelector ? { labelSelector } : {}),
    });
    const bad = pods.filter((p) => !podReady(p));
    const lines: string[] = [];
    if (bad.length)
      lines.push(`pods not ready in ${namespace}:`, ...bad.slice(0, 10).map((p) => `  ${describePod(p)}`));
    const pulls = imagePullFailures(bad);
    if (pulls.length)
      lines.push(
        `image pulls failing: ${pulls.join(', ')} (try --image-registry with a reachable mirror, or preload the images into the nodes)`,
      );
    const events = await this.eventLines(
      namespace,
      bad.length ? new Set(bad.map((p) => p.metadata?.name ?? '')) : undefined,
    );
    if (events.length) lines.push(`recent events in ${namespace}:`, ...events.map((e) => `  ${e}`));
    return lines.join('\n');
  }
}

/** How the in-pod `timeout` wrapper ends: coreutils 124, busybox by the signal it sent (128+15, 128+9). */
export const IN_POD_TIMEOUT_EXITS: readonly number[] = [124, 143, 137];

/**
 * Why an exec's websocket did not open. The client rejects with the websocket library's ErrorEvent (not an
 * Error), whose message for a refused handshake is "Unexpected server response: <code>"; the Status body the
 * API server sent with it is not readable there, so the code is named with what it means for an exec
 * (kubernetes pkg/registry/core/pod/strategy.go streamLocation: 400 for a missing or unknown container name
 * or a pod without a node, 404 for no such pod).
 */
export function execRefusal(err: unknown): string {
  const message =
    err instanceof Error
      ? err.message
      : err && typeof err === 'object' && typeof (err as { message?: unknown }).message === 'string'
        ? (err as { message: string }).message
        : String(err);
  const m = /Unexpected server response: (\d+)/.exec(message);
  if (!m) return message || 'the exec websocket could not be opened';
  const meaning: Record<string, string> = {
    '400':
      ': no container named on a pod with several, a container the pod does not have, or a pod without a node',
    '403': ': not allowed to create pods/exec',
    '404': ': no such pod',
  };
  return `the API server refused the exec with HTTP ${m[1]}${meaning[m[1] ?? ''] ?? ''} (${message})`;
}

/**
 * The exit code in an exec status frame: 0 on Success, `details.causes[reason=ExitCode]` otherwise
 * (client-node `Exec` status callback; the API server's remotecommand status).
 */
export function exitCodeFromStatus(st: V1Status): number {
  if (st.status === 'Success') return 0;
  const cause = st.details?.causes?.find((c) => c.reason === 'ExitCode');
  const n = cause ? Number(cause.message) : Number.NaN;
  return Number.isInteger(n) ? n : -1;
}

interface DaemonSetLike extends KubernetesObject {
  spec?: { selector?: { matchLabels?: Record<string, string> } };
  status?: {
    desiredNumberScheduled?: number;
    updatedNumberScheduled?: number;
    numberReady?: number;
    numberAvailable?: number;
    observedGeneration?: number;
  };
}

interface DeploymentLike extends KubernetesObject {
  spec?: { replicas?: number; selector?: { matchLabels?: Record<string, string> } };
  status?: {
    updatedReplicas?: number;
    availableReplicas?: number;
    observedGeneration?: number;
    conditions?: never[];
  };
}

function selectorOf(labels: Record<string, string> | undefined): string | undefined {
  if (!labels) return undefined;
  const s = Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return s || undefined;
}

function headerOf(ref: ObjectRef) {
  return {
    apiVersion: ref.apiVersion,
    kind: ref.kind,
    metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) },
  };
}

/**
 * The object client-node's KubernetesObjectApi expects for a write. Its create/patch/replace serialise the
 * body with the generated model of the kind (`V1NetworkPolicy` for networking.k8s.io/v1 NetworkPolicy),
 * which reads the model's property names, not the wire names: a NetworkPolicy rule's `from` is `_from`
 * there, a CRD schema's `x-kubernetes-int-or-string` is `xKubernetesIntOrString`. A plain object parsed
 * from YAML therefore lost them on the wire — found on the lab, where every policy with a `from` peer was
 * applied as "allow from everywhere". Deserialising first turns the wire object into the model the
 * serialiser reads (kinds without a model, such as Calico's, pass through unchanged).
 */
export function typedForWrite(obj: KubernetesObject): KubernetesObject {
  // already a model instance (parseManifest's loadYaml makes those): deserialising again would read the
  // wire names off the model and lose them the other way round
  if (Object.getPrototypeOf(obj) !== Object.prototype) return obj;
  if (!obj.apiVersion || !obj.kind) return obj;
  const version = obj.apiVersion.split('/').pop() ?? '';
  // the model's name as client-node derives it (util.js getSerializationType); an unknown one is returned as is
  const type = `${version.charAt(0).toUpperCase()}${version.slice(1)}${obj.kind}`;
  return ObjectSerializer.deserialize(obj, type, '') as KubernetesObject;
}
