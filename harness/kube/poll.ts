/**
 * Poll with a deadline. A watch would be quicker to notice changes, but client-node 1.4.0 has no client-side
 * watch timeout and long watches drop (client-node src/watch.ts at 1.4.0; issues
 * kubernetes-client/javascript#596, #958, #1496); for readiness waits of seconds to
 * minutes a poll with a deadline is the reliable choice, and it always knows what it saw last.
 */
import { formatDuration, WaitTimeoutError } from '../errors.js';
import { sleep } from '../time/clock.js';

export interface PollStep {
  done: boolean;
  /** what this look saw, for the timeout message */
  seen: string;
}

export interface PollOptions {
  timeoutMs: number;
  intervalMs?: number;
  signal?: AbortSignal;
  /** extra detail gathered once, only on timeout (pods, events, finalizers) */
  diagnose?: () => Promise<string>;
  /**
   * How long a look may go unanswered when less than that is left before the deadline (default 5 s): a look
   * runs until the deadline or for this grace, whichever is later, and the diagnostics for this grace, so a
   * waiter ends within timeoutMs + 2 × lookGraceMs even when the API server takes requests and never
   * answers them (client-node sets no request timeout; a kube-apiserver whose etcd hangs answers only after
   * its own 60 s request timeout).
   */
  lookGraceMs?: number;
}

const NO_ANSWER_YET = 'nothing yet (no answer from the API server)';

export async function pollUntil(
  waitingFor: string,
  look: () => Promise<PollStep>,
  opts: PollOptions,
): Promise<string> {
  const interval = opts.intervalMs ?? 2000;
  const grace = opts.lookGraceMs ?? 5000;
  const deadline = Date.now() + opts.timeoutMs;
  let lastSeen = NO_ANSWER_YET;
  for (;;) {
    opts.signal?.throwIfAborted();
    const allowed = Math.max(deadline - Date.now(), grace);
    try {
      const step = await within(look(), allowed, opts.signal);
      if (step === undefined) {
        lastSeen =
          lastSeen === NO_ANSWER_YET
            ? `no answer from the API server (a request still pending after ${formatDuration(allowed)})`
            : `${lastSeen}; then no answer to the next look within ${formatDuration(allowed)}`;
      } else {
        lastSeen = step.seen;
        if (step.done) return step.seen;
      }
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      // A transient API error (apiserver restarting, a webhook not yet serving) is something seen, not the end.
      lastSeen = `error: ${(err as Error).message}`;
    }
    const left = deadline - Date.now();
    if (left <= 0) break;
    await sleep(Math.min(interval, left), opts.signal);
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
