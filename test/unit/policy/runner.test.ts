/**
 * The runner with a fake clock and prober/applier doubles: a cluster that enforces slowly, one that flaps,
 * one that never enforces, one whose probes break, and one that never restores.
 */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../harness/errors.js';
import type { ProbeKey, ProbeRecord, Verdict } from '../../../harness/model/connectivity.js';
import { formatGrid } from '../../../harness/policy/grid-text.js';
import { standardModel } from '../../../harness/policy/model.js';
import {
  formatScenarioFailure,
  type PolicyApplier,
  type PolicyProber,
  runScenario,
  type ScenarioInput,
} from '../../../harness/policy/runner.js';
import type { Clock } from '../../../harness/time/clock.js';

class FakeClock implements Clock {
  t = 0;
  sleeps: number[] = [];
  now() {
    return this.t;
  }
  async sleep(ms: number) {
    this.sleeps.push(ms);
    this.t += ms;
  }
}

/** deny-all ingress in x: the enforced truth is "denied iff the destination is in x" */
const scenario: ScenarioInput = {
  name: 'deny-all-ingress',
  tags: ['ingress'],
  model: standardModel(),
  policies: [
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'deny', namespace: 'x' },
      spec: { podSelector: {} },
    },
  ],
};
const enforcedVerdict = (k: ProbeKey): Verdict => (k.to.startsWith('x/') ? 'timeout' : 'connected');

interface ClusterDouble {
  clock: FakeClock;
  applier: PolicyApplier & { applied: number; removed: number; calls: string[] };
  prober: PolicyProber & { rounds: number };
}

/**
 * A cluster whose dataplane enforces `enforceAfterMs` after the apply and lifts `restoreAfterMs` after the
 * delete; each probe round takes `roundMs`. `verdict` may override any cell (flaps, errors).
 */
function cluster(opts: {
  enforceAfterMs: number;
  restoreAfterMs: number;
  roundMs?: number;
  verdict?: (k: ProbeKey, ctx: { round: number; enforced: boolean; t: number }) => Verdict | undefined;
  failApply?: boolean;
}): ClusterDouble {
  const clock = new FakeClock();
  let appliedAt: number | undefined;
  let removedAt: number | undefined;
  const applier = {
    applied: 0,
    removed: 0,
    calls: [] as string[],
    async apply(docs: object[]) {
      applier.calls.push(`apply ${docs.length}`);
      if (opts.failApply) throw new Error('admission webhook denied the request');
      applier.applied++;
      appliedAt = clock.t;
      removedAt = undefined;
    },
    async remove(docs: object[]) {
      applier.calls.push(`remove ${docs.length}`);
      applier.removed++;
      removedAt = clock.t;
    },
  };
  const prober = {
    rounds: 0,
    async probe(keys: ProbeKey[]): Promise<ProbeRecord[]> {
      prober.rounds++;
      const t = clock.t;
      const enforced =
        appliedAt !== undefined &&
        t >= appliedAt + opts.enforceAfterMs &&
        (removedAt === undefined || t < removedAt + opts.restoreAfterMs);
      clock.t += opts.roundMs ?? 1000;
      return keys.map((k) => ({
        ...k,
        verdict:
          opts.verdict?.(k, { round: prober.rounds, enforced, t }) ??
          (enforced ? enforcedVerdict(k) : 'connected'),
        durationMs: 5,
      }));
    },
  };
  return { clock, applier, prober };
}

describe('policy runner', () => {
  it('slow enforcement: time-to-enforce is the end of the first of 3 agreeing rounds; then time-to-restore', async () => {
    const c = cluster({ enforceAfterMs: 5000, restoreAfterMs: 2000 });
    const r = await runScenario(scenario, c, { clock: c.clock, pollIntervalMs: 250 });
    // rounds start at 0, 1250, 2500, 3750 (open), 5000 (enforced, ends 6000), 6250, 7500 → converged
    expect(r.outcome).toBe('passed');
    expect(r.timeToEnforceMs).toBe(6000);
    // removed at 8500; restore rounds start 8500, 9750 (still enforced), 11000 (open, ends 12000)
    expect(r.timeToRestoreMs).toBe(3500);
    expect(r.rounds).toBe(10);
    expect(c.applier.calls).toEqual(['apply 1', 'remove 1']);
    // no fixed sleeps: the only waits are the poll interval between rounds
    expect(new Set(c.clock.sleeps)).toEqual(new Set([250]));
    expect(r.grids).toHaveLength(4);
    const g = r.grids[0]!;
    expect(g.expected['y/a']!['x/b']).toBe(false);
    expect(g.observed['y/a']!['x/b']).toBe('timeout');
    expect(g.observed['x/a']!['y/b']).toBe('connected');
    expect(formatGrid(g)).toContain('no differences');
    expect(r.policyYaml).toContain('kind: NetworkPolicy');
  });

  it('a flap (agreement then disagreement) restarts the streak and is reported', async () => {
    const c = cluster({
      enforceAfterMs: 0,
      restoreAfterMs: 0,
      // round 2 shows y/a → x/b connected again: the policy was briefly lifted
      verdict: (k, { round, enforced }) =>
        enforced && round === 2 && k.from === 'y/a' && k.to === 'x/b' ? 'connected' : undefined,
    });
    const r = await runScenario(scenario, c, { clock: c.clock, pollIntervalMs: 100 });
    expect(r.outcome).toBe('passed');
    expect(r.message).toMatch(/enforced after 1 flap/);
    // streak: round 1 ok, round 2 flap, rounds 3,4,5 ok → enforced at the end of round 3 (start 2200)
    expect(r.timeToEnforceMs).toBe(3200);
    expect(r.rounds).toBe(5 + 1);
  });

  it('never enforced: fails after the timeout with grids and YAML, and still removes and restores', async () => {
    const c = cluster({ enforceAfterMs: Number.POSITIVE_INFINITY, restoreAfterMs: 0 });
    const r = await runScenario(scenario, c, {
      clock: c.clock,
      enforceTimeoutMs: 10_000,
      pollIntervalMs: 500,
    });
    expect(r.outcome).toBe('failed');
    expect(r.timeToEnforceMs).toBeUndefined();
    expect(r.message).toMatch(
      /^not enforced within 10s \(\d+ rounds, 0 flaps\): 96 cells differ in the last round; e\.g\. /,
    );
    expect(r.timeToRestoreMs).toBe(1000);
    expect(c.applier.removed).toBe(1);
    const text = formatScenarioFailure(r);
    expect(text).toContain('expected:');
    expect(text).toContain('observed:');
    expect(text).toContain('difference:');
    expect(text).toContain('24 differences'); // per port: 6 outside sources × 3 x pods + 3 x pods × 2 x peers
    expect(text).toContain('name: deny');
    // difference row of y/a: X under the x columns (0-2), . elsewhere, - never (not self)
    expect(text).toContain('3 y/a X X X - . . . . .');
  });

  it('agreement that begins before the deadline may finish its confirmation rounds after it', async () => {
    const c = cluster({ enforceAfterMs: 8000, restoreAfterMs: 0 });
    const r = await runScenario(scenario, c, { clock: c.clock, enforceTimeoutMs: 9000, pollIntervalMs: 0 });
    // rounds start every 1000 ms; the one starting at 8000 agrees and ends at 9000 = the deadline
    expect(r.outcome).toBe('passed');
    expect(r.timeToEnforceMs).toBe(9000);
    const late = cluster({ enforceAfterMs: 9500, restoreAfterMs: 0 });
    const r2 = await runScenario(scenario, late, {
      clock: late.clock,
      enforceTimeoutMs: 9000,
      pollIntervalMs: 0,
    });
    expect(r2.outcome).toBe('failed');
  });

  it('slow rounds (a loaded machine) still get minRounds looks, up to twice the deadline', async () => {
    // 8 s rounds: by the 30 s deadline only 4 rounds ran; enforcement seen from 35 s still passes
    const c = cluster({ enforceAfterMs: 35_000, restoreAfterMs: 0, roundMs: 8000 });
    const r = await runScenario(scenario, c, { clock: c.clock, enforceTimeoutMs: 30_000, pollIntervalMs: 0 });
    expect(r.outcome, r.message).toBe('passed');
    const never = cluster({ enforceAfterMs: Number.POSITIVE_INFINITY, restoreAfterMs: 0, roundMs: 8000 });
    const r2 = await runScenario(scenario, never, {
      clock: never.clock,
      enforceTimeoutMs: 30_000,
      pollIntervalMs: 0,
    });
    expect(r2.outcome).toBe('failed');
    expect(r2.message).toMatch(/^not enforced within 30s \(8 rounds, 0 flaps\)/);
    const fast = cluster({ enforceAfterMs: Number.POSITIVE_INFINITY, restoreAfterMs: 0, roundMs: 20_000 });
    const r3 = await runScenario(scenario, fast, {
      clock: fast.clock,
      enforceTimeoutMs: 30_000,
      pollIntervalMs: 0,
    });
    // 20 s rounds: the doubled deadline (60 s) ends it after 3 rounds, not 8
    expect(r3.message).toMatch(/^not enforced within 30s \(3 rounds, 0 flaps\)/);
  });

  it('probe errors are infrastructure failures, never denies: outcome error, not a pass', async () => {
    // every cell that should be denied comes back as error: if errors counted as denies this would "pass"
    const c = cluster({
      enforceAfterMs: 0,
      restoreAfterMs: 0,
      verdict: (k, { enforced }) => (enforced && k.to.startsWith('x/') ? 'error' : undefined),
    });
    const r = await runScenario(scenario, c, { clock: c.clock, enforceTimeoutMs: 3000, pollIntervalMs: 250 });
    expect(r.outcome).toBe('error');
    expect(r.message).toMatch(/probe errors in the last round \(infrastructure, not a verdict\)/);
    expect(r.grids[0]!.observed['y/a']!['x/a']).toBe('error');
    expect(formatGrid(r.grids[0]!)).toContain(' E ');
  });

  it('a prober that throws is an infrastructure error too', async () => {
    const c = cluster({ enforceAfterMs: 0, restoreAfterMs: 0 });
    const prober: PolicyProber = {
      async probe() {
        c.clock.t += 1000;
        throw new Error('exec into x/a: container not running');
      },
    };
    const r = await runScenario(
      scenario,
      { prober, applier: c.applier },
      { clock: c.clock, enforceTimeoutMs: 2000, restoreTimeoutMs: 2000 },
    );
    expect(r.outcome).toBe('error');
    expect(r.message).toContain('prober failed: exec into x/a: container not running');
  });

  it('a failed apply is an error, and the runner still tries to remove what may have been created', async () => {
    const c = cluster({ enforceAfterMs: 0, restoreAfterMs: 0, failApply: true });
    const r = await runScenario(scenario, c, { clock: c.clock });
    expect(r.outcome).toBe('error');
    expect(r.message).toContain('admission webhook denied the request');
    expect(c.applier.calls).toEqual(['apply 1', 'remove 1']);
    expect(c.prober.rounds).toBe(0);
  });

  it('invalid policies are a UsageError before anything is applied', async () => {
    const c = cluster({ enforceAfterMs: 0, restoreAfterMs: 0 });
    const bad = {
      ...scenario,
      policies: [
        {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          metadata: { name: 'b', namespace: 'x' },
          spec: { podSelecter: {} },
        },
      ],
    };
    await expect(runScenario(bad, c, { clock: c.clock })).rejects.toBeInstanceOf(UsageError);
    expect(c.applier.calls).toEqual([]);
  });

  it('a scenario without policies is a control round: it waits for full reachability', async () => {
    // fresh pods: the first two rounds still see timeouts, as when Calico has not programmed them yet
    const c = cluster({
      enforceAfterMs: 0,
      restoreAfterMs: 0,
      verdict: (_k, { round }) => (round <= 2 ? 'timeout' : 'connected'),
    });
    const r = await runScenario({ ...scenario, name: 'control', policies: [] }, c, {
      clock: c.clock,
      stableRounds: 2,
      pollIntervalMs: 0,
    });
    expect(r.outcome).toBe('passed');
    expect(r.timeToEnforceMs).toBe(3000);
    expect(c.applier.calls).toEqual(['apply 0', 'remove 0']);
  });

  it('stops when aborted', async () => {
    const c = cluster({ enforceAfterMs: Number.POSITIVE_INFINITY, restoreAfterMs: 0 });
    const ac = new AbortController();
    ac.abort(new Error('interrupted'));
    await expect(runScenario(scenario, c, { clock: c.clock, signal: ac.signal })).rejects.toThrow(
      'interrupted',
    );
  });
});
