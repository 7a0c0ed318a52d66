/**
 * Continuous probers: several probe rounds a second over the pairs that must stay allowed and the pairs a
 * policy must keep denied, from `start()` until `stop()` or a hard maximum duration, recording (t, verdict)
 * per pair. Calico's own felix FVs check disruption the same way (`ExpectContinuously`-style probing while
 * something restarts); the timeline analysis (timeline.ts) turns the record into outage and fail-open
 * windows.
 *
 * Bounded by construction: the loop ends on stop, on the abort signal or at `maxDurationMs`; at most
 * `maxInFlight` rounds run at once (a tick that finds them all busy is skipped and counted, so a slow
 * prober shows up as sparse samples, which the analysis reports as an unmeasured gap); `stop()` waits for
 * running rounds at most `drainTimeoutMs` and ignores anything that arrives later.
 */
import type { ProbeKey, ProbeRecord } from '../model/connectivity.js';
import { type Clock, pauseUnlessAborted } from '../time/clock.js';
import type { ProbeOnce, WatchedPair } from './deps.js';
import type { PairSeries, TimelineSample } from './timeline.js';

export interface ContinuousProberOptions {
  pairs: readonly WatchedPair[];
  probeOnce: ProbeOnce;
  clock: Clock;
  /** ms between round starts (default 250: four probes a second per pair) */
  intervalMs?: number;
  /** the loop stops by itself after this long, stopped or not */
  maxDurationMs: number;
  /** rounds allowed to overlap when one takes longer than the interval (default 2) */
  maxInFlight?: number;
  /** how long stop() waits for running rounds (default 10 s) */
  drainTimeoutMs?: number;
}

export interface ProbeTimeline {
  series: PairSeries[];
  rounds: number;
  /** ticks skipped because `maxInFlight` rounds were still running */
  skippedTicks: number;
  /** rounds still running when the drain timeout ran out (their results were dropped) */
  abandonedRounds: number;
  stoppedBy: 'stop' | 'max-duration';
  /** ms since start when the loop ended */
  endMs: number;
}

export function sameKey(a: ProbeKey, b: ProbeKey): boolean {
  return a.from === b.from && a.to === b.to && a.port === b.port && a.protocol === b.protocol;
}

export class ContinuousProber {
  private readonly intervalMs: number;
  private readonly maxInFlight: number;
  private readonly drainTimeoutMs: number;
  private readonly samples: TimelineSample[][];
  /** per pair, the command that repeats one of its probes by hand (from the first record that carried one) */
  private readonly commands: (string | undefined)[];
  private readonly abort = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();
  private t0 = 0;
  private loopDone?: Promise<void>;
  private closed = false;
  private rounds = 0;
  private skippedTicks = 0;
  private stoppedBy: ProbeTimeline['stoppedBy'] = 'stop';
  private endMs = 0;

  constructor(private readonly opts: ContinuousProberOptions) {
    this.intervalMs = opts.intervalMs ?? 250;
    this.maxInFlight = opts.maxInFlight ?? 2;
    this.drainTimeoutMs = opts.drainTimeoutMs ?? 10_000;
    if (!(this.intervalMs > 0)) throw new RangeError(`intervalMs: ${this.intervalMs}; allowed: > 0`);
    if (!(opts.maxDurationMs > 0))
      throw new RangeError(`maxDurationMs: ${opts.maxDurationMs}; allowed: > 0 (the loop must be bounded)`);
    if (!Number.isInteger(this.maxInFlight) || this.maxInFlight < 1)
      throw new RangeError(`maxInFlight: ${this.maxInFlight}; allowed: an integer ≥ 1`);
    if (opts.pairs.length === 0) throw new RangeError('pairs: empty; the probers need at least one pair');
    this.samples = opts.pairs.map(() => []);
    this.commands = opts.pairs.map(() => undefined);
  }

  /** Starts the loop; the timeline's t=0 is now. */
  start(): void {
    if (this.loopDone) throw new Error('the continuous prober was already started');
    this.t0 = this.opts.clock.now();
    this.loopDone = this.loop();
  }

  /** ms since start (the flow marks the upgrade start and "all on B" on the same scale) */
  elapsed(): number {
    return this.opts.clock.now() - this.t0;
  }

  get running(): boolean {
    return this.loopDone !== undefined && !this.closed && !this.abort.signal.aborted;
  }

  /** Stops the loop, waits (bounded) for running rounds and returns the timeline. */
  async stop(): Promise<ProbeTimeline> {
    if (!this.loopDone) throw new Error('the continuous prober was never started');
    if (!this.abort.signal.aborted) {
      this.endMs = this.elapsed();
      this.abort.abort();
    }
    const drain = new AbortController();
    await Promise.race([
      this.loopDone,
      pauseUnlessAborted(this.opts.clock, this.drainTimeoutMs, drain.signal),
    ]);
    drain.abort();
    const abandoned = this.inFlight.size;
    this.closed = true;
    return {
      series: this.opts.pairs.map((p, i) => ({
        key: p.key,
        expect: p.expect,
        samples: [...this.samples[i]!],
        ...(this.commands[i] ? { command: this.commands[i] } : {}),
      })),
      rounds: this.rounds,
      skippedTicks: this.skippedTicks,
      abandonedRounds: abandoned,
      stoppedBy: this.stoppedBy,
      endMs: this.endMs,
    };
  }

  private async loop(): Promise<void> {
    const { clock } = this.opts;
    const signal = this.abort.signal;
    while (!signal.aborted) {
      if (this.elapsed() >= this.opts.maxDurationMs) {
        this.stoppedBy = 'max-duration';
        this.endMs = this.elapsed();
        this.abort.abort();
        break;
      }
      if (this.inFlight.size < this.maxInFlight) {
        const round = this.round().finally(() => this.inFlight.delete(round));
        this.inFlight.add(round);
      } else {
        this.skippedTicks++;
      }
      await pauseUnlessAborted(clock, this.intervalMs, signal);
    }
    await Promise.allSettled([...this.inFlight]);
  }

  private async round(): Promise<void> {
    const t = this.elapsed();
    const keys = this.opts.pairs.map((p) => p.key);
    const signal = this.abort.signal;
    let records: ProbeRecord[] = [];
    let failure: string | undefined;
    try {
      records = await this.opts.probeOnce(keys, signal);
    } catch (err) {
      // a round cut short by stop() is not an infrastructure error: it simply did not happen
      if (signal.aborted) return;
      failure = `the probe round failed: ${(err as Error).message}`;
    }
    if (this.closed) return;
    this.rounds++;
    const unused = [...records];
    this.opts.pairs.forEach((pair, i) => {
      const at = unused.findIndex((r) => sameKey(r, pair.key));
      const record = at >= 0 ? unused.splice(at, 1)[0] : undefined;
      if (record?.command && !this.commands[i]) this.commands[i] = record.command;
      this.samples[i]!.push(
        record
          ? { t, verdict: record.verdict, ...(record.detail ? { detail: record.detail } : {}) }
          : { t, verdict: 'error', detail: failure ?? 'the prober returned no record for this pair' },
      );
    });
  }
}
