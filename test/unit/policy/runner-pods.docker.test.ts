/**
 * The runner end to end on real kernel state (Docker): pods are network namespaces in test node containers
 * (the probe engine's PodBed), probed by the real batched Prober through ProberPolicyProber. A "toy Felix"
 * applier programs the oracle's denied cells as iptables DROP rules in a chain of its own, after a delay,
 * so time-to-enforce and time-to-restore are measured on real packets; a second run forgets one cell and
 * must fail with exactly that cell in the difference grid.
 *
 * Lives beside the other policy tests (this helper's folder), skipped without Docker (describeDocker).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { POLICY_PROBE_CONTAINER } from '../../../harness/policy/live.js';
import { ProberPolicyProber } from '../../../harness/policy/live-adapters.js';
import { expectTruthTable } from '../../../harness/policy/oracle.js';
import { validatePolicies } from '../../../harness/policy/parse.js';
import { formatScenarioFailure, type PolicyApplier, runScenario } from '../../../harness/policy/runner.js';
import type { PolicyModel } from '../../../harness/policy/types.js';
import { Prober } from '../../../harness/probe/prober.js';
import { POD_NAMESPACE, PodBed } from '../../docker/probe/pod-bed.js';
import { describeDocker } from '../../support/docker.js';

const CHAIN = 'TOY-POLICY';

describeDocker('policy runner on docker-backed pods', () => {
  const pods = new PodBed({ nodes: 2, serversPerNode: 2, clientsPerNode: 0 });
  let model: PolicyModel;
  let prober: ProberPolicyProber;

  const policy = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'only-n0-0-on-80', namespace: POD_NAMESPACE },
    spec: {
      podSelector: { matchLabels: { app: 'server-n1-0' } },
      ingress: [{ from: [{ podSelector: { matchLabels: { app: 'server-n0-0' } } }], ports: [{ port: 80 }] }],
    },
  };

  beforeAll(async () => {
    await pods.start();
    model = {
      namespaces: [{ name: POD_NAMESPACE, labels: {} }],
      pods: pods.servers.map((s) => ({
        namespace: s.pod.namespace,
        name: s.pod.name,
        labels: { app: s.pod.name },
        ip: s.ip,
      })),
      ports: [80, 81].flatMap((port) =>
        (['TCP', 'UDP'] as const).map((protocol) => ({
          port,
          protocol,
          name: `serve-${port}-${protocol.toLowerCase()}`,
        })),
      ),
    };
    // a bed pod is one network namespace: the docker executor has no containers to choose between
    prober = new ProberPolicyProber(
      new Prober(pods.executor, { probeTimeoutMs: 1000 }),
      model,
      POLICY_PROBE_CONTAINER,
    );
    for (const bn of pods.nodes) {
      await bn.node.sh(['iptables', '-N', CHAIN]);
      await bn.node.sh(['iptables', '-I', 'FORWARD', '1', '-j', CHAIN]);
    }
  }, 180_000);

  afterAll(async () => {
    expect(await pods.dispose()).toEqual([]);
  }, 60_000);

  /** Programs the oracle's denied cells as DROP rules on the destination's node, `delayMs` after apply. */
  function toyFelix(
    delayMs: number,
    forget?: (cell: string) => boolean,
  ): PolicyApplier & { settled: () => Promise<void> } {
    let pending: Promise<void> = Promise.resolve();
    const later = (fn: () => Promise<void>) => {
      pending = new Promise<void>((resolve, reject) => setTimeout(() => fn().then(resolve, reject), delayMs));
    };
    return {
      settled: () => pending,
      async apply(docs) {
        const table = expectTruthTable(model, validatePolicies(docs));
        later(async () => {
          for (const e of table.entries()) {
            if (e.allowed || forget?.(`${e.from}>${e.to} ${e.protocol}/${e.port}`)) continue;
            const src = model.pods.find((p) => `${p.namespace}/${p.name}` === e.from)!;
            const dst = pods.servers.find((s) => `${s.pod.namespace}/${s.pod.name}` === e.to)!;
            await pods
              .nodeOf(dst)
              .sh([
                'iptables',
                '-A',
                CHAIN,
                '-s',
                src.ip,
                '-d',
                dst.ip,
                '-p',
                e.protocol.toLowerCase(),
                '--dport',
                String(e.port),
                '-j',
                'DROP',
              ]);
          }
        });
      },
      async remove() {
        await pending;
        later(async () => {
          for (const bn of pods.nodes) await bn.node.sh(['iptables', '-F', CHAIN]);
        });
      },
    };
  }

  it('measures time-to-enforce and time-to-restore on real packets', async () => {
    const felix = toyFelix(1500);
    const r = await runScenario(
      { name: 'toy', tags: ['docker'], model, policies: [policy] },
      { prober, applier: felix },
      { pollIntervalMs: 200, enforceTimeoutMs: 20_000, restoreTimeoutMs: 20_000 },
    );
    await felix.settled();
    expect(r.outcome, formatScenarioFailure(r)).toBe('passed');
    // nothing can be observed before the rules exist, and 3 agreeing rounds followed
    expect(r.timeToEnforceMs).toBeGreaterThanOrEqual(1500);
    expect(r.timeToRestoreMs).toBeGreaterThanOrEqual(1500);
    expect(r.rounds).toBeGreaterThanOrEqual(4);
    const tcp80 = r.grids.find((g) => g.protocol === 'TCP' && g.port === 80)!;
    expect(tcp80.observed['probes/server-n0-0']!['probes/server-n1-0']).toBe('connected');
    expect(tcp80.observed['probes/server-n0-1']!['probes/server-n1-0']).toBe('timeout');
    const udp81 = r.grids.find((g) => g.protocol === 'UDP' && g.port === 81)!;
    expect(udp81.observed['probes/server-n0-0']!['probes/server-n1-0']).toBe('timeout');
  }, 90_000);

  it('a dataplane that misses one cell fails with that cell in the difference grid', async () => {
    const felix = toyFelix(0, (cell) => cell === 'probes/server-n1-1>probes/server-n1-0 UDP/80');
    const r = await runScenario(
      { name: 'toy-miss', tags: ['docker'], model, policies: [policy] },
      { prober, applier: felix },
      { pollIntervalMs: 200, enforceTimeoutMs: 4000, restoreTimeoutMs: 20_000 },
    );
    await felix.settled();
    expect(r.outcome).toBe('failed');
    expect(r.message).toMatch(
      /1 cells differ in the last round; e\.g\. probes\/server-n1-1>probes\/server-n1-0>UDP\/80: expected denied, saw connected/,
    );
    expect(formatScenarioFailure(r)).toContain('1 difference');
    expect(r.timeToRestoreMs).toBeDefined();
  }, 90_000);
});
