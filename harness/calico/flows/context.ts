/**
 * What the install and uninstall flows share: the cell, the Kubernetes client, the rendered cell, the version's
 * catalogue entry, the waits' time limits, and a status callback that gets one start and one end per step
 * (as kind prints "✓ Installing CNI 🔌": kubernetes-sigs/kind pkg/cluster/internal/create/actions).
 */

import type { CalicoVersion } from '../../config/catalogue.js';
import type { Cell } from '../../config/cell.js';
import type { KubeClient } from '../../kube/client.js';
import type { RenderedCell } from '../render.js';

export interface FlowTimeouts {
  /** CRDs Established after applying them */
  crdsMs: number;
  /** the tigera-operator Deployment Available */
  operatorMs: number;
  /**
   * every TigeraStatus Available; Calico's own kind CI allows 1200s (projectcalico/calico
   * hack/test/kind/deploy_resources.sh, TIGERASTATUS_WAIT_TIMEOUT)
   */
  tigeraStatusMs: number;
  /** calico-node rolled out and calico-kube-controllers Available (Calico's k8st waits 300s per wait) */
  calicoNodeMs: number;
  nodesReadyMs: number;
  corednsMs: number;
  /**
   * the Installation gone after deleting the CRs; tigera-operator's helm pre-delete hook allows 5 minutes
   * (charts/tigera-operator/templates/tigera-operator/00-uninstall.yaml)
   */
  installationGoneMs: number;
  /** calico-system (and calico-apiserver ≤ v3.30) gone after the Installation: its pods must terminate first */
  namespacesGoneMs: number;
  /** any other deletion */
  deleteMs: number;
}

export const DEFAULT_FLOW_TIMEOUTS: FlowTimeouts = {
  crdsMs: 60_000,
  operatorMs: 5 * 60_000,
  tigeraStatusMs: 10 * 60_000,
  calicoNodeMs: 5 * 60_000,
  nodesReadyMs: 5 * 60_000,
  corednsMs: 5 * 60_000,
  installationGoneMs: 5 * 60_000,
  namespacesGoneMs: 5 * 60_000,
  deleteMs: 5 * 60_000,
};

export interface FlowEvent {
  flow: 'install' | 'uninstall' | 'deep-clean';
  step: string;
  state: 'start' | 'done' | 'failed';
  durationMs?: number;
  detail?: string;
}

export interface FlowContext {
  cell: Cell;
  kube: KubeClient;
  rendered: RenderedCell;
  version: CalicoVersion;
  status?: (event: FlowEvent) => void;
  timeouts?: Partial<FlowTimeouts>;
  /** poll interval of every wait (tests shorten it) */
  pollIntervalMs?: number;
  signal?: AbortSignal;
}

export function timeoutsOf(ctx: FlowContext): FlowTimeouts {
  return { ...DEFAULT_FLOW_TIMEOUTS, ...ctx.timeouts };
}

/** Runs one step between a start and an end event; the end says how long it took and why it failed. */
export async function step<T>(
  ctx: Pick<FlowContext, 'status' | 'signal'>,
  flow: FlowEvent['flow'],
  name: string,
  fn: () => Promise<T>,
): Promise<T> {
  ctx.signal?.throwIfAborted();
  ctx.status?.({ flow, step: name, state: 'start' });
  const started = performance.now();
  try {
    const out = await fn();
    ctx.status?.({ flow, step: name, state: 'done', durationMs: performance.now() - started });
    return out;
  } catch (err) {
    ctx.status?.({
      flow,
      step: name,
      state: 'failed',
      durationMs: performance.now() - started,
      detail: (err as Error).message,
    });
    throw err;
  }
}
