/**
 * bench:probe-floor — the shortest in-pod probe timeout that gives no false "timeout" on a loaded cluster.
 *
 * Against an existing cluster with Calico (KUBECONFIG, e.g. one left by `run --lab --until verify`): makes
 * SETS namespace sets of the policy model (x,y,z × a,b,c, TCP/UDP 80/81 — the policy suite's own pods),
 * then for each timeout in TIMEOUTS runs ROUNDS all-allowed rounds over every set at once (SETS × 288
 * probes per round, the load of SETS concurrent scenarios) with no policy applied, so every probe must
 * connect: anything else is a false verdict. Prints one line per timeout and the floor: the shortest
 * timeout with zero false verdicts. Removes its namespaces at the end (also on SIGINT).
 *
 * SESSIONS=on (the default) probes through one long-lived exec per source pod (probe/session.ts), closed
 * after each timeout's rounds, and then counts the session loops left in the pods (must be 0); SESSIONS=off
 * opens one exec per source pod per round.
 *
 * Env: KUBECONFIG (required), SETS (default 4), ROUNDS (default 100), TIMEOUTS (ms list, default 1000,2000),
 * SESSIONS (on|off, default on), PREFIX (namespace prefix, default ccfloor-), AGNHOST_IMAGE (default: the
 * lab's agnhost, lab/lab.lock.json). Infrastructure failures (a source pod's batch that could not run) are
 * counted apart from false verdicts (`infra=`, in batches).
 * Last line: `floor_ms=… sets=… rounds=… probes_per_round=… sessions=…`.
 */
import { ClientNodeKube } from '../harness/kube/client.js';
import { agnhostImage, readLabLock } from '../harness/lab/lock.js';
import type { ProbeKey } from '../harness/model/connectivity.js';
import {
  makeNamespaceSets,
  mergeModels,
  namespaceSetNames,
  POLICY_NAMESPACES_GONE_MS,
  POLICY_PROBE_CONTAINER,
  policySetPrefix,
  removePolicyNamespaces,
} from '../harness/policy/live.js';
import { ProberPolicyProber } from '../harness/policy/live-adapters.js';
import { KubePodExecutor } from '../harness/probe/kube-executor.js';
import { type ProbeRequest, ProbeRoundError, Prober } from '../harness/probe/prober.js';
import { sessionLoopsLeft } from '../harness/probe/session.js';

import { log, runBench, withCleanup } from './support.js';

function intEnv(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < 1)
    throw new Error(`${name}: ${JSON.stringify(v)} is not a whole number ≥ 1`);
  return Number(v);
}

async function main(): Promise<number> {
  const kubeconfig = process.env.KUBECONFIG;
  if (!kubeconfig) throw new Error('KUBECONFIG: the kubeconfig of a cluster with Calico is required');
  const sets = intEnv('SETS', 4);
  const rounds = intEnv('ROUNDS', 100);
  const timeouts = (process.env.TIMEOUTS ?? '1000,2000').split(',').map((t) => {
    if (!/^\d+$/.test(t) || Number(t) < 1000)
      throw new Error(`TIMEOUTS: ${t} is not a whole number of ms ≥ 1000`);
    return Number(t);
  });
  const sessions = (process.env.SESSIONS ?? 'on') === 'on';
  if (!['on', 'off', undefined].includes(process.env.SESSIONS))
    throw new Error(`SESSIONS: ${JSON.stringify(process.env.SESSIONS)} is not on or off`);
  const prefix = process.env.PREFIX ?? 'ccfloor-';
  const image = process.env.AGNHOST_IMAGE ?? agnhostImage(readLabLock());
  const kube = ClientNodeKube.fromFile(kubeconfig);
  const ids = [...Array(sets).keys()];
  const prefixes = ids.map((s) => policySetPrefix(prefix, s));
  const namespaces = namespaceSetNames(prefixes);
  const cleanup = async () => {
    log(`removing ${namespaces.length} namespaces`);
    await removePolicyNamespaces(kube, namespaces, { timeoutMs: POLICY_NAMESPACES_GONE_MS });
  };
  return withCleanup(cleanup, async () => {
    const t0 = performance.now();
    const models = await makeNamespaceSets(kube, prefixes, { image });
    log(`${sets} sets (${sets * 9} pods) ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const model = mergeModels(models);
    const keys: ProbeKey[] = [];
    for (const m of models)
      for (const a of m.pods)
        for (const b of m.pods)
          if (a !== b)
            for (const p of m.ports)
              keys.push({
                from: `${a.namespace}/${a.name}`,
                to: `${b.namespace}/${b.name}`,
                port: p.port,
                protocol: p.protocol,
              });
    let floor: number | undefined;
    const executor = new KubePodExecutor(kube);
    for (const timeoutMs of timeouts) {
      const inner = new Prober(executor, { probeTimeoutMs: timeoutMs, sessions });
      const infra: string[] = [];
      const prober = new ProberPolicyProber(
        {
          round: (requests: readonly ProbeRequest[], signal?: AbortSignal) =>
            inner.round(requests, signal).catch((e: unknown) => {
              if (e instanceof ProbeRoundError)
                infra.push(...e.failures.map((f) => f.message.split('\n')[0]!));
              throw e;
            }),
        },
        model,
        POLICY_PROBE_CONTAINER,
      );
      let falseVerdicts = 0;
      let errors = 0;
      let worstRound = 0;
      const durations: number[] = [];
      const examples: string[] = [];
      // the sessions are closed also when a round throws (the namespaces then go in the cleanup)
      try {
        for (let r = 0; r < rounds; r++) {
          const t = performance.now();
          const records = await prober.probe(keys);
          const ms = performance.now() - t;
          durations.push(ms);
          errors += keys.length - records.length;
          let bad = 0;
          for (const rec of records) {
            if (rec.verdict === 'error') errors++;
            else if (rec.verdict !== 'connected') {
              bad++;
              if (examples.length < 5)
                examples.push(
                  `${rec.from}>${rec.to} ${rec.protocol}/${rec.port}: ${rec.verdict} (${rec.detail ?? ''})`,
                );
            }
          }
          falseVerdicts += bad;
          worstRound = Math.max(worstRound, bad);
        }
      } finally {
        await inner.close();
      }
      durations.sort((a, b) => a - b);
      const median = durations[Math.floor(durations.length / 2)]! / 1000;
      const p95 = durations[Math.floor(durations.length * 0.95)]! / 1000;
      const mean = durations.reduce((a, b) => a + b, 0) / durations.length / 1000;
      console.log(
        `timeout_ms=${timeoutMs} sessions=${sessions ? 'on' : 'off'} rounds=${rounds} probes=${rounds * keys.length} false=${falseVerdicts} ` +
          `errors=${errors} infra=${infra.length} worst_round=${worstRound} round_median_s=${median.toFixed(2)} ` +
          `round_mean_s=${mean.toFixed(2)} round_p95_s=${p95.toFixed(2)}` +
          (sessions ? ` sessions_opened=${inner.sessionStats.opened}` : ''),
      );
      for (const e of examples) log(`  e.g. ${e}`);
      for (const f of infra.slice(0, 5)) log(`  infra: ${f}`);
      if (sessions)
        log(
          `session loops left in the pods after close: ${(await sessionLoopsLeft(executor, inner.sessionPods)).reduce((n, c) => n + (c.loops ?? 0), 0)}`,
        );
      if (falseVerdicts === 0 && errors === 0 && floor === undefined) floor = timeoutMs;
    }
    console.log(
      `floor_ms=${floor ?? 'none'} sets=${sets} rounds=${rounds} probes_per_round=${keys.length} sessions=${sessions ? 'on' : 'off'}`,
    );
    return floor === undefined ? 1 : 0;
  });
}

runBench('bench:probe-floor', main);
