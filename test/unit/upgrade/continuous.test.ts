import { describe, expect, it } from 'vitest';
import type { ProbeKey, ProbeRecord, Verdict } from '../../../harness/model/connectivity.js';
import { ContinuousProber } from '../../../harness/upgrade/continuous.js';
import type { ProbeOnce, WatchedPair } from '../../../harness/upgrade/deps.js';
import { FakeClock } from './fake-clock.js';

const ALLOWED: WatchedPair = {
  key: { from: 'x/a', to: 'y/b', port: 80, protocol: 'TCP' },
  expect: 'allowed',
};
const DENIED: WatchedPair = { key: { from: 'x/a', to: 'z/c', port: 80, protocol: 'TCP' }, expect: 'denied' };

function record(key: ProbeKey, verdict: Verdict): ProbeRecord {
  return { ...key, verdict, durationMs: 1 };
}

/** A prober double: verdicts by time (the fake clock's), taking `roundMs` of virtual time per round. */
function scripted(
  clock: FakeClock,
  verdictAt: (key: ProbeKey, t: number) => Verdict,
  roundMs = 20,
): ProbeOnce & { calls: number[] } {
  const calls: number[] = [];
  const fn = async (keys: readonly ProbeKey[], signal?: AbortSignal) => {
    const t = clock.now();
    calls.push(t);
    await clock.sleep(roundMs, signal);
    return keys.map((k) => record(k, verdictAt(k, t)));
  };
  return Object.assign(fn, { calls });
}

describe('ContinuousProber', () => {
  it('probes every pair several times a second and records (t, verdict) until stopped', async () => {
    const clock = new FakeClock();
    // the allowed pair fails between 1000 and 1500 ms
    const probe = scripted(clock, (k, t) =>
      k.to === 'y/b' ? (t >= 1000 && t < 1500 ? 'timeout' : 'connected') : 'timeout',
    );
    const p = new ContinuousProber({
      pairs: [ALLOWED, DENIED],
      probeOnce: probe,
      clock,
      intervalMs: 250,
      maxDurationMs: 60_000,
    });
    p.start();
    await clock.sleep(2_900);
    const tl = await p.stop();
    expect(tl.stoppedBy).toBe('stop');
    expect(tl.endMs).toBe(2_900);
    // rounds start at 0, 250, …, 2750: 12 rounds, i.e. four a second
    expect(probe.calls).toEqual(Array.from({ length: 12 }, (_, i) => i * 250));
    expect(tl.rounds).toBe(12);
    const allowed = tl.series[0]!;
    expect(allowed.key).toEqual(ALLOWED.key);
    expect(allowed.samples.map((s) => `${s.t}:${s.verdict}`)).toEqual(
      probe.calls.map((t) => `${t}:${t >= 1000 && t < 1500 ? 'timeout' : 'connected'}`),
    );
    expect(tl.series[1]!.samples.every((s) => s.verdict === 'timeout')).toBe(true);
  });

  it('ends by itself at the maximum duration (the loop is bounded)', async () => {
    const clock = new FakeClock();
    const probe = scripted(clock, () => 'connected');
    const p = new ContinuousProber({
      pairs: [ALLOWED],
      probeOnce: probe,
      clock,
      intervalMs: 100,
      maxDurationMs: 1_000,
    });
    p.start();
    await clock.sleep(5_000);
    expect(p.running).toBe(false);
    const tl = await p.stop();
    expect(tl.stoppedBy).toBe('max-duration');
    expect(tl.endMs).toBe(1_000);
    expect(Math.max(...probe.calls)).toBeLessThan(1_000);
    expect(tl.rounds).toBe(10);
  });

  it('records an error sample for every pair when a round throws, and for a pair without a record', async () => {
    const clock = new FakeClock();
    let n = 0;
    const probeOnce: ProbeOnce = async (keys) => {
      n++;
      if (n === 2) throw new Error('exec: pod x/a not found');
      // the engine forgets the denied pair in round 3
      return keys.filter((k) => n !== 3 || k.to !== 'z/c').map((k) => record(k, 'connected'));
    };
    const p = new ContinuousProber({
      pairs: [ALLOWED, DENIED],
      probeOnce,
      clock,
      intervalMs: 250,
      maxDurationMs: 10_000,
    });
    p.start();
    await clock.sleep(900);
    const tl = await p.stop();
    const denied = tl.series[1]!.samples;
    expect(denied.map((s) => s.verdict)).toEqual(['connected', 'error', 'error', 'connected']);
    expect(denied[1]!.detail).toBe('the probe round failed: exec: pod x/a not found');
    expect(denied[2]!.detail).toBe('the prober returned no record for this pair');
    expect(tl.series[0]!.samples.map((s) => s.verdict)).toEqual([
      'connected',
      'error',
      'connected',
      'connected',
    ]);
  });

  it('never runs more than maxInFlight rounds at once and counts the skipped ticks', async () => {
    const clock = new FakeClock();
    let running = 0;
    let most = 0;
    const probeOnce: ProbeOnce = async (keys, signal) => {
      running++;
      most = Math.max(most, running);
      await clock.sleep(1_000, signal); // each round takes 4 intervals
      running--;
      return keys.map((k) => record(k, 'connected'));
    };
    const p = new ContinuousProber({
      pairs: [ALLOWED],
      probeOnce,
      clock,
      intervalMs: 250,
      maxDurationMs: 10_000,
      maxInFlight: 2,
    });
    p.start();
    await clock.sleep(3_100);
    const tl = await p.stop();
    expect(most).toBe(2);
    expect(tl.skippedTicks).toBeGreaterThan(0);
    // rounds cut short by stop() are dropped, not recorded as errors
    expect(tl.series[0]!.samples.every((s) => s.verdict === 'connected')).toBe(true);
  });

  it('stop() gives up on a round that ignores the abort after the drain timeout', async () => {
    const clock = new FakeClock();
    let n = 0;
    const probeOnce: ProbeOnce = async (keys) => {
      n++;
      if (n === 3) await clock.sleep(3_600_000); // hangs and ignores the signal
      return keys.map((k) => record(k, 'connected'));
    };
    const p = new ContinuousProber({
      pairs: [ALLOWED],
      probeOnce,
      clock,
      intervalMs: 250,
      maxDurationMs: 60_000,
      maxInFlight: 1,
      drainTimeoutMs: 2_000,
    });
    p.start();
    await clock.sleep(1_000);
    const stoppedAt = clock.now();
    const tl = await p.stop();
    expect(clock.now() - stoppedAt).toBe(2_000);
    expect(tl.abandonedRounds).toBe(1);
    expect(tl.series[0]!.samples).toHaveLength(2);
  });

  it('refuses an unbounded or empty configuration', () => {
    const clock = new FakeClock();
    const probeOnce: ProbeOnce = async () => [];
    expect(() => new ContinuousProber({ pairs: [ALLOWED], probeOnce, clock, maxDurationMs: 0 })).toThrow(
      /maxDurationMs.*bounded/,
    );
    expect(() => new ContinuousProber({ pairs: [], probeOnce, clock, maxDurationMs: 1000 })).toThrow(/pairs/);
    expect(
      () => new ContinuousProber({ pairs: [ALLOWED], probeOnce, clock, maxDurationMs: 1000, intervalMs: 0 }),
    ).toThrow(/intervalMs/);
  });
});
