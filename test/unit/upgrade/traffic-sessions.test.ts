/**
 * The upgrade's continuous traffic through probe sessions (real.ts trafficRounds over probe/lanes.ts), on
 * the fake clock: a session stream double answers each batch as the in-pod loop does, a round later, or
 * breaks under it. What must hold: a broken session's round is an infrastructure error of that round
 * (excluded, reported), never an outage or a fail-open; overlapping rounds never wait behind each other on
 * one session (each batch is written at its round's start, the time its samples carry); close() ends them.
 */
import { describe, expect, it } from 'vitest';
import type { PodExecutor, PodRef, PodStream } from '../../../harness/probe/executor.js';
import { PROBE_END } from '../../../harness/probe/script.js';
import { ContinuousProber } from '../../../harness/upgrade/continuous.js';
import { trafficRounds } from '../../../harness/upgrade/real.js';
import { analyseUpgradeTimeline } from '../../../harness/upgrade/timeline.js';
import { ALLOWED_PORT, planTraffic } from '../../../harness/upgrade/traffic.js';
import { StreamDouble } from '../probe/stream-double.js';
import { FakeClock } from './fake-clock.js';

const servers = [
  { name: 'server-n0', node: 'n0', ip: '10.0.0.10' },
  { name: 'server-n1', node: 'n1', ip: '10.0.1.10' },
];
const plan = planTraffic('cc-upgrade-traffic', [{ name: 'client-n0', node: 'n0', ip: '10.0.0.20' }], servers);

/** What the loop prints for one batch: port 80 answers with the server's name, port 81 times out. */
function answer(id: string, words: string[]): string {
  const lines: string[] = [];
  for (let i = 0; i * 5 < words.length; i++) {
    const [mode, host, port] = words.slice(i * 5, i * 5 + 3);
    const name = servers.find((s) => s.ip === host)!.name;
    if (Number(port) === ALLOWED_PORT) lines.push(`{"i":${i},"tool":"nc","rc":0,"ms":3}\x1f${name}\x1f`);
    else if (mode === 'tcp')
      lines.push(
        `{"i":${i},"tool":"nc","rc":1,"ms":1000}\x1f\x1fnc: connect to ${host} port 81 (tcp) timed out`,
      );
    else lines.push(`{"i":${i},"tool":"nc","rc":124,"ms":1000}\x1f\x1f`);
  }
  return `${lines.join('\n')}\n${PROBE_END} ${lines.length} ${id}\n`;
}

/** A session stream on the fake clock: each batch answered `roundMs` after it was written, or broken. */
class ClockStream extends StreamDouble {
  /** fake-clock times at which batches were written */
  readonly written: number[] = [];

  constructor(
    private readonly clock: FakeClock,
    private readonly roundMs: number,
    private readonly breaks: (t: number) => boolean,
  ) {
    super();
  }

  write(text: string): boolean {
    if (this.done) return false;
    const t = this.clock.now();
    this.written.push(t);
    const [id, ...words] = text.trim().split(' ');
    void this.clock.sleep(this.roundMs).then(() => {
      if (this.done) return;
      if (this.breaks(t)) {
        // half a line, then the exec stream is gone (the API server or kubelet dropped it)
        this.emit('{"i":0,"tool":"nc","rc":0');
        this.end({
          reason: 'the exec stream of cc-upgrade-traffic/client-n0 closed without an exit status',
          stderr: '',
        });
        return;
      }
      this.emit(answer(id!, words));
    });
    return true;
  }
}

/** Opens ClockStreams; a one-shot exec would be a round that did not go through a session. */
class StreamExecutor implements PodExecutor {
  readonly opened: ClockStream[] = [];
  constructor(
    private readonly clock: FakeClock,
    private readonly roundMs: number,
    private readonly breaks: (t: number) => boolean = () => false,
  ) {}
  async exec(): Promise<never> {
    throw new Error('one-shot exec used while the traffic probes through sessions');
  }
  openStream(pod: PodRef): PodStream {
    expect(pod).toEqual({ namespace: 'cc-upgrade-traffic', name: 'client-n0', container: 'client' });
    const s = new ClockStream(this.clock, this.roundMs, this.breaks);
    this.opened.push(s);
    return s;
  }
}

async function runTraffic(ex: StreamExecutor, clock: FakeClock, forMs: number) {
  const rounds = trafficRounds(ex, plan.requests, { probeTimeoutMs: 1000, sessions: true });
  // as phase.ts runs it: a round every 250 ms, up to 4 at once (a round takes the 1 s of the denied probes)
  const prober = new ContinuousProber({
    pairs: plan.pairs,
    probeOnce: rounds.probeOnce,
    clock,
    intervalMs: 250,
    maxInFlight: 4,
    maxDurationMs: 60_000,
  });
  prober.start();
  await clock.sleep(forMs);
  const timeline = await prober.stop();
  const result = analyseUpgradeTimeline({
    from: 'v3.30.1',
    to: 'v3.31.0',
    path: 'manifest',
    series: timeline.series,
    upgradeStartMs: 1000,
    endMs: timeline.endMs,
  });
  return { rounds, timeline, result };
}

describe('continuous traffic through probe sessions', () => {
  it('a session that breaks under a round makes that round an infrastructure error: no outage, no fail-open, a new session next', async () => {
    const clock = new FakeClock();
    const ex = new StreamExecutor(clock, 1000, (t) => t === 2000);
    const { rounds, timeline, result } = await runTraffic(ex, clock, 5000);
    expect(result.outcome).toBe('passed');
    expect(result.violations).toEqual([]);
    for (const pair of result.pairs) {
      expect(pair.errors, pair.label).toBe(1);
      expect(pair.longestOutageMs, pair.label).toBe(0);
      expect(pair.outageWindows, pair.label).toEqual([]);
      expect(pair.failOpenCount, pair.label).toBe(0);
      expect(pair.failOpenWindows, pair.label).toEqual([]);
    }
    // the broken round's samples: `error` at its own time, saying why
    for (const s of timeline.series) {
      const errors = s.samples.filter((x) => x.verdict === 'error');
      expect(errors.map((x) => x.t)).toEqual([2000]);
      expect(errors[0]!.detail).toMatch(
        /probe session ended: the exec stream of .* closed without an exit status/,
      );
      expect(s.samples.filter((x) => x.verdict !== 'error').length).toBeGreaterThan(10);
    }
    // rounds overlap (1 s each, one every 250 ms) on lanes of their own: every batch was written at the
    // start of its round, the time its samples carry, never after waiting for another round
    const starts = timeline.series[0]!.samples.map((x) => x.t);
    const writes = ex.opened.flatMap((s) => s.written).sort((a, b) => a - b);
    expect(writes.slice(0, starts.length)).toEqual(starts);
    expect(ex.opened.length).toBeGreaterThanOrEqual(4);
    // the broken session was dropped; a round after it opened a new one
    expect(ex.opened.filter((s) => !s.closed).length).toBeLessThanOrEqual(4);
    await rounds.close();
    expect(ex.opened.every((s) => s.closed)).toBe(true);
    expect(rounds.describe()).toMatch(/probe sessions: \d+ opened in 4 lane\(s\)/);
  });

  it('sessions broken for longer than the outage budget: the upgrade was not measured (error), never an outage', async () => {
    const clock = new FakeClock();
    const ex = new StreamExecutor(clock, 1000, (t) => t >= 2000 && t < 8500);
    const { rounds, result } = await runTraffic(ex, clock, 12_000);
    expect(result.outcome).toBe('error');
    for (const pair of result.pairs) {
      expect(pair.longestOutageMs, pair.label).toBe(0);
      expect(pair.outageWindows, pair.label).toEqual([]);
      expect(pair.failOpenCount, pair.label).toBe(0);
      expect(pair.errors, pair.label).toBeGreaterThan(20);
      expect(pair.maxGapMs!, pair.label).toBeGreaterThan(5000);
    }
    // each pair says it was not measured there, none that it had an outage or opened
    expect(result.violations).toHaveLength(plan.pairs.length);
    for (const v of result.violations) expect(v).toMatch(/no usable probe for .* could not be seen$/);
    await rounds.close();
  });

  it('a round asked for after close() is an infrastructure error of every pair and opens nothing', async () => {
    const clock = new FakeClock();
    const ex = new StreamExecutor(clock, 10);
    const rounds = trafficRounds(ex, plan.requests, { probeTimeoutMs: 1000, sessions: true });
    const keys = plan.pairs.map((p) => p.key);
    expect((await rounds.probeOnce(keys)).map((r) => r.verdict)).toEqual(
      plan.pairs.map((p) => (p.expect === 'allowed' ? 'connected' : 'timeout')),
    );
    await rounds.close();
    const after = await rounds.probeOnce(keys);
    expect(after.map((r) => r.verdict)).toEqual(plan.pairs.map(() => 'error'));
    expect(after[0]!.detail).toMatch(/the probe lanes were closed/);
    expect(ex.opened).toHaveLength(1);
    expect(ex.opened[0]!.closed).toBe(true);
  });
});
