import { describe, expect, it } from 'vitest';
import { pauseUnlessAborted, sleep, systemClock } from '../../../harness/time/clock.js';

describe('the clock', () => {
  it('sleeps at least the time asked, on a monotonic scale', async () => {
    const t0 = systemClock.now();
    await systemClock.sleep(20);
    expect(systemClock.now() - t0).toBeGreaterThanOrEqual(19);
  });

  it('rejects with the reason when the signal aborts during the sleep, or had already', async () => {
    const ctrl = new AbortController();
    const slept = sleep(60_000, ctrl.signal);
    ctrl.abort(new Error('stop (test)'));
    await expect(slept).rejects.toThrow('stop (test)');
    await expect(sleep(10, ctrl.signal)).rejects.toThrow('stop (test)');
  });

  it('a pause that an abort ends early without throwing, and that still throws what is not an abort', async () => {
    const ctrl = new AbortController();
    const t0 = systemClock.now();
    const paused = pauseUnlessAborted(systemClock, 60_000, ctrl.signal);
    ctrl.abort(new Error('stop (test)'));
    await expect(paused).resolves.toBeUndefined();
    expect(systemClock.now() - t0).toBeLessThan(1000);
    const broken = { now: () => 0, sleep: async () => Promise.reject(new Error('clock broke')) };
    await expect(pauseUnlessAborted(broken, 10, new AbortController().signal)).rejects.toThrow('clock broke');
  });
});
