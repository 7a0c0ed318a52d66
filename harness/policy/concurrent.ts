/**
 * Running policy scenarios K at a time. A NetworkPolicy only affects the pods of its own namespace, so
 * scenarios whose models live in disjoint namespace sets (live.ts: every set has its own x, y, z and pods,
 * its own set label, and every namespace selector narrowed to it) cannot disturb one another. K workers,
 * one per namespace set, take scenarios from one queue and probe through shared rounds (shared-rounds.ts);
 * what cannot be isolated — cluster-scoped Calico policy (scenarios.ts exclusiveReason) — runs afterwards,
 * alone, in one set.
 *
 * Each scenario keeps its own expected table, time-to-enforce and time-to-restore (runner.ts). A scenario
 * that cannot restore full reachability poisons its namespace set: that set takes no more scenarios and
 * the others carry on; once every set is poisoned, or a cluster-scoped scenario failed to restore, the rest
 * are recorded as not-run with the reason.
 */
import type { PolicyScenarioResult } from '../model/results.js';
import type { PolicyProber } from './runner.js';
import { type PolicyApplier, type RunnerOptions, runScenario, type ScenarioInput } from './runner.js';
import { SharedRounds } from './shared-rounds.js';

export interface ScheduledScenario {
  name: string;
  tags: string[];
  /** why it must run alone (cluster-scoped), or undefined when it can share the cluster */
  exclusive?: string;
  /** the runner's input for namespace set `set` */
  input(set: number): ScenarioInput;
}

export interface ScheduleOptions {
  /** namespace sets, i.e. scenarios at once (1: one after another) */
  sets: number;
  runner?: RunnerOptions;
  /** how long a shared round waits for scenarios still applying or deleting (default 150 ms) */
  gatherMs?: number;
  /** each result as soon as it is known */
  onResult?: (r: PolicyScenarioResult) => void;
  signal?: AbortSignal;
}

export interface ScheduleOutcome {
  results: Map<string, PolicyScenarioResult>;
  /** shared rounds started, probes they carried, the largest round */
  rounds: SharedRounds['stats'];
  wallMs: number;
}

function notRun(s: ScheduledScenario, message: string): PolicyScenarioResult {
  return { name: s.name, tags: s.tags, outcome: 'not-run', rounds: 0, grids: [], message };
}

export async function runScheduled(
  scenarios: readonly ScheduledScenario[],
  deps: { prober: PolicyProber; applier: PolicyApplier },
  opts: ScheduleOptions,
): Promise<ScheduleOutcome> {
  if (!Number.isInteger(opts.sets) || opts.sets < 1)
    throw new Error(`sets: ${opts.sets} is not a whole number of namespace sets ≥ 1`);
  const t0 = performance.now();
  const rounds = new SharedRounds(deps.prober, opts.gatherMs);
  const results = new Map<string, PolicyScenarioResult>();
  const done = (r: PolicyScenarioResult) => {
    results.set(r.name, r);
    opts.onResult?.(r);
  };
  const poisoned = new Map<number, string>();

  const runIn = async (s: ScheduledScenario, set: number): Promise<PolicyScenarioResult> => {
    const participant = rounds.join();
    try {
      const r = await runScenario(s.input(set), { prober: participant, applier: deps.applier }, opts.runner);
      r.namespaceSet = set;
      if (s.exclusive) r.ranAlone = s.exclusive;
      return r;
    } finally {
      participant.leave();
    }
  };

  // ---- the scenarios that can share the cluster: one worker per namespace set
  const queue = scenarios.filter((s) => !s.exclusive);
  await Promise.all(
    Array.from({ length: opts.sets }, async (_, set) => {
      for (let s = queue.shift(); s; s = queue.shift()) {
        opts.signal?.throwIfAborted();
        const r = await runIn(s, set);
        done(r);
        if (r.timeToRestoreMs === undefined) {
          poisoned.set(
            set,
            `scenario ${s.name} left namespace set ${set} without full reachability (${r.message ?? r.outcome})`,
          );
          return;
        }
      }
    }),
  );
  const allPoisoned = () =>
    `not run: every namespace set was left without full reachability; ${[...poisoned.values()].join('; ')}`;
  for (const s of queue.splice(0)) done(notRun(s, allPoisoned()));

  // ---- cluster-scoped ones, alone, in the first clean set
  let stopped: string | undefined;
  for (const s of scenarios.filter((x) => x.exclusive)) {
    opts.signal?.throwIfAborted();
    const set = [...Array(opts.sets).keys()].find((i) => !poisoned.has(i));
    if (stopped || set === undefined) {
      done(notRun(s, stopped ?? allPoisoned()));
      continue;
    }
    const r = await runIn(s, set);
    done(r);
    if (r.timeToRestoreMs === undefined)
      stopped = `not run: ${s.name} (cluster-scoped) left the cluster without full reachability (${r.message ?? r.outcome})`;
  }
  return { results, rounds: rounds.stats, wallMs: Math.round(performance.now() - t0) };
}
