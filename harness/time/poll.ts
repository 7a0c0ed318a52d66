/**
 * The one polling wait of the harness: always a deadline, always says what it waited for and what it saw
 * last (WaitTimeoutError). Kube readiness waits, the upgrade's waits and the test support use it.
 *
 * Why a poll and not a watch: client-node 1.4.0 has no client-side watch timeout and long watches drop
 * (client-node src/watch.ts at 1.4.0; issues kubernetes-client/javascript#596, #958, #1496); for readiness
 * waits of seconds to minutes a poll with a deadline is the reliable choice, and it always knows what it saw
 * last.
 *
 * A look that rejects (an API read failing while the API server or a webhook restarts, components
 * restarting under an upgrade) is something seen, not the end: its message becomes what was last seen and
 * the wait goes on. The deadline and the pauses run on a Clock (time/clock.ts), so the waits of code that
 * takes a clock run on a fake one in its tests.
 */
import { formatDuration, WaitTimeoutError } from '../errors.js';
import { type Clock, systemClock } from './clock.js';

export interface PollStep<T = undefined> {
  done: boolean;
  /** what this look saw, in a line a person can read (the timeout message quotes the last one) */
  seen: string;
  /** what the wait returns when this look is the one that is done */
  value?: T;
}

export interface PollOptions {
  timeoutMs: number;
  /** pause between looks (default 2 s; never past the deadline) */
  intervalMs?: number;
  signal?: AbortSignal;
  /** extra detail gathered once, only on timeout (pods, events, finalizers) */
  diagnose?: () => Promise<string>;
  /**
   * How long a look may go unanswered when less than that is left before the deadline (default 5 s): a look
   * runs until the deadline or for this grace, whichever is later, and the diagnostics for this grace, so a
   * waiter ends within timeoutMs + 2 × lookGraceMs even when the API server takes requests and never
   * answers them (client-node sets no request timeout; a kube-apiserver whose etcd hangs answers only after
   * its own 60 s request timeout). This bound is real time, whatever the clock.
   */
  lookGraceMs?: number;
  /** the deadline's and the pauses' clock (default: the system clock) */
  clock?: Clock;
}

export interface PollOutcome<T> {
  /** what the look that was done saw */
  seen: string;
  /** that look's value */
  value: T | undefined;
  /** ms from the start of the wait to the end of the look that was done (on the wait's clock) */
  elapsedMs: number;
  /** looks made, the last one included */
  looks: number;
}

const NO_ANSWER_YET = 'nothing yet (no answer from the API server)';

/**
 * Looks until a look is done, or throws WaitTimeoutError naming `waitingFor`, the timeout and what was seen
 * last (with `diagnose`'s detail). An abort of `signal` rejects at once with its reason, even during a look.
 */
export async function pollUntil<T = undefined>(
  waitingFor: string,
  look: () => Promise<PollStep<T>>,
  opts: PollOptions,
): Promise<PollOutcome<T>> {
  if (!(opts.timeoutMs > 0))
    throw new RangeError(`timeoutMs for "${waitingFor}": ${opts.timeoutMs} must be > 0`);
  const clock = opts.clock ?? systemClock;
  const interval = opts.intervalMs ?? 2000;
  if (!(interval >= 0)) throw new RangeError(`intervalMs for "${waitingFor}": ${interval} must be >= 0`);
  const grace = opts.lookGraceMs ?? 5000;
  const start = clock.now();
  const deadline = start + opts.timeoutMs;
  let lastSeen = NO_ANSWER_YET;
  let looks = 0;
  for (;;) {
    opts.signal?.throwIfAborted();
    const allowed = Math.max(deadline - clock.now(), grace);
    looks++;
    try {
      const step = await within(look(), allowed, opts.signal);
      if (step === undefined) {
        lastSeen =
          lastSeen === NO_ANSWER_YET
            ? `no answer from the API server (a request still pending after ${formatDuration(allowed)})`
            : `${lastSeen}; then no answer to the next look within ${formatDuration(allowed)}`;
      } else {
        lastSeen = step.seen;
        if (step.done) return { seen: step.seen, value: step.value, elapsedMs: clock.now() - start, looks };
      }
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      lastSeen = `error: ${(err as Error).message}`;
    }
    const left = deadline - clock.now();
    if (left <= 0) break;
    await clock.sleep(Math.min(interval, left), opts.signal);
  }
  let extra = '';
  if (opts.diagnose) {
    try {
      extra = (await within(opts.diagnose(), grace, opts.signal)) ?? '(diagnostics: no answer)';
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      extra = `(diagnostics failed: ${(err as Error).message})`;
    }
  }
  throw new WaitTimeoutError(waitingFor, opts.timeoutMs, extra ? `${lastSeen}\n${extra}` : lastSeen);
}

/** `work`'s value, or undefined when it has not settled within `ms`; rejects at once when `signal` aborts. */
function within<T>(work: Promise<T>, ms: number, signal?: AbortSignal): Promise<T | undefined> {
  return new Promise<T | undefined>((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const timer = setTimeout(() => {
      done();
      resolve(undefined);
    }, ms);
    const onAbort = () => {
      done();
      reject(signal?.reason);
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        done();
        resolve(v);
      },
      (e: unknown) => {
        done();
        reject(e);
      },
    );
  });
}
