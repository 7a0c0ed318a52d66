/**
 * `upgrade --from A --to B`: install A, start continuous traffic, take the cluster to B, measure what the
 * upgrade did to traffic and policy, then prove B conformant and leave nothing behind.
 *
 *   create-cluster → install A → upgrade [traffic up, policy converged (3 matching rounds), probers start,
 *   pre-upgrade window, apply B, wait until every component runs B and is ready, settle window, probers
 *   stop, analysis] → verify, connectivity, policy on B → uninstall → audit (against the known-leftovers
 *   baseline) → complete uninstall → final audit (must be clean) → teardown
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
 *   manifest-based installation"); with A ≠ B the flow measures an unsupported combination and says so.
 *
 * Every wait has a timeout and names what it waited for and what it saw last; later phases that would be
 * meaningless after a failure are recorded as not-run with the reason, but uninstall, both audits, the
 * complete uninstall and teardown always run once the cluster exists.
 */

import {
  type CellAudit,
  completePhase,
  judgeComplete,
  judgeUpstream,
  upstreamPhase,
} from '../audit/verdict.js';
import { getVersion } from '../calico/catalogue.js';
import type { Cell } from '../config/cell.js';
import { formatDuration, WaitTimeoutError } from '../errors.js';
import type { ProbeKey } from '../probe/types.js';
import type { CellResult, Outcome, PhaseName, PhaseResult, UpgradeResult } from '../report/model.js';
import { assessComponents, type TargetComponents, targetComponents } from './components.js';
import { ContinuousProber, type ProbeTimeline, sameKey } from './continuous.js';
import type {
  SuitePhase,
  TrafficHandle,
  UpgradeAction,
  UpgradeCluster,
  UpgradeDeps,
  WatchedPair,
} from './deps.js';
import {
  analyseUpgradeTimeline,
  resolveThresholds,
  type UpgradePath,
  type UpgradeThresholds,
  withViolation,
} from './timeline.js';
import { waitUntil } from './wait.js';

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

export interface UpgradeFlowOptions {
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
  keepCluster?: boolean;
  /** `--allow` items (validated by parseAllowList): allowed findings count in neither audit */
  auditAllow?: readonly string[];
  /** run the complete uninstall and the final audit (default true) */
  completeUninstall?: boolean;
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

class PhaseRecorder {
  readonly phases: PhaseResult[] = [];
  constructor(private readonly deps: UpgradeDeps) {}

  async run(name: PhaseName, fn: (evidence: string[]) => Promise<Outcome | undefined>): Promise<PhaseResult> {
    const { clock } = this.deps;
    const startedAt = clock.iso();
    const t = clock.now();
    const evidence: string[] = [];
    this.deps.log(`▶ ${name}`);
    let outcome: Outcome = 'passed';
    let reason: string | undefined;
    try {
      outcome = (await fn(evidence)) ?? 'passed';
    } catch (err) {
      outcome = err instanceof WaitTimeoutError ? 'failed' : 'error';
      reason = (err as Error).message;
    }
    const phase: PhaseResult = {
      name,
      outcome,
      startedAt,
      durationMs: clock.now() - t,
      ...(reason ? { reason } : {}),
      evidence,
      checks: [],
    };
    this.deps.log(
      `${outcome === 'passed' ? '✓' : '✗'} ${name} (${formatDuration(phase.durationMs)})${reason ? `: ${reason}` : ''}`,
    );
    this.phases.push(phase);
    return phase;
  }

  record(phase: PhaseResult): PhaseResult {
    this.phases.push(phase);
    this.deps.log(
      `${phase.outcome === 'passed' ? '✓' : '✗'} ${phase.name}${phase.reason ? `: ${phase.reason}` : ''}`,
    );
    return phase;
  }

  notRun(name: PhaseName, reason: string): void {
    this.phases.push({
      name,
      outcome: 'not-run',
      startedAt: this.deps.clock.iso(),
      durationMs: 0,
      reason,
      evidence: [],
      checks: [],
    });
  }
}

/** Probes until every pair matches its expectation in CONVERGED_ROUNDS rounds in a row. */
async function waitConverged(
  traffic: TrafficHandle,
  deps: UpgradeDeps,
  timeouts: UpgradeTimeouts,
): Promise<{ elapsedMs: number; rounds: number }> {
  let streak = 0;
  const keys: ProbeKey[] = traffic.pairs.map((p) => p.key);
  const out = await waitUntil({
    clock: deps.clock,
    waitingFor: `every probe pair to match its expectation (${traffic.pairs.filter((p) => p.expect === 'allowed').length} allowed pairs connected, ${traffic.pairs.filter((p) => p.expect === 'denied').length} denied pairs not connected) in ${CONVERGED_ROUNDS} rounds in a row before the upgrade`,
    timeoutMs: timeouts.convergeMs,
    intervalMs: Math.min(timeouts.pollMs, 1000),
    check: async () => {
      const records = await traffic.probeOnce(keys);
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
  });
  return { elapsedMs: out.elapsedMs, rounds: out.polls };
}

function describePairs(pairs: readonly WatchedPair[]): string {
  const allowed = pairs.filter((p) => p.expect === 'allowed').length;
  return `${pairs.length} pairs (${allowed} must stay allowed, ${pairs.length - allowed} must stay denied)`;
}

interface UpgradeMeasurement {
  result?: UpgradeResult;
  reachedTarget: boolean;
}

async function measureUpgrade(
  cluster: UpgradeCluster,
  opts: UpgradeFlowOptions,
  deps: UpgradeDeps,
  timeouts: UpgradeTimeouts,
  thresholds: UpgradeThresholds,
  evidence: string[],
): Promise<UpgradeMeasurement> {
  const { clock } = deps;
  const target: TargetComponents = targetComponents(opts.path, opts.to.calicoVersion);
  let traffic: TrafficHandle | undefined;
  let prober: ContinuousProber | undefined;
  let upgradeStartMs = 0;
  let allOnTargetMs: number | undefined;
  const flowViolations: string[] = [];
  try {
    traffic = await deps.startTraffic(cluster, opts.from);
    evidence.push(`traffic: ${describePairs(traffic.pairs)}`);
    const converged = await waitConverged(traffic, deps, timeouts);
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
      // bounded even if stop() were never reached: every phase of the measurement, plus a minute
      maxDurationMs: timeouts.preUpgradeMs + timeouts.targetMs + timeouts.settleMs + 60_000,
    });
    prober.start();
    evidence.push(`continuous probers started: one round every ${formatDuration(intervalMs)}`);
    await clock.sleep(timeouts.preUpgradeMs);

    upgradeStartMs = prober.elapsed();
    for (const action of upgradeActions(opts.path, opts.to)) {
      deps.log(`  ${describeAction(action)}`);
      await deps.applyUpgrade(cluster, action);
      evidence.push(`${formatDuration(prober.elapsed())}: ${describeAction(action)}`);
    }
    const waitingFor =
      `every Calico component (${target.required.map((r) => `${r.namespace}/${r.name}`).join(', ')}` +
      `${target.absent.length ? `; gone: ${target.absent.map((r) => `${r.namespace}/${r.name}`).join(', ')}` : ''}) ` +
      `running ${target.calicoTag} images (operator ${target.operatorTag}) and ready`;
    try {
      const waited = await waitUntil({
        clock,
        waitingFor,
        timeoutMs: timeouts.targetMs,
        intervalMs: timeouts.pollMs,
        check: async () => {
          const a = assessComponents(await deps.readWorkloads(cluster, target.namespaces), target);
          return {
            done: a.onTarget,
            seen: a.onTarget ? a.summary.join('; ') : a.lagging.join('; '),
            value: a,
          };
        },
      });
      allOnTargetMs = prober.elapsed();
      evidence.push(
        `${formatDuration(allOnTargetMs)}: every component runs ${target.calicoTag} and is ready, ` +
          `${formatDuration(allOnTargetMs - upgradeStartMs)} after the upgrade began (polled every ${formatDuration(timeouts.pollMs)})`,
      );
      for (const line of waited.value?.summary ?? []) evidence.push(`  ${line}`);
      await clock.sleep(timeouts.settleMs);
    } catch (err) {
      if (!(err instanceof WaitTimeoutError)) throw err;
      flowViolations.push(`the upgrade did not complete: ${err.message}`);
      evidence.push(err.message);
    }
  } catch (err) {
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

function cellOutcome(phases: readonly PhaseResult[], upgrade?: UpgradeResult): Outcome {
  const all = [...phases.map((p) => p.outcome), ...(upgrade ? [upgrade.outcome] : [])];
  if (all.includes('failed')) return 'failed';
  if (all.includes('error')) return 'error';
  return 'passed';
}

/** Runs the whole upgrade flow; never throws for a failed step (it is recorded), only for a bug. */
export async function runUpgradeFlow(opts: UpgradeFlowOptions, deps: UpgradeDeps): Promise<CellResult> {
  const timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
  const thresholds = resolveThresholds(opts.thresholds);
  const { clock } = deps;
  const startedAt = clock.iso();
  const t0 = clock.now();
  const rec = new PhaseRecorder(deps);
  const cell: Cell = { ...opts.to, id: upgradeCellId(opts.from, opts.to, opts.path) };
  let cluster: UpgradeCluster | undefined;
  let upgrade: UpgradeResult | undefined;
  const audit: CellAudit = {};

  const created = await rec.run('create-cluster', async (ev) => {
    cluster = await deps.createCluster(opts.from);
    ev.push(`cluster ${cluster.name}`);
    return 'passed';
  });
  if (created.outcome !== 'passed' || !cluster) {
    for (const p of [
      'install',
      'upgrade',
      'verify',
      'connectivity',
      'policy',
      'uninstall',
      'audit',
      'complete-uninstall',
      'final-audit',
    ] as const)
      rec.notRun(p, 'the cluster was not created');
  } else {
    const c = cluster;
    const installed = await rec.run('install', async (ev) => {
      await deps.install(c, opts.from);
      ev.push(
        `installed Calico ${opts.from.calicoVersion} (${opts.from.install}, ${opts.from.encapsulation})`,
      );
      if (opts.path === 'manifest-to-operator' && opts.from.calicoVersion !== opts.to.calicoVersion) {
        ev.push(
          `note: Calico documents the operator migration only within one version; ${opts.from.calicoVersion} → ${opts.to.calicoVersion} is measured as given`,
        );
      }
      return 'passed';
    });
    let onB = false;
    if (installed.outcome === 'passed') {
      await rec.run('upgrade', async (ev) => {
        const m = await measureUpgrade(c, opts, deps, timeouts, thresholds, ev);
        upgrade = m.result;
        onB = m.reachedTarget;
        for (const v of upgrade?.violations ?? []) ev.push(`violation: ${v}`);
        for (const n of upgrade?.notes ?? []) ev.push(`note: ${n}`);
        return upgrade?.outcome ?? 'error';
      });
    } else {
      rec.notRun('upgrade', `Calico ${opts.from.calicoVersion} was not installed`);
    }
    const suites: SuitePhase[] = ['verify', 'connectivity', 'policy'];
    for (const phase of suites) {
      if (!onB) {
        rec.notRun(
          phase,
          installed.outcome !== 'passed'
            ? `Calico ${opts.from.calicoVersion} was not installed`
            : `the components did not all reach ${opts.to.calicoVersion}`,
        );
        continue;
      }
      try {
        rec.record(await deps.runSuite(c, phase, opts.to));
      } catch (err) {
        rec.record(errorPhase(phase, clock.iso(), err));
      }
    }
    try {
      rec.record(await deps.uninstall(c, opts.to));
    } catch (err) {
      rec.record(errorPhase('uninstall', clock.iso(), err));
    }
    await auditStages(c, opts, deps, rec, audit);
  }
  if (cluster) {
    const c = cluster;
    if (opts.keepCluster) {
      rec.notRun('teardown', `--keep-cluster: cluster ${c.name} kept`);
    } else {
      await rec.run('teardown', async (ev) => {
        await deps.deleteCluster(c);
        ev.push(`deleted cluster ${c.name}`);
        return 'passed';
      });
    }
  }
  return {
    cell,
    outcome: cellOutcome(rec.phases, upgrade),
    ...(cluster ? { clusterName: (cluster as UpgradeCluster).name } : {}),
    startedAt,
    durationMs: clock.now() - t0,
    phases: rec.phases,
    grids: [],
    probes: [],
    policy: [],
    ...(audit.afterUpstreamUninstall || audit.afterCompleteUninstall ? { audit } : {}),
    ...(upgrade ? { upgrade } : {}),
  };
}

/**
 * The two-stage audit on B, as `run` does it: what the upstream uninstall left, judged against the
 * known-leftovers baseline; the complete uninstall; the final audit, which must be clean.
 */
async function auditStages(
  c: UpgradeCluster,
  opts: UpgradeFlowOptions,
  deps: UpgradeDeps,
  rec: PhaseRecorder,
  audit: CellAudit,
): Promise<void> {
  const { clock } = deps;
  const allow = opts.auditAllow ? { allow: opts.auditAllow } : {};
  const summary = (
    name: PhaseName,
    startedAt: string,
    t: number,
    s: { passed: boolean; reason?: string; evidence: string[] },
  ) =>
    rec.record({
      name,
      outcome: s.passed ? 'passed' : 'failed',
      startedAt,
      durationMs: clock.now() - t,
      ...(s.passed ? {} : { reason: s.reason ?? 'the audit is not clean' }),
      evidence: s.evidence,
      checks: [],
    });
  let startedAt = clock.iso();
  let t = clock.now();
  try {
    const a = await deps.audit(c, opts.to, 'upstream');
    const v = judgeUpstream(a.report, opts.to, allow);
    audit.afterUpstreamUninstall = v;
    summary('audit', startedAt, t, upstreamPhase(v, a.where));
  } catch (err) {
    rec.record(errorPhase('audit', startedAt, err));
  }
  if (opts.completeUninstall === false) {
    rec.notRun('complete-uninstall', 'not requested (--no-complete-uninstall)');
    rec.notRun('final-audit', 'the complete uninstall did not run');
    return;
  }
  await rec.run('complete-uninstall', async (ev) => {
    ev.push(...(await deps.completeUninstall(c, opts.to)));
    return 'passed';
  });
  startedAt = clock.iso();
  t = clock.now();
  try {
    const a = await deps.audit(c, opts.to, 'complete');
    const v = judgeComplete(a.report, a.dumps, allow);
    audit.afterCompleteUninstall = v;
    summary('final-audit', startedAt, t, completePhase(v, a.where));
  } catch (err) {
    rec.record(errorPhase('final-audit', startedAt, err));
  }
}

function errorPhase(name: PhaseName, startedAt: string, err: unknown): PhaseResult {
  return {
    name,
    outcome: 'error',
    startedAt,
    durationMs: 0,
    reason: (err as Error).message,
    evidence: [],
    checks: [],
  };
}
