/**
 * What a waiter saw last, in words a person can act on: conditions, pod phases, container waiting reasons
 * with the image (an ImagePullBackOff names the image that could not be pulled — the failure a common
 * operator install hits when calico-system's images cannot be pulled from docker.io), recent events, and
 * finalizers that hold up a deletion. Pure functions over API objects; the client gathers the objects.
 */

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

interface ContainerStatus {
  name?: string;
  image?: string;
  ready?: boolean;
  restartCount?: number;
  state?: {
    waiting?: { reason?: string; message?: string };
    terminated?: { reason?: string; exitCode?: number; message?: string };
    running?: unknown;
  };
}

export interface PodLike {
  metadata?: { name?: string; namespace?: string; deletionTimestamp?: unknown };
  spec?: {
    nodeName?: string;
    containers?: { name?: string; image?: string }[];
    initContainers?: { name?: string; image?: string }[];
  };
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    conditions?: Condition[];
    containerStatuses?: ContainerStatus[];
    initContainerStatuses?: ContainerStatus[];
  };
}

export interface EventLike {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  involvedObject?: { kind?: string; name?: string; namespace?: string };
  lastTimestamp?: unknown;
  eventTime?: unknown;
  metadata?: { creationTimestamp?: unknown };
}

/** `Ready=False (KubeletNotReady: container runtime network not ready)` for each condition. */
export function formatConditions(conditions: readonly Condition[] | undefined): string {
  if (!conditions || conditions.length === 0) return 'no conditions';
  return conditions
    .map((c) => {
      const why = [c.reason, c.message].filter(Boolean).join(': ');
      return `${c.type}=${c.status}${why ? ` (${clip(why)})` : ''}`;
    })
    .join(', ');
}

export function conditionIs(
  conditions: readonly Condition[] | undefined,
  type: string,
  status = 'True',
): boolean {
  return Boolean(conditions?.some((c) => c.type === type && c.status === status));
}

export function podReady(pod: PodLike): boolean {
  return pod.status?.phase === 'Running' && conditionIs(pod.status?.conditions, 'Ready');
}

/** The image a container was started from: the status' image when known, else the spec's. */
function imageOf(pod: PodLike, name: string | undefined, status: ContainerStatus): string | undefined {
  const spec = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find(
    (c) => c.name === name,
  );
  return spec?.image ?? status.image;
}

/** One line per pod: phase, node, and every container that is not running with its reason and image. */
export function describePod(pod: PodLike): string {
  const name = `${pod.metadata?.namespace ? `${pod.metadata.namespace}/` : ''}${pod.metadata?.name ?? '?'}`;
  const parts: string[] = [`phase=${pod.status?.phase ?? 'Unknown'}`];
  if (pod.spec?.nodeName) parts.push(`node=${pod.spec.nodeName}`);
  if (pod.metadata?.deletionTimestamp) parts.push('terminating');
  if (pod.status?.reason) parts.push(`reason=${pod.status.reason}`);
  const unready = (pod.status?.conditions ?? []).filter((c) => c.status !== 'True');
  if (unready.length > 0 && pod.status?.phase !== 'Running') parts.push(formatConditions(unready));
  const containers: [string, ContainerStatus][] = [
    ...(pod.status?.initContainerStatuses ?? []).map((c): [string, ContainerStatus] => ['init container', c]),
    ...(pod.status?.containerStatuses ?? []).map((c): [string, ContainerStatus] => ['container', c]),
  ];
  for (const [what, c] of containers) {
    const waiting = c.state?.waiting;
    const terminated = c.state?.terminated;
    if (waiting?.reason) {
      const image = imageOf(pod, c.name, c);
      parts.push(
        `${what} ${c.name} waiting: ${waiting.reason}${image ? ` (image ${image})` : ''}${
          waiting.message ? `: ${clip(waiting.message)}` : ''
        }`,
      );
    } else if (terminated && what === 'container') {
      parts.push(
        `container ${c.name} terminated: ${terminated.reason ?? ''} exit ${terminated.exitCode ?? '?'}`,
      );
    } else if (what === 'container' && c.ready === false) {
      parts.push(`container ${c.name} not ready${c.restartCount ? ` (restarts ${c.restartCount})` : ''}`);
    }
  }
  return `${name}: ${parts.join('; ')}`;
}

/** Image-pull failures across pods: `image → reason` (the fix is usually --image-registry or a preload). */
export function imagePullFailures(pods: readonly PodLike[]): string[] {
  const out = new Set<string>();
  for (const pod of pods) {
    for (const c of [
      ...(pod.status?.initContainerStatuses ?? []),
      ...(pod.status?.containerStatuses ?? []),
    ]) {
      const reason = c.state?.waiting?.reason;
      if (reason === 'ImagePullBackOff' || reason === 'ErrImagePull' || reason === 'InvalidImageName') {
        out.add(`${imageOf(pod, c.name, c) ?? '?'}: ${reason}`);
      }
    }
  }
  return [...out];
}

function eventTime(e: EventLike): number {
  const t = e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp;
  const ms = t instanceof Date ? t.getTime() : typeof t === 'string' ? Date.parse(t) : Number.NaN;
  return Number.isNaN(ms) ? 0 : ms;
}

/** The newest events first, warnings before normal ones of the same time, at most `limit`. */
export function describeEvents(events: readonly EventLike[], limit = 8): string[] {
  return [...events]
    .sort((a, b) => eventTime(b) - eventTime(a) || (a.type === 'Warning' ? -1 : 1))
    .slice(0, limit)
    .map((e) => {
      const o = e.involvedObject;
      return `${e.type ?? 'Event'} ${e.reason ?? ''} ${o?.kind ?? ''}/${o?.name ?? ''}${
        e.count && e.count > 1 ? ` (x${e.count})` : ''
      }: ${clip(e.message ?? '')}`;
    });
}

/** `Installation default: deleting since …, finalizers [a, b]` — what holds a deletion up. */
export function describeDeletion(obj: {
  kind?: string;
  metadata?: { name?: string; namespace?: string; deletionTimestamp?: unknown; finalizers?: string[] };
  status?: { phase?: string; conditions?: Condition[] };
}): string {
  const m = obj.metadata ?? {};
  const name = `${obj.kind ?? ''} ${m.namespace ? `${m.namespace}/` : ''}${m.name ?? '?'}`.trim();
  const parts: string[] = [];
  if (m.deletionTimestamp) {
    const ts =
      m.deletionTimestamp instanceof Date ? m.deletionTimestamp.toISOString() : String(m.deletionTimestamp);
    parts.push(`deleting since ${ts}`);
  } else parts.push('not being deleted');
  if (m.finalizers && m.finalizers.length > 0)
    parts.push(`finalizers blocking: [${m.finalizers.join(', ')}]`);
  if (obj.status?.phase) parts.push(`phase=${obj.status.phase}`);
  const falseish = (obj.status?.conditions ?? []).filter(
    (c) => c.status === 'True' && /Deletion|Failure|Remaining/.test(c.type ?? ''),
  );
  if (falseish.length > 0) parts.push(formatConditions(falseish));
  return `${name}: ${parts.join('; ')}`;
}

function clip(s: string, max = 240): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}
