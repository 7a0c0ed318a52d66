/**
 * The probe engine on real kernel state: two test nodes, pods as network namespaces, real servers, and
 * iptables DROP/REJECT rules planted by the test to create known verdict cells.
 */

import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Protocol, Verdict } from '../../../harness/model/connectivity.js';
import { mtuAcrossNodes, nodePodBothWays, podToExternal } from '../../../harness/probe/checks.js';
import { ProbeInfrastructureError } from '../../../harness/probe/executor.js';
import { podReturnRoutes, startExternalTarget } from '../../../harness/probe/external-target.js';
import { formatGridText, gridPasses, gridsFromRecords } from '../../../harness/probe/grid.js';
import {
  ControlRoundError,
  type ProbeRequest,
  ProbeRoundError,
  Prober,
} from '../../../harness/probe/prober.js';
import { CONNECTIVITY_CHECKS } from '../../../suites/connectivity-checks.js';
import { describeDocker, TEST_IMAGE, vxlanAddArgv } from '../../support/docker.js';
import { NAME_SERVER_PY, PodBed } from './pod-bed.js';

// 2 s: allowed probes must answer within it while other suites load the same 2 cores (a deny costs one timeout)
const PROBE_TIMEOUT_MS = 2000;

const PORTS: { port: number; protocol: Protocol }[] = [
  { port: 80, protocol: 'TCP' },
  { port: 81, protocol: 'TCP' },
  { port: 80, protocol: 'UDP' },
  { port: 81, protocol: 'UDP' },
];

describeDocker('probe engine on docker-backed pods', () => {
  const pods = new PodBed({ nodes: 2, serversPerNode: 1, clientsPerNode: 1, services: true });
  let prober: Prober;

  const key = (p: { pod: { namespace: string; name: string } }) => `${p.pod.namespace}/${p.pod.name}`;
  const matrix = (): ProbeRequest[] =>
    pods.clients.flatMap((c) =>
      pods.servers.flatMap((s) =>
        PORTS.map((pp) => ({
          source: c.pod,
          from: key(c),
          to: key(s),
          host: s.ip,
          port: pp.port,
          protocol: pp.protocol,
          expectName: s.answersAs,
        })),
      ),
    );

  /**
   * Forget learned path MTUs: an ICMP frag-needed leaves a per-destination exception on the route's
   * nexthop for 10 minutes (net.ipv4.route.mtu_expires), which `ip route flush cache` does not clear;
   * re-creating the pods' default route gives it a fresh nexthop without exceptions.
   */
  const flushPmtu = async () => {
    for (const p of [...pods.servers, ...pods.clients]) {
      const node = pods.nodeOf(p);
      await node.sh(['ip', '-n', p.pod.name, 'route', 'del', 'default']);
      await node.sh(['ip', '-n', p.pod.name, 'route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'eth0']);
    }
  };

  beforeAll(async () => {
    await pods.start();
    prober = new Prober(pods.executor, { probeTimeoutMs: PROBE_TIMEOUT_MS });
  }, 120_000);
  afterAll(async () => {
    expect(await pods.dispose()).toEqual([]);
    expect(await pods.bed.remaining()).toEqual([]);
  }, 60_000);

  it('passes the control round and every connectivity check on a healthy bed, one exec per source pod', async () => {
    let execs = 0;
    const counting = new Prober(
      {
        exec: (pod, argv, opts) => {
          execs++;
          return pods.executor.exec(pod, argv, opts);
        },
      },
      { probeTimeoutMs: PROBE_TIMEOUT_MS },
    );
    const records = await counting.controlRound(matrix());
    expect(execs).toBe(pods.clients.length);
    expect(records).toHaveLength(pods.clients.length * pods.servers.length * PORTS.length);
    for (const r of records) {
      expect(r.verdict).toBe('connected');
      expect(r.answeredBy).toBe(r.to.split('/')[1]);
    }
    // the suite's own check list (suites/connectivity-checks.ts), each check standing alone
    const outcomes = [];
    for (const check of CONNECTIVITY_CHECKS) outcomes.push(await check.run(prober, pods.topology()));
    const byName = Object.fromEntries(outcomes.map((o) => [o.result.name, o.result]));
    for (const o of outcomes) {
      if (o.result.name === 'pod-external-nat') expect(o.result.outcome).toBe('skipped');
      else expect(o.result.outcome, `${o.result.name}: ${o.result.details}`).toBe('passed');
    }
    expect(Object.keys(byName)).toEqual([
      'pod-pod-same-node',
      'pod-pod-cross-node',
      'pod-service',
      'node-pod-both-ways',
      'pod-external-nat',
      'dns-resolution',
      'mtu-1500',
    ]);
  }, 60_000);

  it('reports the exact matrix and verdict classes for planted DROP and REJECT rules', async () => {
    const [c0, c1] = pods.clients;
    const [s0, s1] = pods.servers;
    if (!c0 || !c1 || !s0 || !s1) throw new Error('bed has too few pods');
    const node0 = pods.nodeOf(c0);
    const rule = (args: string[]) => ['iptables', '-I', 'FORWARD', '-s', c0.ip, ...args];
    const planted = [
      rule(['-d', s1.ip, '-p', 'tcp', '--dport', '81', '-j', 'DROP']),
      rule(['-d', s1.ip, '-p', 'udp', '--dport', '81', '-j', 'DROP']),
      rule(['-d', s1.ip, '-p', 'tcp', '--dport', '80', '-j', 'REJECT', '--reject-with', 'tcp-reset']),
      rule(['-d', s1.ip, '-p', 'udp', '--dport', '80', '-j', 'REJECT']),
      rule([
        '-d',
        s0.ip,
        '-p',
        'tcp',
        '--dport',
        '81',
        '-j',
        'REJECT',
        '--reject-with',
        'icmp-host-unreachable',
      ]),
    ];
    for (const r of planted) await node0.sh(r);
    try {
      const records = await prober.round(matrix());
      const want: Record<string, Verdict> = {
        [`${key(c0)}>${key(s1)}:TCP/81`]: 'timeout',
        [`${key(c0)}>${key(s1)}:UDP/81`]: 'timeout',
        [`${key(c0)}>${key(s1)}:TCP/80`]: 'refused',
        [`${key(c0)}>${key(s1)}:UDP/80`]: 'refused',
        [`${key(c0)}>${key(s0)}:TCP/81`]: 'unreachable',
      };
      const got = Object.fromEntries(
        records.map((r) => [`${r.from}>${r.to}:${r.protocol}/${r.port}`, r.verdict]),
      );
      const expected = Object.fromEntries(Object.keys(got).map((k) => [k, want[k] ?? 'connected']));
      expect(got).toEqual(expected);
      // the grids say the same thing as data and as text
      const denied = new Set([`${key(c0)}>${key(s1)}`, `${key(c0)}>${key(s0)}`]);
      const grid = gridsFromRecords(
        records.filter((r) => r.port === 81 && r.protocol === 'TCP'),
        [...pods.clients.map(key), ...pods.servers.map(key)],
        (f, t) => !denied.has(`${f}>${t}`),
        'planted rules',
      )[0]!;
      expect(gridPasses(grid)).toBe(true);
      const text = formatGridText(grid);
      expect(text).toContain('planted rules (TCP/81)');
      expect(text).toMatch(/\nno differences$/);
      // c0 → s0 unreachable (REJECT host-unreachable), c0 → s1 timeout (DROP), in server order
      expect(text).toMatch(/observed:\n.*\n.* U T/);
      // every record carries the command that repeats it: pasted into a shell here, it sees the same thing
      const byKey = new Map(records.map((r) => [`${r.from}>${r.to}:${r.protocol}/${r.port}`, r]));
      const paste = (k: string) => {
        const command = byKey.get(k)?.command;
        if (!command) throw new Error(`no command on the record of ${k}`);
        return execa('sh', ['-c', command], { reject: false, timeout: 30_000 });
      };
      const refused = await paste(`${key(c0)}>${key(s1)}:TCP/80`);
      expect(refused.exitCode, refused.stderr).not.toBe(0);
      expect(refused.stderr).toMatch(/refused/i);
      const dropped = await paste(`${key(c0)}>${key(s1)}:TCP/81`);
      expect(dropped.exitCode, dropped.stderr).not.toBe(0);
      expect(dropped.stderr).toMatch(/timed out/i);
      const answered = await paste(`${key(c0)}>${key(s0)}:UDP/80`);
      expect(answered.stdout.trim(), answered.stderr).toBe(s0.answersAs);
    } finally {
      for (const r of planted) await node0.sh(r.map((a) => (a === '-I' ? '-D' : a)));
    }
  }, 60_000);

  it('gives refused for a stopped server (TCP RST, UDP ICMP port unreachable) and fails the control round', async () => {
    const s1 = pods.servers[1];
    if (!s1) throw new Error('no server');
    await pods.stopServer(s1);
    try {
      const reqs = matrix().filter((r) => r.to === key(s1));
      const records = await prober.round(reqs);
      expect(new Set(records.map((r) => r.verdict))).toEqual(new Set(['refused']));
      const err = await prober.controlRound(reqs).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ControlRoundError);
      expect((err as Error).message).toMatch(/nothing listening/);
    } finally {
      await pods.serve(pods.nodeOf(s1), s1.pod.name, s1.answersAs, pods.ports);
    }
    expect(
      (await prober.round(matrix().filter((r) => r.to === key(s1)))).every((r) => r.verdict === 'connected'),
    ).toBe(true);
  }, 60_000);

  it('detects a path whose MTU is lowered (DF ping and 1 MiB transfer) across every pair of nodes', async () => {
    const topo = pods.topology();
    const ok = await mtuAcrossNodes(prober, topo, 5000);
    expect(ok.result.outcome, ok.result.details).toBe('passed');
    expect(ok.probes.filter((p) => p.check === 'mtu-df-ping')).toHaveLength(2);
    const node1 = pods.nodes[1]?.node;
    if (!node1) throw new Error('no node1');
    await node1.sh(['ip', 'link', 'set', 'eth0', 'mtu', '1400']);
    try {
      const bad = await mtuAcrossNodes(prober, topo, 5000);
      expect(bad.result.outcome).toBe('failed');
      const df = bad.probes.filter((p) => p.check === 'mtu-df-ping');
      expect(df.map((p) => p.verdict).sort()).toEqual(['timeout', 'unreachable']);
      // node0 → node1: the 1500-byte frame is dropped silently at node1's smaller link (timeout);
      // node1 → node0: node1 refuses to forward it with DF and says so (ICMP frag needed → unreachable)
      const xfer = bad.probes.filter((p) => p.check === 'mtu-transfer');
      expect(xfer.some((p) => p.verdict !== 'connected')).toBe(true);
      expect(bad.result.details).toMatch(/mtu-df-ping|#df-1472/);
    } finally {
      await node1.sh(['ip', 'link', 'set', 'eth0', 'mtu', '1500']);
      await flushPmtu();
    }
  }, 90_000);

  it('finds the VXLAN MTU blackhole: pods at 1500 over a 1450 VXLAN tunnel fail the DF ping, at 1450 they pass', async () => {
    // Calico's VXLAN wiring, by hand: a vxlan.calico device per node (VNI 4096, port 4789, MTU 1500 − 50),
    // a static neighbour and FDB entry per peer VTEP, and each remote pod /24 routed onlink via the VTEP.
    const vteps = pods.nodes.map((n, i) => ({ n, mac: `66:cc:00:00:00:0${i + 1}`, ip: `10.245.${i}.1` }));
    const allPods = [...pods.servers, ...pods.clients];
    const setPodMtu = async (mtu: number) => {
      for (const p of allPods) {
        await pods.nodeOf(p).sh(['ip', '-n', p.pod.name, 'link', 'set', 'eth0', 'mtu', String(mtu)]);
      }
    };
    await flushPmtu();
    try {
      for (const a of vteps) {
        const sh = (argv: string[]) => a.n.node.sh(argv);
        await sh(vxlanAddArgv('vxlan.calico', 4096, ['nolearning']));
        await sh(['ip', 'link', 'set', 'vxlan.calico', 'address', a.mac, 'mtu', '1450', 'up']);
        await sh(['ip', 'addr', 'add', `${a.ip}/32`, 'dev', 'vxlan.calico']);
        for (const b of vteps.filter((x) => x !== a)) {
          await sh([
            'ip',
            'neigh',
            'replace',
            b.ip,
            'lladdr',
            b.mac,
            'dev',
            'vxlan.calico',
            'nud',
            'permanent',
          ]);
          await sh(['bridge', 'fdb', 'append', b.mac, 'dev', 'vxlan.calico', 'dst', b.n.ip]);
          await sh(['ip', 'route', 'replace', b.n.podCidr, 'via', b.ip, 'dev', 'vxlan.calico', 'onlink']);
        }
      }
      // pods left at 1500 (an MTU not lowered for the encapsulation): the 1472-byte DF ping cannot be
      // encapsulated and the node answers "frag needed"
      const bad = await mtuAcrossNodes(prober, pods.topology({ tunnelMtu: 1450, podMtu: 1500 }), 5000);
      expect(bad.result.outcome).toBe('failed');
      const df = bad.probes.filter((p) => p.check === 'mtu-df-ping');
      expect(
        df.filter((p) => p.to.endsWith('#df-1422')).map((p) => p.verdict),
        bad.result.details,
      ).toEqual(['connected', 'connected']);
      expect(df.filter((p) => p.to.endsWith('#df-1472')).map((p) => p.verdict)).toEqual([
        'unreachable',
        'unreachable',
      ]);
      expect(bad.result.details).toMatch(/Frag needed|mtu = 1450/i);
      // pods at the tunnel MTU: everything fits
      await setPodMtu(1450);
      const good = await mtuAcrossNodes(prober, pods.topology({ tunnelMtu: 1450, podMtu: 1450 }), 5000);
      expect(good.result.outcome, good.result.details).toBe('passed');
    } finally {
      await setPodMtu(1500);
      await flushPmtu();
      for (const a of vteps) {
        await a.n.node.shell.exec(['ip', 'link', 'del', 'vxlan.calico']);
        for (const b of vteps.filter((x) => x !== a)) {
          await a.n.node.sh(['ip', 'route', 'replace', b.n.podCidr, 'via', b.n.ip]);
        }
      }
    }
  }, 90_000);

  it('reports a killed or aborted exec as an infrastructure failure, never as a verdict', async () => {
    const [c0] = pods.clients;
    const [, s1] = pods.servers;
    if (!c0 || !s1) throw new Error('bed has too few pods');
    const node0 = pods.nodeOf(c0);
    const drop = ['iptables', '-I', 'FORWARD', '-s', c0.ip, '-d', s1.ip, '-j', 'DROP'];
    await node0.sh(drop);
    try {
      const reqs = matrix().filter((r) => r.from === key(c0));
      // 1. the in-pod shell is killed mid-round (found by its marker argument, ended by its pid)
      const slow = new Prober(pods.executor, { probeTimeoutMs: 3000 });
      const round = slow.round(reqs).catch((e: unknown) => e);
      let pid = '';
      for (let i = 0; i < 50 && !pid; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const r = await node0.shell.exec(['pgrep', '-o', '-f', 'ccprobe tcp']);
        pid = r.stdout.trim().split('\n')[0] ?? '';
      }
      expect(pid).toMatch(/^\d+$/);
      await node0.sh(['kill', '-9', pid]);
      const killed = await round;
      expect(killed).toBeInstanceOf(ProbeRoundError);
      const f = (killed as ProbeRoundError).failures[0];
      expect(f).toBeInstanceOf(ProbeInfrastructureError);
      expect(f?.message).toMatch(/sentinel|exited/);
      // 2. the exec is aborted by the caller
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 300);
      const aborted = await slow.round(reqs, ac.signal).catch((e: unknown) => e);
      expect(aborted).toBeInstanceOf(ProbeRoundError);
      expect((aborted as ProbeRoundError).completed).toEqual([]);
    } finally {
      await node0.sh(drop.map((a) => (a === '-I' ? '-D' : a)));
    }
  }, 60_000);

  describe('external target on the bed network (testcontainers)', () => {
    const started: { stop(): Promise<void> }[] = [];
    afterAll(async () => {
      for (const s of started) await s.stop();
    });

    it('sees the node IP with natOutgoing on, the pod IP with it off, and flags a mismatch', async () => {
      const ext = await startExternalTarget({
        network: pods.network.name,
        name: 'external',
        image: TEST_IMAGE,
        command: ['python3', '-u', '-c', NAME_SERVER_PY, 'external', '8080'],
        readyLog: /serving external/,
        routes: pods.nodes.map((n) => ({ cidr: n.podCidr, via: n.ip })),
        labels: { 'calico-conformance.test': pods.bed.id },
      });
      started.push(ext);
      const external = { name: ext.name, ip: ext.ip, port: ext.port };
      // natOutgoing off: routed, not masqueraded — the target sees each pod's own address
      const off = await podToExternal(prober, pods.topology({ external, natOutgoing: false }));
      expect(off.result.outcome, off.result.details).toBe('passed');
      const seen = off.probes.filter((p) => p.sourceIp).map((p) => p.sourceIp);
      expect(seen.sort()).toEqual(pods.clients.map((c) => c.ip).sort());
      // claiming natOutgoing while nothing masquerades must fail the check
      const wrong = await podToExternal(prober, pods.topology({ external, natOutgoing: true }));
      expect(wrong.result.outcome).toBe('failed');
      expect(wrong.result.details).toMatch(/natOutgoing on: the node IP/);
      // natOutgoing on: masquerade pod traffic leaving the pod CIDR, as Felix's nat-outgoing rule does
      const masq = [
        'iptables',
        '-t',
        'nat',
        '-A',
        'POSTROUTING',
        '-s',
        '10.244.0.0/16',
        '!',
        '-d',
        '10.244.0.0/16',
        '-j',
        'MASQUERADE',
      ];
      for (const n of pods.nodes) await n.node.sh(masq);
      try {
        const on = await podToExternal(prober, pods.topology({ external, natOutgoing: true }));
        expect(on.result.outcome, on.result.details).toBe('passed');
        expect(
          on.probes
            .filter((p) => p.sourceIp)
            .map((p) => p.sourceIp)
            .sort(),
        ).toEqual(pods.nodes.map((n) => n.ip).sort());
      } finally {
        for (const n of pods.nodes) await n.node.sh(masq.map((a) => (a === '-A' ? '-D' : a)));
      }
    }, 90_000);

    it('natOutgoing off: with kube-proxy dropping conntrack INVALID, only routes to the owning node carry the replies', async () => {
      // kube-proxy (iptables mode) drops forwarded packets conntrack calls INVALID (KUBE-FORWARD); a reply
      // routed through a node that never saw the connection arrives there as a SYN-ACK without a SYN
      const invalid = [
        'iptables',
        '-I',
        'FORWARD',
        '1',
        '-m',
        'conntrack',
        '--ctstate',
        'INVALID',
        '-j',
        'DROP',
      ];
      const start = async (name: string, routes: { cidr: string; via: string }[]) => {
        const ext = await startExternalTarget({
          network: pods.network.name,
          name,
          image: TEST_IMAGE,
          command: ['python3', '-u', '-c', NAME_SERVER_PY, name, '8080'],
          readyLog: new RegExp(`serving ${name}`),
          routes,
          labels: { 'calico-conformance.test': pods.bed.id },
        });
        started.push(ext);
        return { name: ext.name, ip: ext.ip, port: ext.port };
      };
      const first = pods.nodes[0]!;
      // the blocks Calico would have affine to each node: here each bed node's pod /24
      const affinities = pods.nodes.map((n) => ({
        spec: { cidr: n.podCidr, node: n.node.name, state: 'confirmed', deleted: 'false' },
      }));
      const owned = podReturnRoutes(
        affinities,
        pods.topoNodes,
        pods.clients.map((c) => ({ ip: c.ip, node: c.node })),
      );
      expect(owned).toEqual(pods.nodes.map((n) => ({ cidr: n.podCidr, via: n.ip })));
      const viaFirst = await start('external-pool', [{ cidr: '10.244.0.0/16', via: first.ip }]);
      const viaOwner = await start('external-blocks', owned);
      for (const n of pods.nodes) await n.node.sh(invalid);
      try {
        // the whole pool through the first node: the other node's client never gets its SYN-ACK
        const pool = await podToExternal(prober, pods.topology({ external: viaFirst, natOutgoing: false }));
        expect(pool.result.outcome).toBe('failed');
        const lost = pool.probes.filter((p) => p.verdict !== 'connected').map((p) => p.from);
        const elsewhere = pods.clients
          .filter((c) => c.node !== first.node.name)
          .map((c) => `${c.pod.namespace}/${c.pod.name}`);
        expect([...new Set(lost)].sort()).toEqual(elsewhere.sort());
        // every block via the node that owns it: every client connects and is seen with its own address
        const blocks = await podToExternal(prober, pods.topology({ external: viaOwner, natOutgoing: false }));
        expect(blocks.result.outcome, blocks.result.details).toBe('passed');
      } finally {
        for (const n of pods.nodes)
          await n.node.sh(invalid.map((a) => (a === '-I' ? '-D' : a)).filter((a) => a !== '1'));
      }
    }, 120_000);
  });
});

describeDocker(
  'hostNetwork UDP server on a node with another local address first (a configured tunl0)',
  () => {
    const pods = new PodBed({ nodes: 1, serversPerNode: 0, clientsPerNode: 1 });
    let prober: Prober;

    beforeAll(async () => {
      await pods.start();
      prober = new Prober(pods.executor, { probeTimeoutMs: PROBE_TIMEOUT_MS });
    }, 120_000);
    afterAll(async () => {
      expect(await pods.dispose()).toEqual([]);
    }, 60_000);

    it("answers a pod on its own node from the node IP, so the pod's connected UDP socket takes the answer", async () => {
      const bn = pods.nodes[0]!;
      const client = pods.clients[0]!;
      // An address the kernel prefers as source for a route without one (here the pod's /32 via its cali
      // veth, which has no address): like the tunnel address Calico puts on tunl0, which sits before eth0.
      // Taken from the node's own pod block, as Calico's tunnel addresses are.
      await bn.node.sh(['ip', 'addr', 'add', '10.244.0.1/32', 'dev', 'lo']);
      // the same server on 0.0.0.0 (netexec without --udp-listen-addresses), on a second port
      const unbound = pods.hostPort + 1;
      await pods.serve(bn.node, undefined, bn.node.name, [unbound], '0.0.0.0');
      const probe = (port: number): ProbeRequest => ({
        source: client.pod,
        from: `${client.pod.namespace}/${client.pod.name}`,
        to: `node/${bn.node.name}:${port}`,
        host: bn.ip,
        port,
        protocol: 'UDP',
        expectName: bn.node.name,
      });
      const [bound, wildcard] = await prober.round([probe(pods.hostPort), probe(unbound)]);
      // the model is real: answered from 10.244.0.1, the wildcard server's reply is dropped by the client
      expect(wildcard?.verdict, wildcard?.detail).toBe('timeout');
      // the harness's host server (its workload args: --udp-listen-addresses=$(HOST_IP)) answers from the node IP
      expect(bound?.verdict, bound?.detail).toBe('connected');
      expect(bound?.answeredBy).toBe(bn.node.name);
      // and the connectivity check that probes it passes
      const check = await nodePodBothWays(prober, pods.topology());
      expect(check.result.outcome, check.result.details).toBe('passed');
    }, 90_000);
  },
);
