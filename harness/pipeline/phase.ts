/**
 * Running one phase: a timeout that says what it waited for and what it saw last, an abort on SIGINT, and
 * the classification of what went wrong into the results model's outcomes.
 */
import { formatDuration, WaitTimeoutError } from '../errors.js';
import type { CheckResult, Outcome } from '../model/results.js';

/** The run was interrupted (SIGINT/SIGTERM): the phase stopped, teardown follows. */
export class InterruptedError extends Error {
  constructor(
    readonly signalName: string,
    readonly during: string,
  ) {
    super(`interrupted by ${signalName} while waiting for ${during}`);
    this.name = 'InterruptedError';
  }
}

/** A phase whose own checks failed (not an exception in the harness). */
export class PhaseFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PhaseFailure';
  }
}

export interface PhaseLimits {
  timeoutMs: number;
  /** "Calico ready on every node", shown on the status line and in a timeout */
  waitingFor: string;
}

/**
 * Runs body with a signal that aborts on the timeout or when the run is interrupted; settles at the
 * timeout even if body ignores its signal (a hung command must not hang the run).
 */
export async function withPhaseLimits<T>(
  limits: PhaseLimits,
  runSignal: AbortSignal | undefined,
  lastSeen: () => string,
  body: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const ctrl = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onRunAbort: (() => void) | undefined;
  const stopped = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new WaitTimeoutError(limits.waitingFor, limits.timeoutMs, lastSeen() || 'nothing yet');
      ctrl.abort(err);
      reject(err);
    }, limits.timeoutMs);
    if (runSignal) {
      onRunAbort = () => {
        const reason = runSignal.reason;
        const err = new InterruptedError(
          typeof reason === 'string' ? reason : reason instanceof Error ? reason.message : 'SIGINT',
          limits.waitingFor,
        );
        ctrl.abort(err);
        reject(err);
      };
      if (runSignal.aborted) onRunAbort();
      else runSignal.addEventListener('abort', onRunAbort, { once: true });
    }
  });
  stopped.catch(() => {});
  try {
    return await Promise.race([body(ctrl.signal), stopped]);
  } finally {
    clearTimeout(timer);
    if (onRunAbort) runSignal?.removeEventListener('abort', onRunAbort);
  }
}

/** The outcome of a set of checks: failed if any failed or errored, skipped if all skipped. */
export function checksOutcome(checks: readonly CheckResult[]): Outcome {
  if (checks.some((c) => c.outcome === 'failed' || c.outcome === 'error')) return 'failed';
  if (checks.length > 0 && checks.every((c) => c.outcome === 'skipped')) return 'skipped';
  return 'passed';
}

export function failedChecksReason(checks: readonly CheckResult[]): string {
  const bad = checks.filter((c) => c.outcome === 'failed' || c.outcome === 'error');
  const first = bad[0];
  return `${bad.length} of ${checks.length} check${checks.length === 1 ? '' : 's'} failed${
    first ? `; first: ${first.name}${first.message ? `: ${first.message}` : ''}` : ''
  }`;
}

export function describeLimits(l: PhaseLimits): string {
  return `waiting up to ${formatDuration(l.timeoutMs)} for ${l.waitingFor}`;
}
