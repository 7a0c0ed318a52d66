import { describe, expect, it } from 'vitest';
import { ENCAPSULATIONS } from '../../../harness/config/catalogue.js';
import type { CheckResult } from '../../../harness/model/results.js';
import { parseBirdProtocols, verifyMode } from '../../../harness/verify/mode.js';
import { birdProtocols, cellFor, expectedInput, FLAT, SPLIT } from './mode-state.js';

const failed = (rs: CheckResult[]) => rs.filter((r) => r.outcome !== 'passed');

describe('verifyMode on each mode’s expected state', () => {
  for (const mode of ENCAPSULATIONS) {
    it(`${mode}: every check passes on the state a correct install produces`, () => {
      const results = verifyMode(cellFor(mode), expectedInput(mode, FLAT));
      expect(failed(results)).toEqual([]);
      // pool, blocks, pods + per node: tunl0, vxlan, routes, BGP
      expect(results).toHaveLength(3 + 4 * FLAT.length);
    });
  }

  it('tells every mode from every other: the state of mode A fails verification as mode B', () => {
    for (const actual of ENCAPSULATIONS) {
      for (const wanted of ENCAPSULATIONS) {
        const results = verifyMode(cellFor(wanted), expectedInput(actual, FLAT));
        if (actual === wanted) expect(failed(results), `${actual} as ${wanted}`).toEqual([]);
        else expect(failed(results).length, `${actual} verified as ${wanted}`).toBeGreaterThan(0);
      }
    }
  });
});

describe('CrossSubnet on the split-subnet topology', () => {
  for (const mode of ['IPIPCrossSubnet', 'VXLANCrossSubnet'] as const) {
    it(`${mode}: encapsulates between the two ranges and routes natively within one`, () => {
      const input = expectedInput(mode, SPLIT);
      expect(failed(verifyMode(cellFor(mode, 'split-subnet'), input))).toEqual([]);
      const cp = input.nodes[0]!.dump.files['ip-route.json']!;
      expect(cp).toContain(
        mode === 'IPIPCrossSubnet'
          ? '"dst":"192.168.20.0/26","gateway":"10.250.2.10","dev":"tunl0"'
          : '"dst":"192.168.20.0/26","gateway":"192.168.20.0","dev":"vxlan.calico"',
      );
      expect(cp).toContain('"dst":"192.168.30.0/26","gateway":"10.250.1.11","dev":"eth0"');
    });

    it(`${mode}: fails when every route is native (what a flat kind network does), naming the cross-range routes`, () => {
      const results = verifyMode(
        cellFor(mode, 'split-subnet'),
        expectedInput(mode, SPLIT, { routesAllNative: true }),
      );
      const bad = failed(results);
      expect(bad.map((r) => r.name).sort()).toEqual([
        'routes on cc-control-plane',
        'routes on cc-worker',
        'routes on cc-worker2',
      ]);
      expect(bad[0]!.details).toMatch(/192\.168\.20\.0\/26 of cc-worker/);
      expect(bad[0]!.details).not.toMatch(/route to 192\.168\.30\.0\/26 of cc-worker2 is/);
    });
  }

  it('on a flat network CrossSubnet routes natively: the encapsulating state fails there', () => {
    const results = verifyMode(cellFor('VXLANCrossSubnet'), expectedInput('VXLAN', FLAT));
    expect(failed(results).some((r) => r.name.startsWith('routes on'))).toBe(true);
  });
});

/**
 * Calico IPAM claims a block for a node only when it allocates an address there: a pod-network pod's address
 * (the CNI plugin) or the node's tunnel address (calico-node allocates one in IPIP and VXLAN modes, none in
 * None mode). Right after a manifest install in None mode the only pod-network pods are CoreDNS (2 replicas)
 * and local-path-provisioner, and the scheduler can put all three on one node: the others have no block yet.
 */
describe('block affinities are required where Calico IPAM allocates', () => {
  const onlyWorkerHasBlock = FLAT.map((n) => (n.name === 'cc-worker' ? n : { ...n, block: undefined }));
  const podsOnWorker = [
    { namespace: 'kube-system', name: 'coredns-a', podIP: '192.168.20.1', nodeName: 'cc-worker' },
    { namespace: 'kube-system', name: 'coredns-b', podIP: '192.168.20.2', nodeName: 'cc-worker' },
    {
      namespace: 'local-path-storage',
      name: 'local-path-provisioner-x',
      podIP: '192.168.20.3',
      nodeName: 'cc-worker',
    },
    // hostNetwork pods on every node (kube-proxy, calico-node) take no pool address
    ...FLAT.map((n) => ({
      namespace: 'kube-system',
      name: `kube-proxy-${n.name}`,
      podIP: n.internalIP,
      hostNetwork: true,
      nodeName: n.name,
    })),
  ];
  const blockCheck = (rs: CheckResult[]) => rs.find((r) => r.name.startsWith('block affinities'))!;

  it('None mode, every pod-network pod on one node: the nodes without one need no block, and all passes', () => {
    const input = expectedInput('None', onlyWorkerHasBlock);
    input.pods = podsOnWorker;
    const rs = verifyMode(cellFor('None'), input);
    expect(failed(rs)).toEqual([]);
    expect(blockCheck(rs).details).toContain(
      'cc-control-plane: no block, none needed (no pod-network pod and no tunnel address on it)',
    );
  });

  it('a node that hosts a pod-network pod but has no block fails, naming the pod', () => {
    const input = expectedInput('None', onlyWorkerHasBlock);
    input.pods = [
      ...podsOnWorker,
      { namespace: 'kube-system', name: 'coredns-c', podIP: '192.168.20.4', nodeName: 'cc-worker2' },
    ];
    const r = blockCheck(verifyMode(cellFor('None'), input));
    expect(r.outcome).toBe('failed');
    expect(r.message).toBe(
      'node cc-worker2 has no block affinity although it hosts pod-network pod kube-system/coredns-c (192.168.20.4)',
    );
    expect(r.details).not.toMatch(/cc-control-plane has no block/);
  });

  it('a finished pod keeps its podIP in the API but holds no address: it needs no block', () => {
    const input = expectedInput('None', onlyWorkerHasBlock);
    input.pods = [
      ...podsOnWorker,
      {
        namespace: 'default',
        name: 'job-done',
        podIP: '192.168.20.9',
        nodeName: 'cc-control-plane',
        phase: 'Succeeded',
      },
    ];
    expect(blockCheck(verifyMode(cellFor('None'), input)).outcome).toBe('passed');
  });

  it('IPIP: a node whose tunl0 holds a pool address (the tunnel address) but has no block fails', () => {
    const input = expectedInput('IPIP', FLAT);
    input.pods = podsOnWorker;
    input.blockAffinities = input.blockAffinities.filter((b) => b.spec.node !== 'cc-worker2');
    const r = blockCheck(verifyMode(cellFor('IPIP'), input));
    expect(r.outcome).toBe('failed');
    expect(r.message).toBe(
      'node cc-worker2 has no block affinity although it has the tunnel address 192.168.30.0 (tunl0)',
    );
  });

  it('VXLAN: the tunnel address from the node annotation counts when the dump has no ip-addr.json', () => {
    const input = expectedInput('VXLAN', FLAT);
    input.pods = podsOnWorker;
    input.blockAffinities = input.blockAffinities.filter((b) => b.spec.node !== 'cc-control-plane');
    const cp = input.nodes[0]!;
    delete cp.dump.files['ip-addr.json'];
    cp.tunnelAddresses = ['192.168.10.0'];
    const r = blockCheck(verifyMode(cellFor('VXLAN'), input));
    expect(r.outcome).toBe('failed');
    expect(r.message).toBe(
      'node cc-control-plane has no block affinity although it has the tunnel address 192.168.10.0 (node annotation)',
    );
  });
});

describe('verifyMode failures name what is wrong', () => {
  it('an IPPool field that differs from the cell', () => {
    const input = expectedInput('VXLAN', FLAT);
    input.pools[0]!.spec.ipipMode = 'Always';
    input.pools[0]!.spec.natOutgoing = false;
    const r = verifyMode(cellFor('VXLAN'), input).find((x) => x.name === 'IPPool matches the cell')!;
    expect(r.outcome).toBe('failed');
    expect(r.details).toContain('ipipMode is Always, the cell wants Never');
    expect(r.details).toContain('natOutgoing is false, the cell wants true');
  });

  it('a missing pool, a block of the wrong size, a node without blocks, a pod outside the pool', () => {
    const input = expectedInput('IPIP', FLAT);
    input.blockAffinities = [{ spec: { cidr: '192.168.10.0/24', node: 'cc-control-plane' } }];
    input.pods.push({ namespace: 'x', name: 'p', podIP: '10.244.1.7' });
    input.pools = [];
    const rs = verifyMode(cellFor('IPIP'), input);
    expect(rs.find((r) => r.name === 'IPPool matches the cell')?.message).toMatch(
      /no IPPool with cidr 192.168.0.0\/16/,
    );
    const blocks = rs.find((r) => r.name.startsWith('block affinities'))!;
    expect(blocks.details).toContain('block 192.168.10.0/24 of cc-control-plane is not a /26');
    expect(blocks.details).toContain('node cc-worker has no block affinity');
    expect(rs.find((r) => r.name.startsWith('pod IPs'))?.message).toBe(
      'pod x/p has 10.244.1.7, outside the pool 192.168.0.0/16',
    );
  });

  it('a BGP session that is not Established, and BIRD answering on a vxlan backend', () => {
    const input = expectedInput('None', FLAT);
    input.nodes[1]!.bird = {
      kind: 'protocols',
      output: birdProtocols(FLAT[1]!, FLAT, 'Active    Socket: Connection refused'),
    };
    const r = verifyMode(cellFor('None'), input).find(
      (x) => x.name === 'BGP established with every other node from cc-worker',
    )!;
    expect(r.outcome).toBe('failed');
    expect(r.details).toMatch(/Mesh_172_18_0_2 with cc-control-plane is up Active/);

    const vx = expectedInput('VXLAN', FLAT);
    vx.nodes[0]!.bird = { kind: 'protocols', output: birdProtocols(FLAT[0]!, FLAT) };
    expect(
      verifyMode(cellFor('VXLAN'), vx).find((x) => x.name === 'no BIRD on cc-control-plane')?.outcome,
    ).toBe('failed');

    // an exec that failed for another reason says nothing about BIRD: not a pass
    const noPod = expectedInput('VXLAN', FLAT);
    noPod.nodes[0]!.bird = { kind: 'unreachable', detail: 'no calico-node pod on cc-control-plane' };
    const r2 = verifyMode(cellFor('VXLAN'), noPod).find((x) => x.name === 'no BIRD on cc-control-plane')!;
    expect(r2.outcome).toBe('failed');
    expect(r2.message ?? r2.details).toMatch(/cannot tell whether BIRD runs/);
  });

  it('a VXLAN route to the wrong VTEP or without onlink', () => {
    const input = expectedInput('VXLAN', FLAT);
    const dump = input.nodes[0]!.dump;
    const routes = JSON.parse(dump.files['ip-route.json']!) as {
      dst: string;
      gateway?: string;
      flags: string[];
    }[];
    routes.find((r) => r.dst === '192.168.20.0/26')!.gateway = '192.168.30.0';
    routes.find((r) => r.dst === '192.168.30.0/26')!.flags = [];
    dump.files['ip-route.json'] = JSON.stringify(routes);
    const r = verifyMode(cellFor('VXLAN'), input).find((x) => x.name === 'routes on cc-control-plane')!;
    expect(r.outcome).toBe('failed');
    expect(r.details).toContain(
      'route to 192.168.20.0/26 of cc-worker is "192.168.20.0/26 via 192.168.30.0 dev vxlan.calico proto 80 onlink", want via 192.168.20.0 dev vxlan.calico onlink',
    );
    expect(r.details).toContain(
      'route to 192.168.30.0/26 of cc-worker2 is "192.168.30.0/26 via 192.168.30.0 dev vxlan.calico proto 80", want via 192.168.30.0 dev vxlan.calico onlink',
    );
  });

  it('None: a remote-block route that BIRD did not program (Felix’s protocol 80, a static one) fails; `proto 12` is BIRD’s too', () => {
    const input = expectedInput('None', FLAT);
    const dump = input.nodes[0]!.dump;
    const routes = JSON.parse(dump.files['ip-route.json']!) as { dst: string; protocol?: string }[];
    routes.find((r) => r.dst === '192.168.20.0/26')!.protocol = '80';
    delete routes.find((r) => r.dst === '192.168.30.0/26')!.protocol;
    dump.files['ip-route.json'] = JSON.stringify(routes);
    const r = verifyMode(cellFor('None'), input).find((x) => x.name === 'routes on cc-control-plane')!;
    expect(r.outcome).toBe('failed');
    expect(r.details).toContain(
      'route to 192.168.20.0/26 of cc-worker is "192.168.20.0/26 via 172.18.0.3 dev eth0 proto 80", want via 172.18.0.3 dev eth0 proto bird',
    );
    expect(r.details).toContain(
      'route to 192.168.30.0/26 of cc-worker2 is "192.168.30.0/26 via 172.18.0.4 dev eth0", want via 172.18.0.4 dev eth0 proto bird',
    );

    for (const x of routes) if (x.protocol === '80' || x.protocol === undefined) x.protocol = '12';
    dump.files['ip-route.json'] = JSON.stringify(routes);
    expect(
      verifyMode(cellFor('None'), input).find((x) => x.name === 'routes on cc-control-plane')?.outcome,
    ).toBe('passed');
  });

  it('a missing observation is skipped, never passed', () => {
    const input = expectedInput('IPIP', FLAT);
    delete input.nodes[0]!.bird;
    delete input.nodes[0]!.dump.files['ip-route.json'];
    const rs = verifyMode(cellFor('IPIP'), input);
    expect(rs.find((r) => r.name === 'routes on cc-control-plane')?.outcome).toBe('skipped');
    expect(rs.find((r) => r.name.endsWith('from cc-control-plane'))?.outcome).toBe('skipped');
  });
});

describe('parseBirdProtocols', () => {
  it('reads Calico mesh sessions and their peer addresses from birdcl output', () => {
    const ps = parseBirdProtocols(birdProtocols(FLAT[0]!, FLAT));
    const bgp = ps.filter((p) => p.proto === 'BGP');
    expect(bgp.map((p) => [p.peer, p.state, p.info])).toEqual([
      ['172.18.0.3', 'up', 'Established'],
      ['172.18.0.4', 'up', 'Established'],
    ]);
    expect(ps.find((p) => p.name === 'kernel1')?.proto).toBe('Kernel');
  });
});
