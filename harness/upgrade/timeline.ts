/**
 * Pure analysis of the probe timeline recorded during an upgrade: for each pair that must stay allowed its
 * outage windows and longest outage; for each pair a policy must keep denied its fail-open windows (any
 * success is one). Produces the `UpgradeResult` every report format reads.
 *
 * Definitions (the README's "Upgrade measurements" section repeats them for users):
 * - A probe is *good* when it matches the pair's expectation: `connected` for an allowed pair, anything
 *   but `connected` (timeout, refused, unreachable, dns-failure) for a denied pair. Verdict `error` is an
 *   infrastructure failure (the exec or the prober failed, the network was not measured): those probes are
 *   excluded from every window and count, and reported.
 * - A *bad run* is a maximal sequence of consecutive bad probes in time order. Its window runs from the
 *   last good probe before it to the first good probe after it: the longest interval in which the pair was
 *   not seen working (an upper bound of the real outage, off by at most one probe interval at each end).
 *   A run at the start of the timeline starts at its first probe (nothing earlier is known); a run that
 *   lasts to the end of the timeline ends at its last probe and the pair is reported as *not recovered*.
 * - Outage of an allowed pair = a bad-run window; fail-open window of a denied pair = a bad-run window;
 *   `failOpenCount` = successes on the denied pair.
 * - Thresholds: a violation when an allowed pair's longest outage is over `maxOutageMs` (strictly
 *   greater), when an allowed pair has not recovered by the end, and when a denied pair's successes are
 *   over `maxFailOpen` (per pair; default 0, so one success fails).
 * - A pair with no usable probe, or with a gap between usable probes longer than `maxOutageMs` (errors or a
 *   stalled prober), was not measured well enough to pass: the outcome is `error` (unless a real
 *   violation already makes it `failed`). No probes is never a pass.
 * - Probes are put in time order first: rounds may complete out of order.
 */
import { formatDuration } from '../errors.js';
import type { ProbeKey, Verdict } from '../model/connectivity.js';
import {
  type Outcome,
  type UpgradePairStats,
  type UpgradeResult,
  upgradePairLabel,
} from '../model/results.js';
import type { PairExpectation } from './deps.js';

export interface TimelineSample {
  /** ms since the start of the timeline (when the probers started) */
  t: number;
  verdict: Verdict;
  detail?: string;
}

export interface PairSeries {
  key: ProbeKey;
  expect: PairExpectation;
  samples: TimelineSample[];
  /** the command that repeats one probe of this pair by hand (`kubectl exec … -- nc …`), when the prober gave one */
  command?: string;
}

export interface UpgradeThresholds {
  /** an allowed pair's longest outage may not be over this */
  maxOutageMs: number;
  /** a denied pair may not connect more often than this */
  maxFailOpen: number;
}

export const DEFAULT_THRESHOLDS: UpgradeThresholds = { maxOutageMs: 5000, maxFailOpen: 0 };

export type UpgradePath = UpgradeResult['path'];

export interface TimelineInput {
  from: string;
  to: string;
  path: UpgradePath;
  series: PairSeries[];
  /** ms since the start of the timeline when the first upgrade step was applied */
  upgradeStartMs: number;
  /** ms since the start of the timeline when every component was first seen running B and ready */
  allOnTargetMs?: number;
  /** when the probers stopped (defaults to the last probe) */
  endMs?: number;
  thresholds?: Partial<UpgradeThresholds>;
}

export interface Window {
  startMs: number;
  endMs: number;
  /** bad probes inside */
  probes: number;
  /** the run began with the first usable probe (its real start is unknown) */
  openStart: boolean;
  /** the run lasted to the last usable probe (the pair had not recovered) */
  openEnd: boolean;
}

export interface PairAnalysis {
  stats: UpgradePairStats;
  windows: Window[];
  violations: string[];
  /** infrastructure problems: the pair was not (fully) measured */
  unmeasured: string[];
  notes: string[];
  points: { t: number; ok: boolean }[];
}

/** The label a pair has in the report and in the timeline picture (timeline[i].pair === pairLabel(pairs[i])). */
export function pairLabel(key: ProbeKey): string {
  return upgradePairLabel(key);
}

export function resolveThresholds(t: Partial<UpgradeThresholds> = {}): UpgradeThresholds {
  const out = { ...DEFAULT_THRESHOLDS, ...t };
  if (!Number.isFinite(out.maxOutageMs) || out.maxOutageMs < 0)
    throw new RangeError(`maxOutageMs: ${out.maxOutageMs} is not allowed; allowed: a duration ≥ 0`);
  if (!Number.isInteger(out.maxFailOpen) || out.maxFailOpen < 0)
    throw new RangeError(`maxFailOpen: ${out.maxFailOpen} is not allowed; allowed: an integer ≥ 0`);
  return out;
}

/** Bad runs of a time-ordered series: `isBad` decides which probes belong to a run. */
export function badRuns(samples: readonly { t: number }[], isBad: (i: number) => boolean): Window[] {
  const windows: Window[] = [];
  let i = 0;
  while (i < samples.length) {
    if (!isBad(i)) {
      i++;
      continue;
    }
    let j = i;
    while (j + 1 < samples.length && isBad(j + 1)) j++;
    const openStart = i === 0;
    const openEnd = j === samples.length - 1;
    windows.push({
      startMs: openStart ? samples[i]!.t : samples[i - 1]!.t,
      endMs: openEnd ? samples[j]!.t : samples[j + 1]!.t,
      probes: j - i + 1,
      openStart,
      openEnd,
    });
    i = j + 1;
  }
  return windows;
}

function ms(n: number): string {
  return formatDuration(Math.max(0, n));
}

export function analysePair(series: PairSeries, thresholds: UpgradeThresholds): PairAnalysis {
  const label = pairLabel(series.key);
  // stable sort by time: rounds may finish out of order, and equal times keep their recorded order
  const indexed = series.samples.map((s, i) => ({ s, i }));
  const timeless = indexed.filter(({ s }) => !Number.isFinite(s.t));
  const ordered = indexed
    .filter(({ s }) => Number.isFinite(s.t))
    .sort((a, b) => a.s.t - b.s.t || a.i - b.i)
    .map(({ s }) => s);
  const errored = ordered.filter((s) => s.verdict === 'error');
  const usable = ordered.filter((s) => s.verdict !== 'error');
  const connected = (i: number) => usable[i]!.verdict === 'connected';
  const bad = series.expect === 'allowed' ? (i: number) => !connected(i) : connected;
  const windows = badRuns(usable, bad);
  const badCount = usable.filter((_, i) => bad(i)).length;

  let maxGapMs = 0;
  let gapAt = 0;
  for (let i = 1; i < usable.length; i++) {
    const gap = usable[i]!.t - usable[i - 1]!.t;
    if (gap > maxGapMs) {
      maxGapMs = gap;
      gapAt = usable[i - 1]!.t;
    }
  }

  const plain = windows.map((w) => ({ startMs: w.startMs, endMs: w.endMs }));
  const longest = windows.reduce((m, w) => Math.max(m, w.endMs - w.startMs), 0);
  const stats: UpgradePairStats = {
    from: series.key.from,
    to: series.key.to,
    port: series.key.port,
    protocol: series.key.protocol,
    expect: series.expect,
    label,
    probes: usable.length,
    failures: badCount,
    longestOutageMs: series.expect === 'allowed' ? longest : 0,
    failOpenCount: series.expect === 'denied' ? badCount : 0,
    failOpenWindows: series.expect === 'denied' ? plain : [],
    outageWindows: series.expect === 'allowed' ? plain : [],
    errors: errored.length + timeless.length,
    maxGapMs,
    unrecovered: series.expect === 'allowed' && windows.some((w) => w.openEnd),
    ...(series.command ? { command: series.command } : {}),
  };

  const violations: string[] = [];
  const unmeasured: string[] = [];
  const notes: string[] = [];
  if (usable.length === 0) {
    unmeasured.push(
      `${label}: no usable probe (${series.samples.length} recorded, ${stats.errors} errored): the pair was not measured; ` +
        'this is an infrastructure error, not a pass',
    );
  } else if (maxGapMs > thresholds.maxOutageMs) {
    unmeasured.push(
      `${label}: no usable probe for ${ms(maxGapMs)} after ${ms(gapAt)} (longer than the ${ms(thresholds.maxOutageMs)} budget): ` +
        `an ${series.expect === 'allowed' ? 'outage' : 'fail-open window'} there could not be seen`,
    );
  }
  if (stats.errors! > 0) {
    const first = [...errored, ...timeless.map(({ s }) => s)].find((s) => s.detail)?.detail;
    notes.push(
      `${label}: ${stats.errors} probe${stats.errors === 1 ? '' : 's'} errored (infrastructure; excluded from the measurement)` +
        (first ? `: ${first}` : ''),
    );
  }
  if (series.expect === 'allowed') {
    if (longest > thresholds.maxOutageMs) {
      const w = windows.find((x) => x.endMs - x.startMs === longest)!;
      violations.push(
        `${label}: outage of ${ms(longest)} (from ${ms(w.startMs)} to ${ms(w.endMs)}, ${w.probes} failed probe${w.probes === 1 ? '' : 's'}) ` +
          `is over the ${ms(thresholds.maxOutageMs)} budget`,
      );
    }
    const open = windows.find((w) => w.openEnd);
    if (open) {
      violations.push(
        `${label}: not recovered: failing from ${ms(open.startMs)} to the end of the timeline (${open.probes} failed probe${open.probes === 1 ? '' : 's'})`,
      );
    }
    const atStart = windows.find((w) => w.openStart && !w.openEnd);
    if (atStart) {
      notes.push(
        `${label}: already failing at the first probe; that outage is measured from ${ms(atStart.startMs)}, its real start is unknown`,
      );
    }
  } else if (stats.failOpenCount > thresholds.maxFailOpen) {
    const list = windows
      .slice(0, 5)
      .map((w) => `${ms(w.startMs)}–${ms(w.endMs)} (${w.probes} connected)`)
      .join(', ');
    violations.push(
      `${label}: fail-open: connected ${stats.failOpenCount} time${stats.failOpenCount === 1 ? '' : 's'} while a policy denies it ` +
        `(allowed: ${thresholds.maxFailOpen}); windows ${list}${windows.length > 5 ? ` and ${windows.length - 5} more` : ''}`,
    );
  }
  return {
    stats,
    windows,
    violations,
    unmeasured,
    notes,
    points: usable.map((s) => ({ t: s.t, ok: s.verdict === 'connected' })),
  };
}

/** The whole upgrade measurement: every pair, thresholds, violations and the picture's data. */
export function analyseUpgradeTimeline(input: TimelineInput): UpgradeResult {
  const thresholds = resolveThresholds(input.thresholds);
  const analyses = input.series.map((s) => analysePair(s, thresholds));
  const violations = analyses.flatMap((a) => a.violations);
  const unmeasured = analyses.flatMap((a) => a.unmeasured);
  if (input.series.length === 0) unmeasured.push('no pair was probed: the upgrade was not measured');
  const lastProbe = Math.max(
    input.upgradeStartMs,
    ...input.series.flatMap((s) => s.samples.map((x) => x.t).filter(Number.isFinite)),
  );
  const result: UpgradeResult = {
    from: input.from,
    to: input.to,
    path: input.path,
    upgradeStartMs: input.upgradeStartMs,
    ...(input.allOnTargetMs !== undefined
      ? {
          allOnTargetMs: input.allOnTargetMs,
          timeToTargetMs: input.allOnTargetMs - input.upgradeStartMs,
        }
      : {}),
    pairs: analyses.map((a) => a.stats),
    thresholds: { ...thresholds },
    outcome: 'passed',
    violations: [...violations, ...unmeasured],
    notes: analyses.flatMap((a) => a.notes),
    timelineEndMs: input.endMs ?? lastProbe,
    timeline: analyses.map((a) => ({ pair: a.stats.label!, expect: a.stats.expect, points: a.points })),
  };
  result.outcome = outcomeOf(violations.length, unmeasured.length);
  return result;
}

function outcomeOf(violations: number, unmeasured: number): Outcome {
  if (violations > 0) return 'failed';
  if (unmeasured > 0) return 'error';
  return 'passed';
}

/**
 * Adds a flow-level violation (components never reached B, a step failed) to a result: the upgrade
 * failed whatever the traffic showed.
 */
export function withViolation(
  result: UpgradeResult,
  violation: string,
  outcome: Outcome = 'failed',
): UpgradeResult {
  return {
    ...result,
    violations: [...result.violations, violation],
    outcome: result.outcome === 'failed' || outcome === 'failed' ? 'failed' : outcome,
  };
}
