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
 * Env: KUBECONFIG (required), SETS (default 4), ROUNDS (default 100), TIMEOUTS (ms list, default 1000,2000),
 * PREFIX (namespace prefix, default ccfloor-), AGNHOST_IMAGE (default: the lab's agnhost, lab/lab.lock.json).
 * Last line: `floor_ms=… sets=… rounds=… probes_per_round=…`.
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
import { Prober } from '../harness/probe/prober.js';

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
    for (const timeoutMs of timeouts) {
      const prober = new ProberPolicyProber(
        new Prober(new KubePodExecutor(kube), { probeTimeoutMs: timeoutMs }),
        model,
        POLICY_PROBE_CONTAINER,
      );
      let falseVerdicts = 0;
      let errors = 0;
      let worstRound = 0;
      const durations: number[] = [];
      const examples: string[] = [];
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
      durations.sort((a, b) => a - b);
      const median = durations[Math.floor(durations.length / 2)]! / 1000;
      const p95 = durations[Math.floor(durations.length * 0.95)]! / 1000;
      console.log(
        `timeout_ms=${timeoutMs} rounds=${rounds} probes=${rounds * keys.length} false=${falseVerdicts} ` +
          `errors=${errors} worst_round=${worstRound} round_median_s=${median.toFixed(2)} round_p95_s=${p95.toFixed(2)}`,
      );
      for (const e of examples) log(`  e.g. ${e}`);
      if (falseVerdicts === 0 && errors === 0 && floor === undefined) floor = timeoutMs;
    }
    console.log(`floor_ms=${floor ?? 'none'} sets=${sets} rounds=${rounds} probes_per_round=${keys.length}`);
    return floor === undefined ? 1 : 0;
  });
}

runBench('bench:probe-floor', main);
