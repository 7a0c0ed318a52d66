import { describe, expect, it } from 'vitest';
import type { ProbeKey, ProbeRecord } from '../../../harness/model/connectivity.js';
import { runScheduled, type ScheduledScenario } from '../../../harness/policy/concurrent.js';
import { liveModel, policySetPrefix } from '../../../harness/policy/live.js';
import { defaultPolicyConcurrency, standardModel } from '../../../harness/policy/model.js';
import { expectTruthTable } from '../../../harness/policy/oracle.js';
import { validatePolicies } from '../../../harness/policy/parse.js';
import type { PolicyApplier, PolicyProber } from '../../../harness/policy/runner.js';
import { SharedRounds } from '../../../harness/policy/shared-rounds.js';
import type { PolicyModel } from '../../../harness/policy/types.js';

const key = (from: string, to: string): ProbeKey => ({ from, to, port: 80, protocol: 'TCP' });
const rec = (k: ProbeKey): ProbeRecord => ({ ...k, verdict: 'connected', durationMs: 1 });

/** A prober that records each round it was asked for and answers every probe "connected". */
function countingProber(delayMs = 5): PolicyProber & { rounds: ProbeKey[][] } {
  const rounds: ProbeKey[][] = [];
  return {
    rounds,
    async probe(keys) {
      rounds.push(keys);
      await new Promise((r) => setTimeout(r, delayMs));
      return keys.map(rec);
    },
  };
}

describe('SharedRounds', () => {
  it('starts one round for every participant that waits and hands each exactly its own records', async () => {
    const inner = countingProber();
    const shared = new SharedRounds(inner, 1000);
    const a = shared.join();
    const b = shared.join();
    const [ra, rb] = await Promise.all([
      a.probe([key('s0/x/a', 's0/y/a')]),
      b.probe([key('s1/x/a', 's1/y/a')]),
    ]);
    expect(inner.rounds).toHaveLength(1);
    expect(inner.rounds[0]).toHaveLength(2);
    expect(ra.map((r) => r.from)).toEqual(['s0/x/a']);
    expect(rb.map((r) => r.from)).toEqual(['s1/x/a']);
  });

  it('does not wait longer than gatherMs for a participant that is busy elsewhere', async () => {
    const inner = countingProber();
    const shared = new SharedRounds(inner, 30);
    const a = shared.join();
    shared.join(); // joined, but applying its policies: never asks in this test
    const t0 = performance.now();
    await a.probe([key('s0/x/a', 's0/y/a')]);
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(25);
    expect(waited).toBeLessThan(1000);
    expect(inner.rounds).toHaveLength(1);
  });

  it('a request made during a round goes into the next one; leaving lets the rest go at once', async () => {
    const inner = countingProber(40);
    const shared = new SharedRounds(inner, 10_000);
    const a = shared.join();
    const b = shared.join();
    const first = Promise.all([a.probe([key('a', 'b')]), b.probe([key('c', 'd')])]);
    await new Promise((r) => setTimeout(r, 10)); // the first round is running
    const late = a.probe([key('a', 'b')]);
    b.leave(); // b is done: a alone is everyone, no gather wait
    await first;
    await late;
    expect(inner.rounds.map((r) => r.length)).toEqual([2, 1]);
    expect(shared.stats).toMatchObject({ rounds: 2, probes: 3, largestRound: 2 });
  });

  it('a failed round rejects every participant of that round with the prober error', async () => {
    const shared = new SharedRounds(
      {
        probe: async () => {
          throw new Error('exec broke');
        },
      },
      1000,
    );
    const a = shared.join();
    const b = shared.join();
    const results = await Promise.allSettled([a.probe([key('a', 'b')]), b.probe([key('c', 'd')])]);
    expect(results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'ok'))).toEqual([
      'exec broke',
      'exec broke',
    ]);
  });
});

/**
 * A cluster double for the scheduler: each namespace set's pods answer as the oracle says for the policies
 * applied in that set's namespaces right now (cluster-scoped policies apply everywhere), so a scenario
 * converges exactly when its policies are "enforced"; it records which scenarios overlapped.
 */
function clusterDouble(models: PolicyModel[]) {
  const applied = new Map<string, object[]>();
  let running = 0;
  const log = { maxAtOnce: 0, aloneWhenExclusive: [] as boolean[] };
  const applier: PolicyApplier = {
    async apply(docs) {
      running++;
      log.maxAtOnce = Math.max(log.maxAtOnce, running);
      const cluster = docs.some((d) => (d as { kind: string }).kind === 'GlobalNetworkPolicy');
      if (cluster) log.aloneWhenExclusive.push(running === 1);
      applied.set(JSON.stringify(docs), docs);
    },
    async remove(docs) {
      running--;
      applied.delete(JSON.stringify(docs));
    },
  };
  const prober: PolicyProber = {
    async probe(keys) {
      await new Promise((r) => setTimeout(r, 2));
      const docs = validatePolicies([...applied.values()].flat());
      const tables = models.map((m) => expectTruthTable(m, docs));
      return keys.map((k) => {
        const t = tables.find((_, i) => models[i]!.pods.some((p) => `${p.namespace}/${p.name}` === k.from))!;
        const allowed = t.get(k.from, k.to, k.port, k.protocol)?.allowed;
        return { ...k, verdict: allowed ? 'connected' : 'timeout', durationMs: 1 };
      });
    },
  };
  return { applier, prober, log };
}

describe('runScheduled', () => {
  const sets = 3;
  const models = [...Array(sets).keys()].map((set) =>
    liveModel(
      policySetPrefix('t-', set),
      (k) => `10.${set}.${standardModel().pods.findIndex((p) => `${p.namespace}/${p.name}` === k)}.1`,
      set,
    ),
  );
  const denyIngress = (set: number, ns: string) => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: `deny-${ns}`, namespace: `${policySetPrefix('t-', set)}${ns}` },
    spec: { podSelector: {}, policyTypes: ['Ingress'] },
  });
  const scenario = (name: string, ns: string): ScheduledScenario => ({
    name,
    tags: ['t'],
    input: (set) => ({ name, tags: ['t'], model: models[set]!, policies: [denyIngress(set, ns)] }),
  });
  const fast = { enforceTimeoutMs: 2_000, restoreTimeoutMs: 2_000, pollIntervalMs: 1, stableRounds: 2 };

  it('runs K scenarios at once, one per namespace set, each with its own table and times', async () => {
    const d = clusterDouble(models);
    const names = ['s1', 's2', 's3', 's4', 's5', 's6'];
    const out = await runScheduled(
      names.map((n, i) => scenario(n, ['x', 'y', 'z'][i % 3]!)),
      d,
      { sets, runner: fast, gatherMs: 5 },
    );
    expect([...out.results.values()].map((r) => [r.name, r.outcome])).toEqual(
      expect.arrayContaining(names.map((n) => [n, 'passed'])),
    );
    expect(d.log.maxAtOnce).toBe(3);
    for (const r of out.results.values()) {
      expect(r.timeToEnforceMs).toBeGreaterThanOrEqual(0);
      expect(r.timeToRestoreMs).toBeGreaterThanOrEqual(0);
      expect(r.namespaceSet).toBeGreaterThanOrEqual(0);
    }
    // rounds were shared: fewer prober rounds than the scenarios' rounds added up
    const scenarioRounds = [...out.results.values()].reduce((n, r) => n + r.rounds, 0);
    expect(out.rounds.rounds).toBeLessThan(scenarioRounds);
  });

  it('runs a cluster-scoped scenario alone, after the others, and says why', async () => {
    const d = clusterDouble(models);
    const gnp: ScheduledScenario = {
      name: 'gnp',
      tags: ['calico'],
      exclusive: 'GlobalNetworkPolicy is cluster-scoped',
      input: (set) => ({
        name: 'gnp',
        tags: ['calico'],
        model: models[set]!,
        policies: [
          {
            apiVersion: 'projectcalico.org/v3',
            kind: 'GlobalNetworkPolicy',
            metadata: { name: 'gnp' },
            spec: { selector: "pod == 'a'", types: ['Ingress'], ingress: [{ action: 'Deny' }] },
          },
        ],
      }),
    };
    const out = await runScheduled([gnp, scenario('s1', 'x'), scenario('s2', 'y')], d, {
      sets,
      runner: fast,
      gatherMs: 5,
    });
    expect(d.log.aloneWhenExclusive).toEqual([true]);
    expect(out.results.get('gnp')).toMatchObject({
      outcome: 'passed',
      ranAlone: 'GlobalNetworkPolicy is cluster-scoped',
    });
  });

  it('a scenario that cannot restore poisons only its own set; the others carry on', async () => {
    const d = clusterDouble(models);
    const stuck: ScheduledScenario = {
      ...scenario('stuck', 'x'),
      // its remove "fails" silently: the policy stays, so restore never converges
      input: (set) => ({
        name: 'stuck',
        tags: ['t'],
        model: models[set]!,
        policies: [denyIngress(set, 'x')],
      }),
    };
    const applier: PolicyApplier = {
      apply: d.applier.apply,
      remove: async (docs) => {
        if (
          (docs[0] as { metadata: { namespace: string } }).metadata.namespace.endsWith('x') &&
          docs.length === 1 &&
          stuckOnce
        ) {
          stuckOnce = false;
          return; // left in place
        }
        return d.applier.remove(docs);
      },
    };
    let stuckOnce = true;
    const out = await runScheduled(
      [stuck, scenario('s1', 'y'), scenario('s2', 'z'), scenario('s3', 'y')],
      { prober: d.prober, applier },
      {
        sets: 2,
        runner: fast,
        gatherMs: 5,
      },
    );
    expect(out.results.get('stuck')?.outcome).toBe('failed');
    for (const n of ['s1', 's2', 's3']) expect(out.results.get(n)?.outcome, n).toBe('passed');
    const stuckSet = out.results.get('stuck')!.namespaceSet;
    for (const n of ['s1', 's2', 's3']) expect(out.results.get(n)?.namespaceSet, n).not.toBe(stuckSet);
  });
});

describe('defaultPolicyConcurrency', () => {
  it('two sets per node, at most one per CPU of this machine (kind nodes share them), at least 1, at most 8', () => {
    expect(defaultPolicyConcurrency(2, 2)).toBe(2); // the 2-core lab (README, Benchmarks)
    expect(defaultPolicyConcurrency(2, 1)).toBe(1);
    expect(defaultPolicyConcurrency(4, 8)).toBe(8);
    expect(defaultPolicyConcurrency(3, 64)).toBe(6);
    expect(defaultPolicyConcurrency(10, 64)).toBe(8);
    expect(defaultPolicyConcurrency(0, 0)).toBe(1);
  });
});
