/**
 * The small interfaces the upgrade flow needs from the rest of the harness (cluster, installer, kube
 * reads, probe engine, suites, uninstall, audit). The flow only ever talks to these, so its order and its
 * waits are tested with doubles; `realUpgradeDeps()` (real.ts) binds them to the live modules.
 */
import type { NodeDump } from '../audit/dump.js';
import type { AuditReport } from '../audit/finding.js';
import type { Cell } from '../config/cell.js';
import type { ProbeKey, ProbeRecord } from '../probe/types.js';
import type { PhaseResult } from '../report/model.js';

/** Time, injectable so waits and the continuous prober run on a fake clock in tests. */
export interface Clock {
  /** milliseconds on a monotonic scale (only differences are used) */
  now(): number;
  /** resolves after ms, or early (without throwing) when the signal aborts */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** wall-clock ISO time for `startedAt` fields */
  iso(): string;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  iso: () => new Date().toISOString(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = setTimeout(done, Math.max(0, ms));
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    }),
};

/** What a pair of the continuous traffic must do for the whole upgrade. */
export type PairExpectation = 'allowed' | 'denied';

export interface WatchedPair {
  key: ProbeKey;
  expect: PairExpectation;
}

/**
 * One batched probe round (the probe engine's prober): probes every key once and returns one record per
 * key. It must bound each probe with its own timeout; the signal aborts a round when the probers stop.
 */
export type ProbeOnce = (keys: readonly ProbeKey[], signal?: AbortSignal) => Promise<ProbeRecord[]>;

/** The live workloads that carry the continuous traffic, and the policy that keeps the denied pairs denied. */
export interface TrafficHandle {
  pairs: WatchedPair[];
  probeOnce: ProbeOnce;
  /** removes the traffic workloads and their policy */
  dispose(): Promise<void>;
}

/** A cluster created for the upgrade (kind). */
export interface UpgradeCluster {
  name: string;
  kubeconfigPath?: string;
}

/**
 * One step of taking the cluster from A to B. The flow decides the steps per path; the deps carry them
 * out (render the files, apply server-side with force-conflicts as Calico's upgrade guide does).
 */
export type UpgradeAction =
  /** apply B's rendered calico.yaml over A's (manifest path: a rolling update of kube-system) */
  | { kind: 'apply-manifest'; cell: Cell }
  /** apply B's operator-crds.yaml (versions that ship it separately) */
  | { kind: 'apply-operator-crds'; cell: Cell }
  /** apply B's tigera-operator.yaml; the existing Installation stays and the new operator reconciles it */
  | { kind: 'apply-operator'; cell: Cell }
  /**
   * create the Installation `default` that triggers the operator's migration of a manifest install; the
   * operator fills the spec from what it detects (operator-migration docs: `spec: {}`)
   */
  | { kind: 'create-installation'; cell: Cell; spec: Record<string, unknown> };

/** A DaemonSet or Deployment as read from the API, with its pods (for "every component runs B"). */
export interface WorkloadSnapshot {
  namespace: string;
  kind: 'DaemonSet' | 'Deployment';
  name: string;
  generation: number;
  observedGeneration: number;
  /** DaemonSet desiredNumberScheduled / Deployment spec.replicas */
  desired: number;
  /** DaemonSet updatedNumberScheduled / Deployment status.updatedReplicas */
  updated: number;
  /** DaemonSet numberReady / Deployment status.readyReplicas */
  ready: number;
  /** images of the pod template (init containers included) */
  templateImages: string[];
  pods: PodSnapshot[];
}

export interface PodSnapshot {
  name: string;
  /** every container and init container image of the pod spec */
  images: string[];
  ready: boolean;
  /** the pod has a deletionTimestamp (it still runs until it is gone) */
  terminating: boolean;
}

export type SuitePhase = 'verify' | 'connectivity' | 'policy';

/** Which audit: after the upstream uninstall, or after the complete uninstall. */
export type AuditStage = 'upstream' | 'complete';

export interface StageAudit {
  report: AuditReport;
  dumps: NodeDump[];
  /** where the dumps were written (evidence) */
  where: string;
}

export interface UpgradeDeps {
  clock: Clock;
  /** one status line per step a person can follow */
  log(line: string): void;
  createCluster(cell: Cell): Promise<UpgradeCluster>;
  /** installs Calico A exactly as `run` would for the cell, and waits until it is ready */
  install(cluster: UpgradeCluster, cell: Cell): Promise<void>;
  /** deploys the probe workloads and the policy of the denied pairs; returns once they exist */
  startTraffic(cluster: UpgradeCluster, cell: Cell): Promise<TrafficHandle>;
  applyUpgrade(cluster: UpgradeCluster, action: UpgradeAction): Promise<void>;
  /** the DaemonSets and Deployments in these namespaces (all of them: the flow picks Calico's) */
  readWorkloads(cluster: UpgradeCluster, namespaces: readonly string[]): Promise<WorkloadSnapshot[]>;
  runSuite(cluster: UpgradeCluster, phase: SuitePhase, cell: Cell): Promise<PhaseResult>;
  uninstall(cluster: UpgradeCluster, cell: Cell): Promise<PhaseResult>;
  /**
   * node dumps of every node (written under the cell's directory for `stage`) and the API state, audited
   * (harness/audit); the flow judges the report: against the known-leftovers baseline after the upstream
   * uninstall, as must-be-clean after the complete uninstall
   */
  audit(cluster: UpgradeCluster, cell: Cell, stage: AuditStage): Promise<StageAudit>;
  /** the complete uninstall (harness/audit/complete-uninstall.ts): evidence lines; throws when incomplete */
  completeUninstall(cluster: UpgradeCluster, cell: Cell): Promise<string[]>;
  deleteCluster(cluster: UpgradeCluster): Promise<void>;
}
