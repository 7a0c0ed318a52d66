import { describe, expect, it } from 'vitest';
import { WaitTimeoutError } from '../../../harness/errors.js';
import { type PollStep, pollUntil } from '../../../harness/time/poll.js';

/** a look whose request was taken and never answered (a hung API server) */
const never = () => new Promise<PollStep>(() => {});

describe('pollUntil: every wait ends on time, also when the API server stops answering', () => {
  it('a look that never answers ends the wait at its deadline, saying nothing answered', async () => {
    const started = Date.now();
    const err = await pollUntil('nodes to be Ready', never, { timeoutMs: 300, lookGraceMs: 50 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect((err as Error).message).toMatch(
      /waiting for nodes to be Ready; last seen: no answer from the API server \(a request still pending after/,
    );
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('after an answer, a hung look keeps what was seen and says the next look got no answer', async () => {
    let looks = 0;
    const err = await pollUntil(
      'DaemonSet to roll out',
      () => (++looks === 1 ? Promise.resolve({ done: false, seen: 'desired=2 ready=1' }) : never()),
      { timeoutMs: 200, intervalMs: 20, lookGraceMs: 50 },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(
      /last seen: desired=2 ready=1; then no answer to the next look within/,
    );
    // at least the answered look and one hung look; under load a hung look can be given up on and another
    // started before the deadline, so the count is not exact
    expect(looks).toBeGreaterThanOrEqual(2);
  });

  it('a look started just before the deadline still gets the grace to answer, and its answer is reported', async () => {
    const slow = () =>
      new Promise<PollStep>((r) => setTimeout(() => r({ done: false, seen: 'phase=Pending' }), 150));
    const err = await pollUntil('pods to be Ready', slow, { timeoutMs: 10, lookGraceMs: 2000 }).catch(
      (e: unknown) => e,
    );
    expect((err as Error).message).toMatch(/last seen: phase=Pending$/);
  });

  it('diagnostics that never answer are cut after the grace', async () => {
    const started = Date.now();
    const err = await pollUntil('x', async () => ({ done: false, seen: 'not yet' }), {
      timeoutMs: 50,
      intervalMs: 10,
      lookGraceMs: 100,
      diagnose: () => new Promise<string>(() => {}),
    }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/last seen: not yet\n\(diagnostics: no answer\)/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('an abort during a look that never answers ends the wait at once with the reason', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('interrupted')), 50);
    const started = Date.now();
    await expect(pollUntil('x', never, { timeoutMs: 60_000, signal: ac.signal })).rejects.toThrow(
      /interrupted/,
    );
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a rejected look is something seen, and the wait goes on', async () => {
    let looks = 0;
    const out = await pollUntil(
      'x',
      async () => {
        if (++looks < 3) throw new Error('HTTP 503 etcdserver: leader changed');
        return { done: true, seen: 'ok', value: 42 };
      },
      { timeoutMs: 2000, intervalMs: 5 },
    );
    expect(out).toMatchObject({ seen: 'ok', value: 42, looks: 3 });
    expect(looks).toBe(3);
  });

  it('runs its deadline and pauses on the clock it is given: minutes of waiting in no real time', async () => {
    let t = 0;
    const sleeps: number[] = [];
    const clock = {
      now: () => t,
      async sleep(ms: number) {
        sleeps.push(ms);
        t += ms;
      },
    };
    const started = Date.now();
    let looks = 0;
    const out = await pollUntil(
      'every component on B',
      async () => ({ done: ++looks === 4, seen: `look ${looks}`, value: looks }),
      { timeoutMs: 600_000, intervalMs: 30_000, clock },
    );
    expect(out).toEqual({ seen: 'look 4', value: 4, elapsedMs: 90_000, looks: 4 });
    expect(sleeps).toEqual([30_000, 30_000, 30_000]);
    const err = await pollUntil('never', async () => ({ done: false, seen: 'lagging: calico-node' }), {
      timeoutMs: 100_000,
      intervalMs: 30_000,
      clock,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect((err as Error).message).toMatch(/never.*lagging: calico-node/s);
    // the last pause is cut to the deadline: 30 + 30 + 30 + 10 s
    expect(sleeps.slice(3)).toEqual([30_000, 30_000, 30_000, 10_000]);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('names the wait in a bad timeout or interval before looking', async () => {
    let looked = false;
    const look = async () => {
      looked = true;
      return { done: true, seen: '' };
    };
    await expect(pollUntil('x ready', look, { timeoutMs: 0 })).rejects.toThrow(/timeoutMs for "x ready": 0/);
    await expect(pollUntil('x ready', look, { timeoutMs: 10, intervalMs: -1 })).rejects.toThrow(
      /intervalMs for "x ready": -1/,
    );
    expect(looked).toBe(false);
  });
});
