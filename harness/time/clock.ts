/**
 * Time, the one clock of the harness: waits sleep through it, and code that measures or waits in rounds
 * takes a Clock so that its tests run on a fake one. It imports nothing, so every layer can use it.
 */

export interface Clock {
  /** milliseconds on a monotonic scale (only differences are used) */
  now(): number;
  /** resolves after ms; rejects with the signal's reason when the signal aborts first */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Resolves after ms; rejects with the signal's reason when the signal aborts first (or already has). */
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

export const systemClock: Clock = { now: () => performance.now(), sleep };

/**
 * A pause that an abort ends early without throwing: for loops that check their signal themselves after the
 * pause (the upgrade's continuous probers, its probing before and after the upgrade).
 */
export async function pauseUnlessAborted(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await clock.sleep(ms, signal);
  } catch (err) {
    if (!signal?.aborted) throw err;
  }
}
