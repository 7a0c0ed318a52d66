import { describe, expect, it } from 'vitest';
import { sleep, systemClock } from '../../../harness/time/clock.js';

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
});
