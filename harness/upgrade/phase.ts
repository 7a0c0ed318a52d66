/**
 * The upgrade phase: with it, the run pipeline (harness/pipeline/cell.ts) is `upgrade --from A --to B`.
 *
 *   preflight → create cluster → baseline → install A → upgrade [traffic up, policy converged (3 matching
 *   rounds), probers start, pre-upgrade window, apply B, wait until every component runs B and is ready,
 *   settle window, probers stop, analysis] → verify, connectivity, policy on B → uninstall → audit (against
 *   the known-leftovers baseline) → complete uninstall → final audit (must be clean) → teardown
 *
 * Everything but the bracket is the pipeline's own phases, with its gates, time limits, results model,
 * teardown registry and SIGINT/SIGTERM handling; this module is the bracket.
 *
 * The steps per path follow Calico's upgrade and migration guides (docs.tigera.io/calico/latest/
 * operations/upgrading/kubernetes-upgrade, …/operator-migration):
 * - manifest: `kubectl apply --server-side --force-conflicts -f calico.yaml` of B: a rolling update of
 *   kube-system's calico-node and calico-kube-controllers.
 * - operator: apply B's operator-crds.yaml (v3.30+; ≤ v3.29 the CRDs are inside tigera-operator.yaml;
 *   docs/calico-facts.md, "Operator files"), then B's tigera-operator.yaml; the Installation stays and the
 *   new operator rolls calico-system to B.
 * - manifest-to-operator: a manifest install of A; then B's operator (CRDs, operator) and an Installation
 *   `default` with `spec: {}`: the operator detects the kube-system calico-node, fills the spec from it,
 *   moves Calico to calico-system node by node (it labels migrated nodes
 *   `projectcalico.org/operator-node-migration: migrated`, tigera/operator pkg/controller/migration) and
 *   removes the kube-system resources. The guide supports migrating only within one version
 *   ("Migration to Calico vX operator-managed installation is supported only from Calico vX
 *   manifest-based installation"); with A ≠ B the phase measures an unsupported combination and says so.
 *
 * Every wait inside has a timeout and names what it waited for and what it saw last; the phase's own limit
 * (upgradeLimits) is their sum plus a margin, and SIGINT/SIGTERM stops it at once (the pipeline then tears
 * the cluster down).
 */

import { getVersion } from '../config/catalogue.js';
import type { Cell } from '../config/cell.js';
import { formatDuration, WaitTimeoutError } from '../errors.js';
import type { ProbeKey } from '../model/connectivity.js';
import type { UpgradeResult } from '../model/results.js';
import type { StepContext, UpgradeStage, UpgradeStageOutput, UpgradeTarget } from '../pipeline/deps.js';
import type { PhaseLimits } from '../pipeline/phase.js';
import { pauseUnlessAborted } from '../time/clock.js';
import { pollUntil } from '../time/poll.js';
import { assessComponents, type TargetComponents, targetComponents } from './components.js';
import { ContinuousProber, type ProbeTimeline, sameKey } from './continuous.js';
import type { TrafficHandle, UpgradeAction, UpgradeDeps, WatchedPair } from './deps.js';
import {
  analyseUpgradeTimeline,
  resolveThresholds,
  type UpgradePath,
  type UpgradeThresholds,
  withViolation,
} from './timeline.js';
import { TRAFFIC_GONE_MS, TRAFFIC_READY_MS } from './traffic.js';

export interface UpgradeTimeouts {
  /** until every pair matches its expectation before the upgrade (policy programmed, pods up) */
  convergeMs: number;
  /** until every component runs B and is ready */
  targetMs: number;
  /** poll interval of the waits */
  pollMs: number;
  /** probing before the first upgrade step (the "before" of the picture) */
  preUpgradeMs: number;
  /** probing after every component runs B (catches late restarts) */
  settleMs: number;
}

export const DEFAULT_TIMEOUTS: UpgradeTimeouts = {
  convergeMs: 2 * 60_000,
  targetMs: 10 * 60_000,
  pollMs: 2_000,
  preUpgradeMs: 5_000,
  settleMs: 15_000,
};

/**
 * matching rounds in a row before the traffic counts as converged (a stability window, as
 * network-policy-api's conformance suite verifies once more)
 */
export const CONVERGED_ROUNDS = 3;

/** How long stop() waits for probe rounds still running (the continuous prober's drain). */
const DRAIN_MS = 10_000;
/** Per upgrade step: a server-side apply of B's file, CRDs Established included (applyAction's limit). */
export const APPLY_STEP_MS = 2 * 60_000;
/** Loading B's images into the nodes (--lab) and the reads between the waits. */
const MARGIN_MS = 5 * 60_000;

/** What the upgrade measures and how: the two cells, the path, the budgets and the waits. */
export interface UpgradeOptions {
  /** cell of A (install = manifest on the migration path) */
  from: Cell;
  /** cell of B (install = operator on the migration path) */
  to: Cell;
  path: UpgradePath;
  thresholds?: Partial<UpgradeThresholds>;
  /** ms between probe rounds of the continuous probers (default 250) */
  probeIntervalMs?: number;
  /** probe rounds allowed to overlap (default 4: a round with denied probes lasts about the probe timeout) */
  probeMaxInFlight?: number;
  timeouts?: Partial<UpgradeTimeouts>;
}

/** The steps that take the cluster from A to B on a path (pure; the deps carry them out in this order). */
export function upgradeActions(path: UpgradePath, to: Cell): UpgradeAction[] {
  const entry = getVersion(to.calicoVersion, '--to');
  const operator: UpgradeAction[] = [
    ...(entry.operatorCrdsSeparate ? [{ kind: 'apply-operator-crds' as const, cell: to }] : []),
    { kind: 'apply-operator', cell: to },
  ];
  switch (path) {
    case 'manifest':
      return [{ kind: 'apply-manifest', cell: to }];
    case 'operator':
      return operator;
    case 'manifest-to-operator':
      return [...operator, { kind: 'create-installation', cell: to, spec: {} }];
  }
}

export function describeAction(a: UpgradeAction): string {
  const v = a.cell.calicoVersion;
  switch (a.kind) {
    case 'apply-manifest':
      return `apply ${v}'s calico.yaml (server-side, force-conflicts)`;
    case 'apply-operator-crds':
      return `apply ${v}'s operator-crds.yaml (server-side, force-conflicts)`;
    case 'apply-operator':
      return `apply ${v}'s tigera-operator.yaml (server-side, force-conflicts); the Installation stays`;
    case 'create-installation':
      return 'create Installation "default" with spec {} (the operator detects the manifest install and migrates it)';
  }
}

/** Upgrade id for report rows: `<A>-to-<B's cell id>`, plus the path when it is the migration. */
export function upgradeCellId(from: Cell, to: Cell, path: UpgradePath): string {
  return `${from.calicoVersion}-to-${to.id}${path === 'manifest-to-operator' ? '-migration' : ''}`;
}

/** The cell the pipeline runs for an upgrade: B, under the upgrade's id (its results directory and report row). */
export function upgradeCell(opts: Pick<UpgradeOptions, 'from' | 'to' | 'path'>): Cell {
  return { ...opts.to, id: upgradeCellId(opts.from, opts.to, opts.path) };
}

/**
 * The upgrade phase's time limit: every wait inside it added up (the traffic workloads ready and gone,
 * convergence, the pre-upgrade window, each apply, every component on B, the settle window, the probers'
 * drain) plus a margin, so the phase's own limit fires only when something inside hangs unbounded.
 */
export function upgradeLimits(opts: UpgradeOptions): PhaseLimits {
  const t = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
  const steps = upgradeActions(opts.path, opts.to).length;
  return {
    timeoutMs:
      TRAFFIC_READY_MS +
      t.convergeMs +
      t.preUpgradeMs +
      steps * APPLY_STEP_MS +
      t.targetMs +
      t.settleMs +
      DRAIN_MS +
      TRAFFIC_GONE_MS +
      MARGIN_MS,
    waitingFor: `the upgrade ${opts.from.calicoVersion} → ${opts.to.calicoVersion} (${opts.path}) under continuous traffic, until every component runs ${opts.to.calicoVersion}`,
  };
}

/** Throws the abort reason once the phase is stopped (SIGINT/SIGTERM or its own limit). */
function stopIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason));
}

/** Probes until every pair matches its expectation in CONVERGED_ROUNDS rounds in a row. */
async function waitConverged(
  traffic: TrafficHandle,
  deps: UpgradeDeps,
  timeouts: UpgradeTimeouts,
  signal: AbortSignal,
): Promise<{ elapsedMs: number; rounds: number }> {
  let streak = 0;
  const keys: ProbeKey[] = traffic.pairs.map((p) => p.key);
  const out = await pollUntil(
    `every probe pair to match its expectation (${traffic.pairs.filter((p) => p.expect === 'allowed').length} allowed pairs connected, ${traffic.pairs.filter((p) => p.expect === 'denied').length} denied pairs not connected) in ${CONVERGED_ROUNDS} rounds in a row before the upgrade`,
    async () => {
      const records = await traffic.probeOnce(keys, signal);
      const wrong = traffic.pairs.filter((p) => {
        const r = records.find((x) => sameKey(x, p.key));
        if (!r) return true;
        return p.expect === 'allowed'
          ? r.verdict !== 'connected'
          : r.verdict === 'connected' || r.verdict === 'error';
      });
      streak = wrong.length === 0 ? streak + 1 : 0;
      const seen =
        wrong.length === 0
          ? `${streak}/${CONVERGED_ROUNDS} matching rounds`
          : `${wrong.length} pair(s) not as expected: ${wrong
              .slice(0, 4)
              .map((p) => {
                const r = records.find((x) => sameKey(x, p.key));
                return `${p.key.from} → ${p.key.to} ${p.key.protocol}/${p.key.port} expected ${p.expect}, saw ${r?.verdict ?? 'no record'}`;
              })
              .join('; ')}`;
      return { done: streak >= CONVERGED_ROUNDS, seen };
    },
    {
      clock: deps.clock,
      timeoutMs: timeouts.convergeMs,
      intervalMs: Math.min(timeouts.pollMs, 1000),
      signal,
    },
  );
  return { elapsedMs: out.elapsedMs, rounds: out.looks };
}

function describePairs(pairs: readonly WatchedPair[]): string {
  const allowed = pairs.filter((p) => p.expect === 'allowed').length;
  return `${pairs.length} pairs (${allowed} must stay allowed, ${pairs.length - allowed} must stay denied)`;
}

interface UpgradeMeasurement {
  result: UpgradeResult;
  reachedTarget: boolean;
}

async function measureUpgrade(
  step: StepContext,
  target: UpgradeTarget,
  opts: UpgradeOptions,
  deps: UpgradeDeps,
  timeouts: UpgradeTimeouts,
  thresholds: UpgradeThresholds,
  evidence: string[],
): Promise<UpgradeMeasurement> {
  const { clock } = deps;
  const { signal } = step;
  const goal: TargetComponents = targetComponents(opts.path, opts.to.calicoVersion);
  let traffic: TrafficHandle | undefined;
  let prober: ContinuousProber | undefined;
  let upgradeStartMs = 0;
  let allOnTargetMs: number | undefined;
  const flowViolations: string[] = [];
  try {
    traffic = await deps.startTraffic(step);
    evidence.push(`traffic: ${describePairs(traffic.pairs)}`);
    const converged = await waitConverged(traffic, deps, timeouts, signal);
    stopIfAborted(signal);
    evidence.push(
      `traffic converged in ${formatDuration(converged.elapsedMs)} (${CONVERGED_ROUNDS} matching rounds in a row)`,
    );
    const intervalMs = opts.probeIntervalMs ?? 250;
    prober = new ContinuousProber({
      pairs: traffic.pairs,
      probeOnce: traffic.probeOnce,
      clock,
      intervalMs,
      maxInFlight: opts.probeMaxInFlight ?? 4,
      drainTimeoutMs: DRAIN_MS,
      // bounded even if stop() were never reached: every phase of the measurement, plus a minute
      maxDurationMs: timeouts.preUpgradeMs + timeouts.targetMs + timeouts.settleMs + 60_000,
    });
    prober.start();
    evidence.push(`continuous probers started: one round every ${formatDuration(intervalMs)}`);
    await pauseUnlessAborted(clock, timeouts.preUpgradeMs, signal);
    stopIfAborted(signal);

    upgradeStartMs = prober.elapsed();
    target.applying();
    for (const action of upgradeActions(opts.path, opts.to)) {
      step.log(describeAction(action));
      await deps.applyUpgrade(step, action, target.rendered);
      evidence.push(`${formatDuration(prober.elapsed())}: ${describeAction(action)}`);
    }
    const waitingFor =
      `every Calico component (${goal.required.map((r) => `${r.namespace}/${r.name}`).join(', ')}` +
      `${goal.absent.length ? `; gone: ${goal.absent.map((r) => `${r.namespace}/${r.name}`).join(', ')}` : ''}) ` +
      `running ${goal.calicoTag} images (operator ${goal.operatorTag}) and ready`;
    try {
      const waited = await pollUntil(
        waitingFor,
        async () => {
          const a = assessComponents(await deps.readWorkloads(step, goal.namespaces), goal);
          step.log(a.onTarget ? `every component runs ${goal.calicoTag}` : (a.lagging[0] ?? ''));
          return {
            done: a.onTarget,
            seen: a.onTarget ? a.summary.join('; ') : a.lagging.join('; '),
            value: a,
          };
        },
        { clock, timeoutMs: timeouts.targetMs, intervalMs: timeouts.pollMs, signal },
      );
      allOnTargetMs = prober.elapsed();
      evidence.push(
        `${formatDuration(allOnTargetMs)}: every component runs ${goal.calicoTag} and is ready, ` +
          `${formatDuration(allOnTargetMs - upgradeStartMs)} after the upgrade began (polled every ${formatDuration(timeouts.pollMs)})`,
      );
      for (const line of waited.value?.summary ?? []) evidence.push(`  ${line}`);
      await pauseUnlessAborted(clock, timeouts.settleMs, signal);
      stopIfAborted(signal);
    } catch (err) {
      if (!(err instanceof WaitTimeoutError) || signal.aborted) throw err;
      flowViolations.push(`the upgrade did not complete: ${err.message}`);
      evidence.push(err.message);
    }
  } catch (err) {
    // stopped (SIGINT/SIGTERM, the phase limit): the pipeline has recorded why and deletes the cluster
    if (signal.aborted) {
      await prober?.stop();
      throw err;
    }
    flowViolations.push(`the upgrade could not be measured: ${(err as Error).message}`);
    evidence.push((err as Error).message);
  }

  let timeline: ProbeTimeline | undefined;
  if (prober) {
    timeline = await prober.stop();
    evidence.push(
      `continuous probers stopped at ${formatDuration(timeline.endMs)} (${timeline.stoppedBy}): ${timeline.rounds} rounds` +
        `${timeline.skippedTicks ? `, ${timeline.skippedTicks} ticks skipped (rounds slower than the interval)` : ''}` +
        `${timeline.abandonedRounds ? `, ${timeline.abandonedRounds} rounds abandoned` : ''}`,
    );
  }
  if (traffic) {
    try {
      await traffic.dispose();
      evidence.push(...(traffic.report?.() ?? []));
    } catch (err) {
      evidence.push(`removing the traffic workloads failed: ${(err as Error).message}`);
    }
  }
  const base = {
    from: opts.from.calicoVersion,
    to: opts.to.calicoVersion,
    path: opts.path,
    thresholds,
  };
  if (timeline) {
    let result = analyseUpgradeTimeline({
      ...base,
      series: timeline.series,
      upgradeStartMs,
      ...(allOnTargetMs !== undefined ? { allOnTargetMs } : {}),
      endMs: timeline.endMs,
    });
    for (const v of flowViolations) result = withViolation(result, v);
    return { result, reachedTarget: allOnTargetMs !== undefined };
  }
  // the probers never ran (traffic or convergence failed): nothing was measured, which is an error
  const empty = analyseUpgradeTimeline({ ...base, series: [], upgradeStartMs: 0 });
  const result = flowViolations.reduce((r, v) => withViolation(r, v, 'error'), empty);
  return { result, reachedTarget: false };
}

/** The upgrade phase of the pipeline for these options (the pipeline's CellRunOptions.upgrade). */
export function upgradeStage(opts: UpgradeOptions, deps: UpgradeDeps): UpgradeStage {
  const timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
  const thresholds = resolveThresholds(opts.thresholds);
  return {
    from: opts.from,
    limits: upgradeLimits(opts),
    async run(step, target): Promise<UpgradeStageOutput> {
      const evidence: string[] = [];
      if (opts.path === 'manifest-to-operator' && opts.from.calicoVersion !== opts.to.calicoVersion)
        evidence.push(
          `note: Calico documents the operator migration only within one version; ${opts.from.calicoVersion} → ${opts.to.calicoVersion} is measured as given`,
        );
      if (deps.prepareTarget) evidence.push(...(await deps.prepareTarget(step, target)));
      const m = await measureUpgrade(step, target, opts, deps, timeouts, thresholds, evidence);
      const u = m.result;
      for (const v of u.violations) evidence.push(`violation: ${v}`);
      for (const n of u.notes ?? []) evidence.push(`note: ${n}`);
      const why = u.violations.join('; ');
      const reason =
        u.outcome === 'passed'
          ? undefined
          : m.reachedTarget
            ? why || `the upgrade measurement is ${u.outcome}`
            : `the components did not all reach ${opts.to.calicoVersion}${why ? `: ${why}` : ''}`;
      return {
        outcome: u.outcome,
        ...(reason ? { reason } : {}),
        evidence,
        result: u,
        reachedTarget: m.reachedTarget,
      };
    },
  };
}
