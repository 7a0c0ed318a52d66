/**
 * The one polling wait of the upgrade flow: always a timeout, always says what it waited for and what it
 * saw last (WaitTimeoutError). A check that throws (an API read failing while components restart) counts
 * as "not yet", and its message becomes what was last seen.
 */
import { WaitTimeoutError } from '../errors.js';
import type { Clock } from './deps.js';

export interface PollResult<T> {
  done: boolean;
  /** what this poll saw, in a line a person can read */
  seen: string;
  value?: T;
}

export interface WaitOptions<T> {
  clock: Clock;
  /** "every Calico component running v3.32.1 and ready", … */
  waitingFor: string;
  timeoutMs: number;
  intervalMs: number;
  check: () => Promise<PollResult<T>>;
  signal?: AbortSignal;
}

export interface WaitOutcome<T> {
  value: T | undefined;
  /** ms from the start of the wait to the poll that succeeded */
  elapsedMs: number;
  polls: number;
  seen: string;
}

export async function waitUntil<T>(opts: WaitOptions<T>): Promise<WaitOutcome<T>> {
  if (!(opts.timeoutMs > 0)) throw new RangeError(`timeoutMs for "${opts.waitingFor}": must be > 0`);
  if (!(opts.intervalMs > 0)) throw new RangeError(`intervalMs for "${opts.waitingFor}": must be > 0`);
  const start = opts.clock.now();
  let polls = 0;
  let seen = 'nothing yet (no poll completed)';
  for (;;) {
    polls++;
    try {
      const r = await opts.check();
      seen = r.seen;
      if (r.done) return { value: r.value, elapsedMs: opts.clock.now() - start, polls, seen };
    } catch (err) {
      seen = `the check failed: ${(err as Error).message}`;
    }
    const elapsed = opts.clock.now() - start;
    if (elapsed >= opts.timeoutMs || opts.signal?.aborted) {
      throw new WaitTimeoutError(opts.waitingFor, opts.timeoutMs, seen);
    }
    await opts.clock.sleep(Math.min(opts.intervalMs, opts.timeoutMs - elapsed), opts.signal);
  }
}
