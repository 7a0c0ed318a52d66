/**
 * Mode verification against real state: what the mode suite read on the lab's None cell (manifest path,
 * Calico v3.31.0 with BIRD, 1 control plane + 1 worker), kept in test/fixtures/real/v3.31.0-manifest-none/
 * verify-dump/ (each node's dump at verification time, the IPPool, block affinities, pods and
 * `birdcl show protocols` of each calico-node). The ground truth here is what real Calico did in BGP mode:
 * remote-block routes programmed by BIRD over the node interface, no tunnel device, a BGP mesh Established
 * between the nodes — and verifyMode must pass it as None and fail it as every other mode.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENCAPSULATIONS } from '../../../harness/config/catalogue.js';
import { buildMatrix } from '../../../harness/config/matrix.js';
import type { CheckResult } from '../../../harness/model/results.js';
import { parseIpLinks, parseIpRoutes } from '../../../harness/node-state/parse.js';
import { readVerifyEvidence } from '../../../harness/verify/evidence.js';
import { parseBirdProtocols, verifyMode } from '../../../harness/verify/mode.js';

const CAPTURE = join(import.meta.dirname, '../../fixtures/real/v3.31.0-manifest-none/verify-dump');
const cellFor = (encapsulation: string) =>
  buildMatrix({ flags: { calicoVersion: 'v3.31.0', install: 'manifest', workers: '1', encapsulation } })[0]!;
const failed = (rs: CheckResult[]) => rs.filter((r) => r.outcome !== 'passed');

describe('verifyMode on the real None cell (lab, Calico v3.31.0, BIRD)', () => {
  const input = readVerifyEvidence(CAPTURE);
  const poolBlocks = (n: (typeof input.nodes)[number]) =>
    parseIpRoutes(n.dump.files['ip-route.json'] ?? '').filter(
      // remote blocks (/26 of the pool), not the node's own blackhole nor its /32 workload routes
      (r) =>
        /^192\.168\.\d+\.\d+\/26$/.test(r.dst) && r.type !== 'blackhole' && (r.table ?? 'main') === 'main',
    );

  it('holds both nodes, the None pool and a BIRD answer from each calico-node', () => {
    expect(input.nodes.map((n) => n.name).sort()).toEqual([
      expect.stringMatching(/-control-plane$/),
      expect.stringMatching(/-worker$/),
    ]);
    expect(input.pools.map((p) => [p.spec.cidr, p.spec.ipipMode, p.spec.vxlanMode])).toEqual([
      ['192.168.0.0/16', 'Never', 'Never'],
    ]);
    for (const n of input.nodes) expect(n.bird?.kind, n.name).toBe('protocols');
  });

  it('what real BGP mode looks like: remote blocks via the peer on eth0 with proto bird, no tunnel device, the mesh Established', () => {
    const withRoutes = input.nodes.filter((n) => poolBlocks(n).length > 0);
    expect(withRoutes.length).toBeGreaterThan(0);
    for (const n of withRoutes)
      for (const r of poolBlocks(n)) {
        expect(r.dev, `${n.name} ${r.dst}`).toBe('eth0');
        expect(r.protocol, `${n.name} ${r.dst}`).toBe('bird');
        expect(r.flags).not.toContain('onlink');
      }
    for (const n of input.nodes) {
      const links = parseIpLinks(n.dump.files['ip-link.json'] ?? '[]').map((l) => l.ifname);
      expect(links, n.name).not.toContain('vxlan.calico');
      expect(links, n.name).not.toContain('tunl0');
      const peers = parseBirdProtocols(n.bird?.kind === 'protocols' ? n.bird.output : '').filter(
        (p) => p.proto === 'BGP',
      );
      const other = input.nodes.find((x) => x.name !== n.name)!;
      expect(
        peers.map((p) => [p.peer, p.info]),
        n.name,
      ).toEqual([[other.internalIP, 'Established']]);
    }
  });

  it('passes every check as None', () => {
    const results = verifyMode(cellFor('None'), input);
    expect(failed(results)).toEqual([]);
    expect(results.filter((r) => r.name.startsWith('BGP established'))).toHaveLength(2);
  });

  it('fails as every other mode', () => {
    for (const mode of ENCAPSULATIONS.filter((m) => m !== 'None')) {
      const bad = failed(verifyMode(cellFor(mode), input)).map((r) => r.name);
      expect(bad.length, mode).toBeGreaterThan(0);
    }
  });

  it('fails as None when the same routes are not BIRD’s (the route-owner check bites on real state)', () => {
    const forged = readVerifyEvidence(CAPTURE);
    for (const n of forged.nodes) {
      const routes = JSON.parse(n.dump.files['ip-route.json'] ?? '[]') as { protocol?: string }[];
      for (const r of routes) if (r.protocol === 'bird') r.protocol = '80';
      n.dump.files['ip-route.json'] = JSON.stringify(routes);
    }
    const bad = failed(verifyMode(cellFor('None'), forged));
    expect(bad.length).toBeGreaterThan(0);
    expect(bad.every((r) => r.name.startsWith('routes on ') || r.name.startsWith('own'))).toBe(true);
    expect(bad.map((r) => r.details).join('\n')).toMatch(/want via 10\.242\.7\.\d+ dev eth0 proto bird/);
  });
});
