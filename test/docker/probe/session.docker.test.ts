/**
 * Probe sessions on real containers: one long-lived `docker exec -i` per source pod (a network namespace in
 * a test node container, as in the probe engine's other docker tests) runs the session loop of script.ts
 * under dash (the Debian test image's sh) and takes every round's batch on stdin. The processes in the
 * containers are counted by their command line: one loop per source pod while the prober lives, the same
 * process from round to round, none after close().
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Protocol } from '../../../harness/model/connectivity.js';
import type { TopologyPod } from '../../../harness/probe/checks.js';
import { ProbeInfrastructureError } from '../../../harness/probe/executor.js';
import { type ProbeRequest, ProbeRoundError, Prober } from '../../../harness/probe/prober.js';
import { sessionArgv } from '../../../harness/probe/script.js';
import { ProbeSession } from '../../../harness/probe/session.js';
import { describeDocker } from '../../support/docker.js';
import { PodBed } from './pod-bed.js';

const PORTS: { port: number; protocol: Protocol }[] = [
  { port: 80, protocol: 'TCP' },
  { port: 81, protocol: 'TCP' },
  { port: 80, protocol: 'UDP' },
  { port: 81, protocol: 'UDP' },
];

describeDocker('probe sessions: one long-lived exec per source pod', () => {
  const pods = new PodBed({ nodes: 2, serversPerNode: 1, clientsPerNode: 1 });
  let sources: TopologyPod[];
  let targets: TopologyPod[];

  /** every source to every server on every port, and to a port nobody listens on (refused) */
  const matrix = (): ProbeRequest[] =>
    sources.flatMap((c) =>
      targets
        .filter((s) => s !== c)
        .flatMap((s) => [
          ...PORTS.map((pp) => ({
            source: c.pod,
            from: `${c.pod.namespace}/${c.pod.name}`,
            to: `${s.pod.namespace}/${s.pod.name}`,
            host: s.ip,
            port: pp.port,
            protocol: pp.protocol,
            expectName: s.answersAs,
          })),
          {
            source: c.pod,
            from: `${c.pod.namespace}/${c.pod.name}`,
            to: `${s.pod.namespace}/${s.pod.name}`,
            host: s.ip,
            port: 82,
            protocol: 'TCP' as Protocol,
            expectName: s.answersAs,
          },
        ]),
    );

  /** `node:pid:netns` of every session loop in the node containers (between rounds: the loops alone) */
  const loops = async (): Promise<string[]> => {
    const out: string[] = [];
    for (const bn of pods.nodes) {
      const r = await bn.node.shell.exec(
        [
          'sh',
          '-c',
          'for f in $(grep -la \'ccprobe-sessio[n]\' /proc/[0-9]*/cmdline 2>/dev/null); do p=$(basename "$(dirname "$f")"); echo "$p:$(ip netns identify $p 2>/dev/null)"; done',
        ],
        { timeoutMs: 10_000 },
      );
      for (const l of r.stdout.split('\n').filter(Boolean)) out.push(`${bn.node.name}:${l}`);
    }
    return out.sort();
  };
  const loopsSettled = async (want: number): Promise<string[]> => {
    let seen: string[] = [];
    for (let i = 0; i < 50; i++) {
      seen = await loops();
      if (seen.length === want) return seen;
      await new Promise((r) => setTimeout(r, 200));
    }
    return seen;
  };

  beforeAll(async () => {
    await pods.start();
    sources = [...pods.clients, ...pods.servers];
    targets = pods.servers;
    // port 81/TCP of the first server is dropped in the first client's own namespace: a probe timeout
    const [client] = pods.clients;
    const [server] = pods.servers;
    await pods
      .nodeOf(client!)
      .sh([
        'ip',
        'netns',
        'exec',
        client!.pod.name,
        'iptables',
        '-A',
        'OUTPUT',
        '-d',
        server!.ip,
        '-p',
        'tcp',
        '--dport',
        '81',
        '-j',
        'DROP',
      ]);
  }, 120_000);
  afterAll(async () => {
    expect(await pods.dispose()).toEqual([]);
    expect(await pods.bed.remaining()).toEqual([]);
  }, 60_000);

  it('gives the verdicts of one exec per round, through the same in-pod process every round, and close() leaves none', async () => {
    const reqs = matrix();
    const oneShot = await new Prober(pods.executor, { probeTimeoutMs: 2000 }).round(reqs);
    const prober = new Prober(pods.executor, { probeTimeoutMs: 2000, sessions: true });
    expect(prober.usesSessions).toBe(true);
    const view = (rs: typeof oneShot) =>
      rs.map((r) => `${r.from}>${r.to}:${r.port}/${r.protocol} ${r.verdict}`);
    try {
      const first = await prober.round(reqs);
      const pids = await loops();
      expect(pids).toHaveLength(sources.length);
      for (let r = 0; r < 3; r++) expect(view(await prober.round(reqs))).toEqual(view(oneShot));
      expect(view(first)).toEqual(view(oneShot));
      // the same processes: no exec was opened after the first round
      expect(await loops()).toEqual(pids);
      expect(prober.sessionStats).toEqual({ opened: sources.length, batches: 4 * sources.length });
      const verdicts = new Set(first.map((r) => r.verdict));
      expect([...verdicts].sort()).toEqual(['connected', 'refused', 'timeout']);
      // the dropped probe waited for its own 2 s timeout, the others did not
      const dropped = first.find((r) => r.verdict === 'timeout')!;
      expect(dropped.port).toBe(81);
      expect(dropped.durationMs).toBeGreaterThanOrEqual(1900);
      for (const r of first.filter((x) => x.verdict === 'connected')) {
        expect(r.answeredBy).toBe(r.to.split('/')[1]);
        expect(r.command).toMatch(/^docker exec /);
      }
    } finally {
      await prober.close();
    }
    expect(await loopsSettled(0)).toEqual([]);
  }, 120_000);

  it('a session killed under a batch fails that round as infrastructure; a dead session is replaced in the next round', async () => {
    const reqs = matrix();
    const prober = new Prober(pods.executor, { probeTimeoutMs: 2000, sessions: true });
    const [client] = pods.clients;
    const loopOf = async (pod: string) => (await loops()).find((l) => l.endsWith(`:${pod}`))!;
    const kill = async (loop: string) => {
      const [node, pid] = loop.split(':');
      await pods.nodes.find((b) => b.node.name === node)!.node.sh(['kill', '-9', pid!]);
    };
    try {
      await prober.round(reqs);
      // killed between rounds: its end is seen before the next round, which opens a new one and passes
      await kill(await loopOf(client!.pod.name));
      await new Promise((r) => setTimeout(r, 500));
      expect(await prober.round(reqs)).toHaveLength(reqs.length);
      expect(prober.sessionStats.opened).toBe(sources.length + 1);
      // killed while its batch waits for the dropped probe's 2 s timeout: that round cannot be judged
      const victim = await loopOf(client!.pod.name);
      const running = prober.round(reqs).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 700));
      await kill(victim);
      const err = await running;
      expect(err).toBeInstanceOf(ProbeRoundError);
      const f = (err as ProbeRoundError).failures;
      expect(f.map((x) => x.pod)).toEqual([`probes/${client!.pod.name}`]);
      expect(f[0]!.reason).toMatch(/^the probe session ended: the process in probes\/\S+ exited 137/);
      // the other sources' records are there; the broken one's are missing, never turned into verdicts
      const mine = reqs.filter((r) => r.source.name === client!.pod.name).length;
      expect((err as ProbeRoundError).completed).toHaveLength(reqs.length - mine);
      expect(await prober.round(reqs)).toHaveLength(reqs.length);
      expect(await loops()).toHaveLength(sources.length);
      expect(prober.sessionStats.opened).toBe(sources.length + 2);
    } finally {
      await prober.close();
    }
    expect(await loopsSettled(0)).toEqual([]);
  }, 120_000);

  it('a session cut while its batch runs (client killed at once) leaves no process in the pod', async () => {
    const [client] = pods.clients;
    const [server] = pods.servers;
    const session = new ProbeSession('c', pods.executor.openStream(client!.pod, sessionArgv()));
    const dropped = { mode: 'tcp' as const, host: server!.ip, port: 81, arg: 0, timeoutSeconds: 3 };
    expect(await session.batch([dropped], 20_000)).toMatch(/^\{"i":0,"tool":"nc","rc":1,.*timed out/);
    const running = session.batch([dropped], 20_000).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 500));
    // no grace: stdin ended and the docker client killed while the probe waits for its timeout
    const end = await session.close(0);
    expect(end.reason).toMatch(/ended by SIGKILL|exited/);
    expect(await running).toBeInstanceOf(ProbeInfrastructureError);
    expect(await loopsSettled(0)).toEqual([]);
  }, 60_000);
});
