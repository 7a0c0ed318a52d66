import { describe, expect, it } from 'vitest';
import {
  dnsResolution,
  mtuAcrossNodes,
  nodePodBothWays,
  type ProbeTopology,
  podToExternal,
  podToPodCrossNode,
  podToPodSameNode,
  podToService,
} from '../../../harness/probe/checks.js';
import { Prober } from '../../../harness/probe/prober.js';
import { type Network, SimulatedExecutor } from './simulated.js';

const pod = (name: string, node: string, ip: string) => ({
  pod: { namespace: 'p', name },
  node,
  ip,
  answersAs: name,
});

const topo: ProbeTopology = {
  nodes: ['n0', 'n1', 'n2'].map((n, i) => ({
    name: n,
    internalIP: `172.18.0.${10 + i}`,
    hostPod: { pod: { namespace: 'p', name: `host-${n}` }, node: n, ip: `172.18.0.${10 + i}`, answersAs: n },
  })),
  servers: [pod('s0', 'n0', '10.1.0.10'), pod('s1', 'n1', '10.1.1.10'), pod('s2', 'n2', '10.1.2.10')],
  clients: [pod('c0', 'n0', '10.1.0.11'), pod('c1', 'n1', '10.1.1.11'), pod('c2', 'n2', '10.1.2.11')],
  services: [
    { name: 'svc-s1', clusterIP: '10.96.0.20', dnsName: 'svc-s1.p.svc.cluster.local', backend: 's1' },
  ],
  external: { name: 'ext', ip: '172.18.0.99', port: 8080 },
  ports: [
    { port: 80, protocol: 'TCP' },
    { port: 81, protocol: 'UDP' },
  ],
  hostPort: 18080,
  natOutgoing: true,
  tunnelMtu: 1480,
  missingName: 'nope.p.svc.cluster.local',
};

const byIp = new Map<string, string>([
  ...topo.servers.map((s) => [s.ip, s.answersAs] as const),
  ...topo.nodes.map((n) => [n.internalIP, n.name] as const),
  ['10.96.0.20', 's1'],
  ['svc-s1.p.svc.cluster.local', 's1'],
  ['172.18.0.99', 'ext'],
]);
const clientNodeIp = (pod: string) => topo.nodes[Number(pod.slice(-1))]?.internalIP ?? '';
const clientPodIp = (pod: string) => topo.clients.find((c) => `p/${c.pod.name}` === pod)?.ip ?? '';

/** a healthy network: every name answers, NAT rewrites to the node IP, the missing name does not resolve */
const healthy =
  (nat = true): Network =>
  (p) => {
    if (p.host === topo.missingName)
      return { tool: 'nc', rc: 1, out: '', err: 'getaddrinfo for host: Name or service not known' };
    if (p.mode === 'clientip')
      return { tool: 'nc', rc: 0, out: `${nat ? clientNodeIp(p.pod) : clientPodIp(p.pod)}:40000`, err: '' };
    if (p.mode === 'ping')
      return { tool: 'ping-df', rc: 0, out: '1 packets transmitted  1 received', err: '' };
    if (p.mode === 'xfer') return { tool: 'curl', rc: 0, out: `201 ${p.arg + 197}`, err: '' };
    return { tool: 'nc', rc: 0, out: byIp.get(p.host) ?? '?', err: '' };
  };

const run = (net: Network) => {
  const ex = new SimulatedExecutor(net);
  return { ex, prober: new Prober(ex, { probeTimeoutMs: 1000 }) };
};

describe('connectivity checks (simulated network at the exec boundary)', () => {
  it('probe the right paths: same node, every ordered node pair, service, host both ways', async () => {
    const { prober } = run(healthy());
    const same = await podToPodSameNode(prober, topo);
    expect(same.probes.map((r) => `${r.from}>${r.to}`)).toEqual([
      'p/c0>p/s0',
      'p/c0>p/s0',
      'p/c1>p/s1',
      'p/c1>p/s1',
      'p/c2>p/s2',
      'p/c2>p/s2',
    ]);
    const cross = await podToPodCrossNode(prober, topo);
    expect(new Set(cross.probes.map((r) => `${r.from}>${r.to}`)).size).toBe(6);
    expect(cross.result.outcome).toBe('passed');
    expect(cross.grids.map((g) => `${g.protocol}/${g.port}`)).toEqual(['TCP/80', 'UDP/81']);
    const svc = await podToService(prober, topo);
    expect(svc.probes.every((r) => r.to === 'service/svc-s1' && r.answeredBy === 's1')).toBe(true);
    const host = await nodePodBothWays(prober, topo);
    expect(host.result.outcome).toBe('passed');
    expect(host.probes.filter((r) => r.check === 'pod-node')).toHaveLength(3 * 3 * 2);
    expect(host.probes.filter((r) => r.check === 'node-pod')).toHaveLength(3 * 3 * 2);
  });

  it('fails a check with the grids when a path answers from the wrong pod or is dropped', async () => {
    const { prober } = run((p) =>
      p.host === '10.1.1.10' && p.pod === 'p/c0'
        ? p.mode === 'udp'
          ? { tool: 'nc', rc: 124, out: '', err: '' }
          : { tool: 'nc', rc: 0, out: 's2', err: '' }
        : healthy()(p),
    );
    const cross = await podToPodCrossNode(prober, topo);
    expect(cross.result.outcome).toBe('failed');
    expect(cross.result.message).toMatch(
      /^2 problem\(s\): p\/c0 → p\/s1 TCP\/80: error \(answered by s2, expected s1\)/,
    );
    // the grids list each failed probe with the command that repeats it
    expect(cross.result.details).toContain('pod-pod-cross-node (UDP/81)');
    expect(cross.result.details).toContain(
      [
        '1 difference',
        'failures:',
        '  p/c0 → p/s1: expected allowed, observed timeout (nc rc=124 (no reply))',
        "    kubectl exec -n p c0 -- sh -c 'echo hostname | nc -u -W 1 -w 1 10.1.1.10 81'",
      ].join('\n'),
    );
    expect(cross.result.details).toContain(
      [
        '  p/c0 → p/s1: probe error, not a verdict (answered by s2, expected s1)',
        '    kubectl exec -n p c0 -- nc -v -z -w 1 10.1.1.10 80',
      ].join('\n'),
    );
  });

  it('external: natOutgoing on expects the node IP, off the pod IP', async () => {
    const on = await podToExternal(run(healthy(true)).prober, topo);
    expect(on.result.outcome).toBe('passed');
    expect(on.probes.filter((r) => r.sourceIp).map((r) => r.sourceIp)).toEqual(
      topo.nodes.map((n) => n.internalIP),
    );
    const off = await podToExternal(run(healthy(true)).prober, { ...topo, natOutgoing: false });
    expect(off.result.outcome).toBe('failed');
    expect(off.result.details).toContain(
      [
        'p/c0 → external: source IP seen 172.18.0.10, expected 10.1.0.11 (natOutgoing off: the pod IP)',
        '    kubectl exec -n p c0 -- curl -sS -m 1 http://172.18.0.99:8080/clientip',
      ].join('\n'),
    );
    const offOk = await podToExternal(run(healthy(false)).prober, { ...topo, natOutgoing: false });
    expect(offOk.result.outcome).toBe('passed');
    const none = await podToExternal(run(healthy()).prober, { ...topo, external: undefined });
    expect(none.result.outcome).toBe('skipped');
  });

  it('dns: the service name must reach its backend and the missing name must be dns-failure', async () => {
    const ok = await dnsResolution(run(healthy()).prober, topo);
    expect(ok.result.outcome, ok.result.details).toBe('passed');
    const resolvesEverything = await dnsResolution(
      run((p) =>
        p.host === topo.missingName
          ? { tool: 'nc', rc: 1, out: '', err: 'failed: Connection refused' }
          : healthy()(p),
      ).prober,
      topo,
    );
    expect(resolvesEverything.result.outcome).toBe('failed');
    expect(resolvesEverything.result.message).toMatch(/refused, expected dns-failure/);
  });

  it('dns: nothing probed is skipped with a reason, never passed', async () => {
    const { ex, prober } = run(healthy());
    const noClients = await dnsResolution(prober, { ...topo, clients: [] });
    expect(noClients.result.outcome).toBe('skipped');
    expect(noClients.result.message).toMatch(/no client pod/);
    expect(ex.calls).toHaveLength(0);

    // without a Service only the missing name is looked up: no service name was checked, so not a pass
    const noService = await dnsResolution(run(healthy()).prober, { ...topo, services: [] });
    expect(noService.result.outcome).toBe('skipped');
    expect(noService.result.message).toMatch(/no service name was checked/);
    expect(noService.probes.map((r) => r.check)).toEqual(['dns-missing', 'dns-missing', 'dns-missing']);
    // ... but a broken negative half still fails
    const noServiceBroken = await dnsResolution(
      run((p) =>
        p.host === topo.missingName
          ? { tool: 'nc', rc: 1, out: '', err: 'failed: Connection refused' }
          : healthy()(p),
      ).prober,
      { ...topo, services: [] },
    );
    expect(noServiceBroken.result.outcome).toBe('failed');
  });

  it('mtu: says which ping ran — DF forced with iputils, not forced with busybox (the agnhost pods)', async () => {
    const forced = await mtuAcrossNodes(run(healthy()).prober, topo);
    expect(forced.result.details).toMatch(/ping: DF forced \(iputils ping -M do\) on all 6 pings/);
    const busybox = await mtuAcrossNodes(
      run((p) =>
        p.mode === 'ping'
          ? { tool: 'ping-default', rc: 0, out: '1 packets transmitted  1 packets received', err: '' }
          : healthy()(p),
      ).prober,
      topo,
    );
    expect(busybox.result.outcome).toBe('passed');
    expect(busybox.result.details).toMatch(/DF not forced \(busybox ping has no -M/);
    expect(busybox.result.details).toMatch(/on 6 of 6 pings/);
    expect(busybox.result.details).not.toMatch(/DF forced \(iputils/);
    expect(busybox.probes.find((r) => r.check === 'mtu-df-ping')?.detail).toMatch(
      /^ping-default, DF not forced/,
    );
  });

  it('mtu: a ping of tunnel MTU − 28 and a 1 MiB upload per ordered pair of nodes', async () => {
    const { ex, prober } = run(healthy());
    const ok = await mtuAcrossNodes(prober, topo);
    expect(ok.result.name).toBe('mtu-1480');
    expect(ok.result.outcome).toBe('passed');
    const probes = ex.calls.flatMap((c) => c.probes);
    expect(probes.filter((p) => p.mode === 'ping').map((p) => p.arg)).toEqual(Array(6).fill(1452));
    expect(probes.filter((p) => p.mode === 'xfer').map((p) => p.arg)).toEqual(Array(6).fill(1048576));
    const both = run(healthy());
    await mtuAcrossNodes(both.prober, { ...topo, podMtu: 1500 });
    const sizes = both.ex.calls.flatMap((c) => c.probes).filter((p) => p.mode === 'ping');
    expect(sizes.map((p) => p.arg)).toEqual(Array(6).fill([1452, 1472]).flat());
    const blackhole = await mtuAcrossNodes(
      run((p) =>
        p.mode === 'ping' && p.pod === 'p/c2'
          ? { tool: 'ping-df', rc: 1, out: 'Frag needed and DF set (mtu = 1450)', err: '' }
          : healthy()(p),
      ).prober,
      topo,
    );
    expect(blackhole.result.outcome).toBe('failed');
    expect(blackhole.probes.filter((r) => r.verdict === 'unreachable')).toHaveLength(2);
  });

  it('an exec that fails makes the check an error, not a failed connectivity verdict', async () => {
    const { ex, prober } = run(healthy());
    ex.faults.set('p/c1', 'no-sentinel');
    const out = await podToPodSameNode(prober, topo);
    expect(out.result.outcome).toBe('error');
    expect(out.result.message).toMatch(/infrastructure/);
    expect(out.result.details).toMatch(/p\/c1.*no end sentinel/);
  });
});
