/**
 * The split-subnet mechanics on docker-backed nodes: three nodes on one docker network get secondary
 * addresses in the two SPLIT_SUBNET_RANGES (A, B, A) and on-link routes to the other range, applied
 * inside the containers through the NodeShell. Traffic stays on the test's own network: pings between
 * the test's containers only.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { collectNodeDump } from '../../../harness/audit/collect.js';
import {
  applySplitSubnet,
  prepareSplitSubnet,
  type SplitSubnetAssignment,
  splitSubnetAutodetection,
  verifySplitSubnet,
} from '../../../harness/cluster/topology.js';
import { DockerTestBed, describeDocker, type TestNode } from '../../support/docker.js';

describeDocker('split-subnet topology on docker-backed nodes', () => {
  const bed = new DockerTestBed();
  let nodes: TestNode[];
  let plan: SplitSubnetAssignment[];
  const ping = (n: TestNode, ip: string) =>
    n.shell.exec(['ping', '-c', '1', '-W', '2', ip], { timeoutMs: 10_000 });

  beforeAll(async () => {
    const net = await bed.network('split');
    nodes = [];
    for (const [i, name] of ['control-plane', 'worker', 'worker2'].entries()) {
      nodes.push(await bed.node(name, { networks: [{ network: net, ip: `${net.prefix}.${10 + i}` }] }));
    }
  });
  afterAll(async () => {
    expect(await bed.dispose()).toEqual([]);
  });

  // negative cases are read from the routing decision (`ip route get`), never pinged: without the on-link
  // route the packet would leave through the docker gateway, i.e. the host, which a test must not probe
  const routeTo = async (n: TestNode, ip: string) =>
    JSON.parse(await n.sh(['ip', '-j', 'route', 'get', ip]))[0];

  it('before: the other range is not on-link from a node (it would go to the default gateway)', async () => {
    expect(await routeTo(nodes[0]!, '10.250.2.10')).toHaveProperty('gateway');
  });

  it('assigns the ranges alternately and applies addresses and on-link routes inside the nodes', async () => {
    // given out of order: the control plane goes first, then workers by name
    const prepared = await prepareSplitSubnet(
      [nodes[2]!, nodes[0]!, nodes[1]!].map((n) => ({
        name: n.name,
        role: n.name === 'control-plane' ? ('control-plane' as const) : ('worker' as const),
        shell: n.shell,
      })),
    );
    plan = prepared.plan;
    expect(prepared.evidence[0]).toBe(
      'control-plane: 10.250.1.10/24 on eth0, on-link route to 10.250.2.0/24',
    );
    expect(plan.map((a) => [a.node, a.address, a.otherRange])).toEqual([
      ['control-plane', '10.250.1.10/24', '10.250.2.0/24'],
      ['worker', '10.250.2.10/24', '10.250.1.0/24'],
      ['worker2', '10.250.1.11/24', '10.250.2.0/24'],
    ]);
    // idempotent: a second run finds everything in place
    await applySplitSubnet(nodes.map((n) => ({ name: n.name, shell: n.shell })));
    const dumps = await Promise.all(nodes.map((n) => collectNodeDump(n.shell)));
    const checks = verifySplitSubnet(plan, dumps);
    expect(checks.map((c) => c.outcome)).toEqual(['passed', 'passed', 'passed']);
  });

  it('connects across the two ranges and within one, with the range address as source', async () => {
    // never ping unless the route is on-link: a ping through the default gateway would leave for the host
    for (const [from, to] of [
      [0, '10.250.2.10'],
      [1, '10.250.1.11'],
      [0, '10.250.1.11'],
    ] as const) {
      const r = await routeTo(nodes[from]!, to);
      expect(r, `route from ${nodes[from]!.name} to ${to}`).not.toHaveProperty('gateway');
      expect(r.dev).toBe('eth0');
    }
    expect((await ping(nodes[0]!, '10.250.2.10')).exitCode).toBe(0); // A → B
    expect((await ping(nodes[1]!, '10.250.1.11')).exitCode).toBe(0); // B → A
    expect((await ping(nodes[0]!, '10.250.1.11')).exitCode).toBe(0); // A → A
    const route = await routeTo(nodes[0]!, '10.250.2.10');
    expect(route).toMatchObject({ dev: 'eth0', prefsrc: '10.250.1.10' });
    expect(route).not.toHaveProperty('gateway');
  });

  it('points Calico autodetection at both ranges (operator cidrs, manifest IP_AUTODETECTION_METHOD)', () => {
    expect(splitSubnetAutodetection()).toEqual({
      operator: { cidrs: ['10.250.1.0/24', '10.250.2.0/24'] },
      manifestEnv: { name: 'IP_AUTODETECTION_METHOD', value: 'cidr=10.250.1.0/24,10.250.2.0/24' },
    });
  });

  it('fails verification on a node whose on-link route is gone, naming it', async () => {
    await nodes[2]!.sh(['ip', 'route', 'del', '10.250.2.0/24']);
    const checks = verifySplitSubnet(plan, [await collectNodeDump(nodes[2]!.shell)]);
    expect(checks.find((c) => c.name.endsWith('worker2'))).toMatchObject({
      outcome: 'failed',
      message: 'no route to 10.250.2.0/24',
    });
    expect(await routeTo(nodes[2]!, '10.250.2.10')).toHaveProperty('gateway');
  });
});
