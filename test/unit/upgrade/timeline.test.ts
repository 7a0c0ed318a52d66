import { describe, expect, it } from 'vitest';
import type { ProbeKey, Verdict } from '../../../harness/model/connectivity.js';
import {
  analysePair,
  analyseUpgradeTimeline,
  badRuns,
  DEFAULT_THRESHOLDS,
  type PairSeries,
  pairLabel,
  resolveThresholds,
  withViolation,
} from '../../../harness/upgrade/timeline.js';

const A2B: ProbeKey = { from: 'x/a', to: 'y/b', port: 80, protocol: 'TCP' };
const A2C: ProbeKey = { from: 'x/a', to: 'z/c', port: 80, protocol: 'TCP' };

/** A series from a compact picture: one character per probe every `step` ms: . connected, X timeout, E error. */
function series(
  key: ProbeKey,
  expect: 'allowed' | 'denied',
  pattern: string,
  step = 250,
  t0 = 0,
): PairSeries {
  const verdict: Record<string, Verdict> = { '.': 'connected', X: 'timeout', R: 'refused', E: 'error' };
  return {
    key,
    expect,
    samples: [...pattern].map((ch, i) => ({
      t: t0 + i * step,
      verdict: verdict[ch]!,
      ...(ch === 'E' ? { detail: 'kubectl exec: error dialing backend' } : {}),
    })),
  };
}

const T = DEFAULT_THRESHOLDS;

describe('badRuns', () => {
  it('spans each run from the last good probe before to the first good probe after', () => {
    const s = [0, 100, 200, 300, 400, 500].map((t) => ({ t }));
    const bad = [false, true, true, false, true, false];
    expect(badRuns(s, (i) => bad[i]!)).toEqual([
      { startMs: 0, endMs: 300, probes: 2, openStart: false, openEnd: false },
      { startMs: 300, endMs: 500, probes: 1, openStart: false, openEnd: false },
    ]);
  });

  it('clips runs at the start and the end of the timeline to their own probes and marks them open', () => {
    const s = [0, 100, 200, 300].map((t) => ({ t }));
    const bad = [true, false, true, true];
    expect(badRuns(s, (i) => bad[i]!)).toEqual([
      { startMs: 0, endMs: 100, probes: 1, openStart: true, openEnd: false },
      { startMs: 100, endMs: 300, probes: 2, openStart: false, openEnd: true },
    ]);
  });
});

describe('analysePair: allowed pairs (outages)', () => {
  it('a clean series has no outage and no violation', () => {
    const a = analysePair(series(A2B, 'allowed', '..........'), T);
    expect(a.stats).toMatchObject({
      probes: 10,
      failures: 0,
      longestOutageMs: 0,
      outageWindows: [],
      errors: 0,
    });
    expect(a.violations).toEqual([]);
    expect(a.unmeasured).toEqual([]);
  });

  it('measures the longest outage from the last success before to the first success after', () => {
    // successes at 0..750, failures 1000..2000 (5), success at 2250; a second one-probe outage later
    const a = analysePair(series(A2B, 'allowed', '....XXXXX..X..'), T);
    expect(a.stats.outageWindows).toEqual([
      { startMs: 750, endMs: 2250 },
      { startMs: 2500, endMs: 3000 },
    ]);
    expect(a.stats.longestOutageMs).toBe(1500);
    expect(a.stats.failures).toBe(6);
    expect(a.violations).toEqual([]);
  });

  it('fails an outage over the budget, and not one exactly at it', () => {
    // 19 failures at 250 ms: window from 0 to 20*250 = 5000 ms: exactly the budget
    const at = analysePair(series(A2B, 'allowed', `.${'X'.repeat(19)}.`), T);
    expect(at.stats.longestOutageMs).toBe(5000);
    expect(at.violations).toEqual([]);
    const over = analysePair(series(A2B, 'allowed', `.${'X'.repeat(20)}.`), T);
    expect(over.stats.longestOutageMs).toBe(5250);
    expect(over.violations).toEqual([
      'x/a → y/b TCP/80: outage of 5.3s (from 0ms to 5.3s, 20 failed probes) is over the 5s budget',
    ]);
  });

  it('honours a configured budget', () => {
    const a = analysePair(series(A2B, 'allowed', '..XXX..'), resolveThresholds({ maxOutageMs: 500 }));
    expect(a.stats.longestOutageMs).toBe(1000);
    expect(a.violations[0]).toMatch(/outage of 1s .* over the 500ms budget/);
  });

  it('an outage that lasts to the end is "not recovered" whatever its length', () => {
    const a = analysePair(series(A2B, 'allowed', '......XX'), T);
    expect(a.stats.unrecovered).toBe(true);
    expect(a.stats.outageWindows).toEqual([{ startMs: 1250, endMs: 1750 }]);
    expect(a.violations).toEqual([
      'x/a → y/b TCP/80: not recovered: failing from 1.3s to the end of the timeline (2 failed probes)',
    ]);
  });

  it('an outage at the start is measured from the first probe and noted', () => {
    const a = analysePair(series(A2B, 'allowed', 'XXX.....'), T);
    expect(a.stats.outageWindows).toEqual([{ startMs: 0, endMs: 750 }]);
    expect(a.violations).toEqual([]);
    expect(a.notes[0]).toMatch(/already failing at the first probe/);
  });

  it('excludes errored probes from counts and windows, and reports them', () => {
    // E probes are neither success nor failure: the outage spans them
    const a = analysePair(series(A2B, 'allowed', '..XEX..E.'), T);
    expect(a.stats).toMatchObject({ probes: 7, failures: 2, errors: 2 });
    expect(a.stats.outageWindows).toEqual([{ startMs: 250, endMs: 1250 }]);
    expect(a.points.map((p) => p.t)).not.toContain(750);
    expect(a.notes).toEqual([
      'x/a → y/b TCP/80: 2 probes errored (infrastructure; excluded from the measurement): kubectl exec: error dialing backend',
    ]);
  });

  it('a pair with no usable probe is unmeasured (an infrastructure error), never a pass', () => {
    const none = analysePair({ key: A2B, expect: 'allowed', samples: [] }, T);
    expect(none.unmeasured[0]).toMatch(/no usable probe .* not a pass/);
    const allErrors = analysePair(series(A2B, 'allowed', 'EEEE'), T);
    expect(allErrors.unmeasured[0]).toMatch(/no usable probe \(4 recorded, 4 errored\)/);
  });

  it('a gap between usable probes longer than the budget is unmeasured: an outage could hide there', () => {
    const gap = analysePair(series(A2B, 'allowed', `..${'E'.repeat(24)}..`), T);
    expect(gap.stats.maxGapMs).toBe(6250);
    expect(gap.unmeasured).toEqual([
      'x/a → y/b TCP/80: no usable probe for 6.3s after 250ms (longer than the 5s budget): an outage there could not be seen',
    ]);
  });

  it('puts probes in time order first (rounds complete out of order)', () => {
    const s: PairSeries = {
      key: A2B,
      expect: 'allowed',
      samples: [
        { t: 0, verdict: 'connected' },
        { t: 750, verdict: 'connected' },
        { t: 500, verdict: 'timeout' },
        { t: 250, verdict: 'timeout' },
        { t: 1000, verdict: 'connected' },
      ],
    };
    const a = analysePair(s, T);
    expect(a.stats.outageWindows).toEqual([{ startMs: 0, endMs: 750 }]);
    expect(a.points).toEqual([
      { t: 0, ok: true },
      { t: 250, ok: false },
      { t: 500, ok: false },
      { t: 750, ok: true },
      { t: 1000, ok: true },
    ]);
  });
});

describe('analysePair: denied pairs (fail-open)', () => {
  it('any success on a denied pair is a fail-open window and fails by default', () => {
    const a = analysePair(series(A2C, 'denied', 'XXXX..XXX.X'), T);
    expect(a.stats.failOpenCount).toBe(3);
    expect(a.stats.failures).toBe(3);
    expect(a.stats.failOpenWindows).toEqual([
      { startMs: 750, endMs: 1500 },
      { startMs: 2000, endMs: 2500 },
    ]);
    expect(a.stats.outageWindows).toEqual([]);
    expect(a.stats.longestOutageMs).toBe(0);
    expect(a.violations).toEqual([
      'x/a → z/c TCP/80: fail-open: connected 3 times while a policy denies it (allowed: 0); windows 750ms–1.5s (2 connected), 2s–2.5s (1 connected)',
    ]);
  });

  it('refused and timeout both count as denied; a clean denied pair passes', () => {
    const a = analysePair(series(A2C, 'denied', 'XXRRXX'), T);
    expect(a.stats.failOpenCount).toBe(0);
    expect(a.violations).toEqual([]);
  });

  it('a configured fail-open allowance passes up to it and fails above', () => {
    const th = resolveThresholds({ maxFailOpen: 2 });
    expect(analysePair(series(A2C, 'denied', 'XX..XX'), th).violations).toEqual([]);
    expect(analysePair(series(A2C, 'denied', 'XX...X'), th).violations).toHaveLength(1);
  });
});

describe('analyseUpgradeTimeline', () => {
  const base = { from: 'v3.31.7', to: 'v3.32.1', path: 'operator' as const, upgradeStartMs: 1000 };

  it('passes a clean upgrade and carries what the picture needs', () => {
    const r = analyseUpgradeTimeline({
      ...base,
      allOnTargetMs: 2500,
      endMs: 3000,
      series: [series(A2B, 'allowed', '....X.......'), series(A2C, 'denied', 'XXXXXXXXXXXX')],
    });
    expect(r.outcome).toBe('passed');
    expect(r.violations).toEqual([]);
    expect(r.timeToTargetMs).toBe(1500);
    expect(r.allOnTargetMs).toBe(2500);
    expect(r.timelineEndMs).toBe(3000);
    expect(r.thresholds).toEqual({ maxOutageMs: 5000, maxFailOpen: 0 });
    expect(r.timeline.map((x) => x.pair)).toEqual(r.pairs.map((p) => p.label));
    expect(r.timeline[0]).toMatchObject({ pair: pairLabel(A2B), expect: 'allowed' });
    expect(r.timeline[0]!.points[4]).toEqual({ t: 1000, ok: false });
    expect(r.pairs[0]!.outageWindows).toEqual([{ startMs: 750, endMs: 1250 }]);
  });

  it('one fail-open probe makes the whole upgrade fail', () => {
    const r = analyseUpgradeTimeline({
      ...base,
      series: [series(A2B, 'allowed', '........'), series(A2C, 'denied', 'XXX.XXXX')],
    });
    expect(r.outcome).toBe('failed');
    expect(r.violations).toHaveLength(1);
    expect(r.violations[0]).toMatch(/^x\/a → z\/c TCP\/80: fail-open: connected 1 time /);
  });

  it('an unmeasured pair makes it an error, but a real violation wins', () => {
    const err = analyseUpgradeTimeline({
      ...base,
      series: [series(A2B, 'allowed', '....'), { key: A2C, expect: 'denied', samples: [] }],
    });
    expect(err.outcome).toBe('error');
    const failed = analyseUpgradeTimeline({
      ...base,
      series: [series(A2B, 'allowed', '..XX'), { key: A2C, expect: 'denied', samples: [] }],
    });
    expect(failed.outcome).toBe('failed');
    expect(failed.violations).toHaveLength(2);
  });

  it('no pairs at all is an error, not a pass', () => {
    const r = analyseUpgradeTimeline({ ...base, series: [] });
    expect(r.outcome).toBe('error');
    expect(r.violations).toEqual(['no pair was probed: the upgrade was not measured']);
  });

  it('withViolation fails the result and keeps what was measured', () => {
    const r = analyseUpgradeTimeline({ ...base, series: [series(A2B, 'allowed', '....')] });
    const v = withViolation(r, 'the upgrade did not complete');
    expect(v.outcome).toBe('failed');
    expect(v.pairs).toBe(r.pairs);
    expect(v.violations).toEqual(['the upgrade did not complete']);
  });

  it('rejects thresholds that make no sense', () => {
    expect(() => resolveThresholds({ maxOutageMs: -1 })).toThrow(/maxOutageMs/);
    expect(() => resolveThresholds({ maxFailOpen: 0.5 })).toThrow(/maxFailOpen/);
  });
});
