/**
 * Poll with a deadline. A watch would be quicker to notice changes, but client-node 1.4.0 has no client-side
 * watch timeout and long watches drop (kind-clientnode-testcontainers.md §3.5); for readiness waits of seconds to
 * minutes a poll with a deadline is the reliable choice, and it always knows what it saw last.
 */
import { WaitTimeoutError } from '../errors.js';

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
}

export async function pollUntil(
  waitingFor: string,
  look: () => Promise<PollStep>,
  opts: PollOptions,
): Promise<string> {
  const interval = opts.intervalMs ?? 2000;
  const deadline = Date.now() + opts.timeoutMs;
  let lastSeen = 'nothing yet (no answer from the API server)';
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      const step = await look();
      lastSeen = step.seen;
      if (step.done) return step.seen;
    } catch (err) {
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
      extra = await opts.diagnose();
    } catch (err) {
      extra = `(diagnostics failed: ${(err as Error).message})`;
    }
  }
  throw new WaitTimeoutError(waitingFor, opts.timeoutMs, extra ? `${lastSeen}\n${extra}` : lastSeen);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
