/**
 * bench:probes — the batched prober against a one-exec-per-probe baseline, in the same run, on the same
 * docker-backed pods: 9 pods (3 test nodes × 3 network-namespace pods), every ordered pair × 4
 * port/protocol combinations (TCP/UDP × 80/81), with about a third of the pairs denied by planted
 * iptables DROP rules (a deny costs a full probe timeout, the expensive case).
 *
 * The baseline runs the very same in-pod script with one probe per exec and, like the Kubernetes netpol e2e
 * (getWorkers() = 3, kubernetes test/e2e/network/netpol/probe.go), 3 execs at a time; BASELINE_CONCURRENCY
 * overrides. Both runs must observe the same verdict matrix (denied pairs: timeout; others: connected with
 * the right name), or the bench fails.
 *
 * Last line: `probes=N batched_s=X per_probe_s=Y speedup=Z`.
 */

import type { ProbeRecord, Protocol } from '../harness/model/connectivity.js';
import { type ProbeRequest, Prober } from '../harness/probe/prober.js';
import { PodBed } from '../test/docker/probe/pod-bed.js';

// 2 s: an allowed probe must answer within it while 288 probes start at once on a shared 2-core machine
// (on kind about 1 s suffices for a deny and 2–3 s for an allow; the netpol e2e uses 1 s)
const PROBE_TIMEOUT_MS = Number(process.env.PROBE_TIMEOUT_MS ?? 2000);
const BASELINE_CONCURRENCY = Number(process.env.BASELINE_CONCURRENCY ?? 3);
const ROUNDS = Number(process.env.BATCHED_ROUNDS ?? 3);
const COMBOS: { port: number; protocol: Protocol }[] = [
  { port: 80, protocol: 'TCP' },
  { port: 81, protocol: 'TCP' },
  { port: 80, protocol: 'UDP' },
  { port: 81, protocol: 'UDP' },
];

const log = (s: string) => process.stderr.write(`${s}\n`);

async function main(): Promise<number> {
  const bed = new PodBed({ nodes: 3, serversPerNode: 3, clientsPerNode: 0 });
  const cleanup = async () => {
    const left = await bed.dispose();
    if (left.length > 0) log(`could not remove: ${left.join(', ')}`);
  };
  const onSignal = () => {
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const t0 = performance.now();
    await bed.start();
    log(`bed: 3 nodes, ${bed.servers.length} pods in ${((performance.now() - t0) / 1000).toFixed(1)}s`);
    const pods = bed.servers;
    const key = (i: number) => `${pods[i]?.pod.namespace}/${pods[i]?.pod.name}`;
    const denied = new Set<string>();
    for (let i = 0; i < pods.length; i++) {
      for (let j = 0; j < pods.length; j++) {
        // each pod is denied towards the next three pods (mod 9): 27 of 72 ordered pairs, 37.5 %
        if (i !== j && [1, 2, 3].includes((j - i + pods.length) % pods.length))
          denied.add(`${key(i)}>${key(j)}`);
      }
    }
    // plant the denies on the source pod's node (its FORWARD chain sees every packet the pod sends)
    for (const pair of denied) {
      const [from, to] = pair.split('>');
      const src = pods.find((p) => `${p.pod.namespace}/${p.pod.name}` === from);
      const dst = pods.find((p) => `${p.pod.namespace}/${p.pod.name}` === to);
      if (!src || !dst) throw new Error(`bad pair ${pair}`);
      // only new flows: the replies of the allowed reverse direction must pass
      await bed
        .nodeOf(src)
        .sh([
          'iptables',
          '-A',
          'FORWARD',
          '-s',
          src.ip,
          '-d',
          dst.ip,
          '-m',
          'conntrack',
          '--ctstate',
          'NEW',
          '-j',
          'DROP',
        ]);
    }
    const requests: ProbeRequest[] = [];
    pods.forEach((src, i) => {
      pods.forEach((dst, j) => {
        if (i === j) return;
        for (const c of COMBOS) {
          requests.push({
            source: src.pod,
            from: key(i),
            to: key(j),
            host: dst.ip,
            port: c.port,
            protocol: c.protocol,
            expectName: dst.answersAs,
          });
        }
      });
    });
    const pairs = pods.length * (pods.length - 1);
    log(
      `probes: ${requests.length} (${pairs} ordered pairs × ${COMBOS.length}); denied pairs: ${denied.size} (${(
        (100 * denied.size) / pairs
      ).toFixed(0)}%); probe timeout ${PROBE_TIMEOUT_MS}ms`,
    );

    const prober = new Prober(bed.executor, { probeTimeoutMs: PROBE_TIMEOUT_MS });
    const check = (records: ProbeRecord[], what: string) => {
      const wrong = records.filter((r) => {
        const deny = denied.has(`${r.from}>${r.to}`);
        return deny ? r.verdict !== 'timeout' : r.verdict !== 'connected';
      });
      if (records.length !== requests.length || wrong.length > 0) {
        throw new Error(
          `${what}: ${wrong.length} wrong verdicts of ${records.length}: ${wrong
            .slice(0, 5)
            .map((r) => `${r.from}→${r.to} ${r.protocol}/${r.port} ${r.verdict} ${r.detail}`)
            .join('; ')}`,
        );
      }
    };

    // batched: one exec per source pod per round
    const roundTimes: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const s = performance.now();
      const recs = await prober.round(requests);
      const wall = (performance.now() - s) / 1000;
      roundTimes.push(wall);
      check(recs, `batched round ${r + 1}`);
      // durationMs counts from the in-pod script's start: the rest of the wall time is exec set-up/tear-down
      const inPod = Math.max(...recs.map((x) => x.durationMs)) / 1000;
      log(
        `  round ${r + 1}: ${wall.toFixed(2)}s wall, slowest probe ${inPod.toFixed(2)}s in the pod, exec overhead ≈ ${(wall - inPod).toFixed(2)}s`,
      );
    }
    const batched = [...roundTimes].sort((a, b) => a - b)[Math.floor(roundTimes.length / 2)] ?? 0;
    log(
      `batched rounds (s): ${roundTimes.map((t) => t.toFixed(2)).join(', ')}; median ${batched.toFixed(2)}`,
    );
    log(
      `batched round vs 2 × probe timeout (${((2 * PROBE_TIMEOUT_MS) / 1000).toFixed(1)}s): ${
        batched <= (2 * PROBE_TIMEOUT_MS) / 1000 ? 'within' : 'OVER'
      }`,
    );

    // baseline: one exec per probe, BASELINE_CONCURRENCY at a time
    const s = performance.now();
    const out: ProbeRecord[] = new Array(requests.length);
    let next = 0;
    await Promise.all(
      Array.from({ length: BASELINE_CONCURRENCY }, async () => {
        for (;;) {
          const i = next++;
          const req = requests[i];
          if (!req) return;
          const [rec] = await prober.runBatch(req.source, [req]);
          if (rec) out[i] = rec;
        }
      }),
    );
    const perProbe = (performance.now() - s) / 1000;
    check(out.filter(Boolean), 'per-probe baseline');
    log(
      `per-probe baseline: ${requests.length} execs, ${BASELINE_CONCURRENCY} at a time: ${perProbe.toFixed(2)}s`,
    );
    const speedup = perProbe / batched;
    process.stdout.write(
      `probes=${requests.length} batched_s=${batched.toFixed(2)} per_probe_s=${perProbe.toFixed(2)} speedup=${speedup.toFixed(1)}\n`,
    );
    return speedup >= 10 && batched <= (2 * PROBE_TIMEOUT_MS) / 1000 ? 0 : 1;
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    log(`bench:probes failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
