/**
 * A virtual clock for the upgrade tests: `sleep` registers a timer; when the process has nothing else to
 * do (a macrotask turn found every promise chain settled), time jumps to the earliest timer. Doubles that
 * resolve through promises (no real I/O) therefore run minutes of flow in milliseconds, deterministically.
 */
import type { Clock } from '../../../harness/time/clock.js';

interface Timer {
  at: number;
  seq: number;
  resolve: () => void;
}

export class FakeClock implements Clock {
  t = 0;
  private seq = 0;
  private timers: Timer[] = [];
  private scheduled = false;
  /** every sleep asked for, in order (asserting waits) */
  readonly sleeps: number[] = [];

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    // the Clock contract: an abort rejects the sleep with the signal's reason (as time/clock.ts sleep does)
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        this.timers = this.timers.filter((x) => x !== timer);
        reject(signal?.reason);
      };
      const timer: Timer = {
        at: this.t + Math.max(0, ms),
        seq: this.seq++,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      this.timers.push(timer);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.timers.length === 0) return;
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers.shift()!;
      this.t = Math.max(this.t, next.at);
      next.resolve();
      if (this.timers.length) this.schedule();
    });
  }
}
