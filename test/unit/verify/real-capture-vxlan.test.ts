/**
 * Mode verification against what real Calico did in the two VXLAN modes, read by the mode suite of the lab's
 * default-matrix run (manifest path, Calico v3.31.0, 1 control plane + 2 workers; test/fixtures/real/
 * matrix/<cell>/verify-dump/):
 * - VXLAN, flat: every remote block via `vxlan.calico` onlink to the peer's tunnel address;
 * - VXLANCrossSubnet on the split-subnet topology (the control plane and one worker in one subnet, the
 *   other worker in another): a block of a node in the same subnet by a plain route via that node's address
 *   on eth0, a block across the subnets via `vxlan.calico`.
 * verifyMode must pass each capture as its own mode and fail it as every other mode (the captures are the
 * ground truth; nothing here is written from what verifyMode believes).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENCAPSULATIONS } from '../../../harness/config/catalogue.js';
import type { Topology } from '../../../harness/config/cell.js';
import { buildMatrix } from '../../../harness/config/matrix.js';
import type { CheckResult } from '../../../harness/model/results.js';
import { parseIpLinks, parseIpRoutes } from '../../../harness/node-state/parse.js';
import { readVerifyEvidence } from '../../../harness/verify/evidence.js';
import { verifyMode } from '../../../harness/verify/mode.js';

const MATRIX = join(import.meta.dirname, '../../fixtures/real/matrix');
const cellFor = (encapsulation: string, topology: Topology) =>
  buildMatrix({
    flags: { calicoVersion: 'v3.31.0', install: 'manifest', workers: '2', encapsulation, topology },
  })[0]!;
const failed = (rs: CheckResult[]) => rs.filter((r) => r.outcome !== 'passed');

type Input = ReturnType<typeof readVerifyEvidence>;
type Node = Input['nodes'][number];
/** the remote blocks' routes of a node: /26 of the pool, main table, not the node's own blackhole */
const remoteBlocks = (n: Node) =>
  parseIpRoutes(n.dump.files['ip-route.json'] ?? '').filter(
    (r) => /^192\.168\.\d+\.\d+\/26$/.test(r.dst) && r.type !== 'blackhole' && (r.table ?? 'main') === 'main',
  );
/** the node that owns a block, from the block affinities the verify phase read */
const ownerOf = (input: Input, cidr: string) =>
  input.blockAffinities.find((b) => b.spec.cidr === cidr && b.spec.state !== 'pending')?.spec.node;
/** the address Calico uses for a node (the split-subnet topology's second address on eth0), without its length */
const calicoIP = (n: Node) => n.calicoAddress?.split('/')[0];

describe('verifyMode on the real VXLAN cell (lab default matrix, flat, 3 nodes)', () => {
  const input = readVerifyEvidence(join(MATRIX, 'v3.31.0-manifest-vxlan/verify-dump'));

  it('holds three nodes and the VXLAN pool as real Calico made it', () => {
    expect(input.nodes).toHaveLength(3);
    expect(input.pools.map((p) => [p.spec.cidr, p.spec.ipipMode, p.spec.vxlanMode])).toEqual([
      ['192.168.0.0/16', 'Never', 'Always'],
    ]);
  });

  it('what real VXLAN looks like: every remote block onlink via vxlan.calico to its owner’s tunnel address', () => {
    for (const n of input.nodes) {
      const links = parseIpLinks(n.dump.files['ip-link.json'] ?? '[]').map((l) => l.ifname);
      expect(links, n.name).toContain('vxlan.calico');
      expect(links, n.name).not.toContain('tunl0');
      const routes = remoteBlocks(n);
      // every other node that holds a block is reached through the tunnel
      const others = input.nodes.filter((x) => x.name !== n.name);
      expect(routes.length, n.name).toBe(others.length);
      for (const r of routes) {
        const owner = input.nodes.find((x) => x.name === ownerOf(input, r.dst));
        expect(owner, `${n.name} ${r.dst}`).toBeDefined();
        expect([r.dev, r.gateway, r.flags], `${n.name} ${r.dst}`).toEqual([
          'vxlan.calico',
          owner!.tunnelAddresses?.[0],
          expect.arrayContaining(['onlink']),
        ]);
      }
    }
  });

  it('passes every check as VXLAN and fails as every other mode', () => {
    expect(failed(verifyMode(cellFor('VXLAN', 'flat'), input))).toEqual([]);
    for (const mode of ENCAPSULATIONS.filter((m) => m !== 'VXLAN'))
      expect(failed(verifyMode(cellFor(mode, 'flat'), input)).length, mode).toBeGreaterThan(0);
  });
});

describe('verifyMode on the real VXLANCrossSubnet cell (lab default matrix, split-subnet, 3 nodes)', () => {
  const input = readVerifyEvidence(
    join(MATRIX, 'v3.31.0-manifest-vxlancrosssubnet-split-subnet/verify-dump'),
  );
  const subnetOf = (n: Node) => n.calicoAddress?.replace(/\.\d+\/24$/, '');

  it('holds three nodes in two subnets and the CrossSubnet pool', () => {
    expect(input.pools.map((p) => [p.spec.cidr, p.spec.ipipMode, p.spec.vxlanMode])).toEqual([
      ['192.168.0.0/16', 'Never', 'CrossSubnet'],
    ]);
    const subnets = input.nodes.map(subnetOf);
    expect(
      subnets.every((s) => s?.startsWith('10.250.')),
      JSON.stringify(subnets),
    ).toBe(true);
    expect(new Set(subnets).size).toBe(2);
  });

  it('what real CrossSubnet looks like: plain routes within a subnet, vxlan.calico across', () => {
    let within = 0;
    let across = 0;
    for (const n of input.nodes)
      for (const r of remoteBlocks(n)) {
        const owner = input.nodes.find((x) => x.name === ownerOf(input, r.dst))!;
        expect(owner, `${n.name} ${r.dst}`).toBeDefined();
        if (subnetOf(owner) === subnetOf(n)) {
          within++;
          expect(r.dev, `${n.name} ${r.dst} (same subnet)`).toBe('eth0');
          expect(r.gateway, `${n.name} ${r.dst}`).toBe(calicoIP(owner));
        } else {
          across++;
          expect([r.dev, r.gateway], `${n.name} ${r.dst} (across subnets)`).toEqual([
            'vxlan.calico',
            owner.tunnelAddresses?.[0],
          ]);
        }
      }
    // two nodes share a subnet (both ways) and each of them reaches the third across (both ways)
    expect(within).toBeGreaterThanOrEqual(2);
    expect(across).toBeGreaterThanOrEqual(2);
  });

  it('passes every check as VXLANCrossSubnet on split-subnet and fails as every other mode', () => {
    expect(failed(verifyMode(cellFor('VXLANCrossSubnet', 'split-subnet'), input))).toEqual([]);
    for (const mode of ENCAPSULATIONS.filter((m) => m !== 'VXLANCrossSubnet'))
      expect(failed(verifyMode(cellFor(mode, 'split-subnet'), input)).length, mode).toBeGreaterThan(0);
  });
});
