/**
 * What the upgrade phase (phase.ts) needs beyond the run pipeline: the continuous traffic, the steps that
 * take the cluster to B, and reads of Calico's workloads. Everything else (the cluster, install, suites,
 * uninstall, audits, teardown) is the pipeline's own deps (harness/pipeline/deps.ts). The phase only ever
 * talks to these, so its order and its waits are tested with doubles; `realUpgradeDeps()` (real.ts) binds
 * them to the live modules.
 */
import type { Cell } from '../config/cell.js';
import type { ProbeKey, ProbeRecord } from '../model/connectivity.js';
import type { RenderedFiles, StepContext, UpgradeTarget } from '../pipeline/deps.js';
import type { Clock } from '../time/clock.js';

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
  /** how the rounds ran and what dispose found left of them, for the phase's evidence (read after dispose) */
  report?(): string[];
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

export interface UpgradeDeps {
  clock: Clock;
  /** deploys the probe workloads and the policy of the denied pairs; returns once they exist */
  startTraffic(step: StepContext): Promise<TrafficHandle>;
  /** before B is applied, what B needs in the nodes (its images, `--lab`); evidence lines */
  prepareTarget?(step: StepContext, target: UpgradeTarget): Promise<string[]>;
  /** carries out one step with B's rendered files */
  applyUpgrade(step: StepContext, action: UpgradeAction, rendered: RenderedFiles): Promise<void>;
  /** the DaemonSets and Deployments in these namespaces (all of them: the phase picks Calico's) */
  readWorkloads(step: StepContext, namespaces: readonly string[]): Promise<WorkloadSnapshot[]>;
}
