import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { externalTargetLabels, podReturnRoutes } from '../../../harness/probe/external-target.js';
import { cleanupLeftovers, HARNESS_LABEL, harnessLabelValue } from '../../../harness/state/cleanup.js';
import { FakeRunner } from '../cluster/fake-runner.js';

describe('external target labels', () => {
  it('keep the role and caller labels and add the harness label owned by this process', () => {
    const labels = externalTargetLabels({ 'calico-conformance/cluster': 'cc-x-abc123' });
    expect(labels).toEqual({
      'calico-conformance/role': 'external-target',
      'calico-conformance/cluster': 'cc-x-abc123',
      [HARNESS_LABEL]: harnessLabelValue(),
    });
    // a caller cannot drop or re-own the harness label
    expect(externalTargetLabels({ [HARNESS_LABEL]: 'other:1' })[HARNESS_LABEL]).toBe(harnessLabelValue());
  });

  it("cleanup's discovery finds a target whose run died, and leaves a live run's target alone", async () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const deadOwner = externalTargetLabels({}, dead)[HARNESS_LABEL];
    const liveOwner = externalTargetLabels()[HARNESS_LABEL];
    const dir = mkdtempSync(join(tmpdir(), 'cc-ext-'));
    try {
      // docker answers the label filter only for containers that carry that label key
      const runner = new FakeRunner()
        .on((l) => l.includes('label=io.x-k8s.kind.cluster'), { stdout: '' })
        .on(
          (l) =>
            l.startsWith('docker ps') &&
            Object.keys(externalTargetLabels()).some((k) => l.includes(`--filter label=${k} `)),
          { stdout: `cc-a-external-1a2b3c\t${deadOwner}\ncc-b-external-4d5e6f\t${liveOwner}\n` },
        );
      const r = await cleanupLeftovers({ dir, runner });
      expect(r.removed.map((x) => `${x.resource.kind} ${x.resource.name}`)).toEqual([
        'container cc-a-external-1a2b3c',
      ]);
      expect(r.skipped.map((x) => x.resource.name)).toEqual(['cc-b-external-4d5e6f']);
      expect(runner.lines()).toContain('docker rm -f -v cc-a-external-1a2b3c');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('routes back to the pods for an external target (natOutgoing off)', () => {
  const nodes = [
    { name: 'cc-control-plane', internalIP: '172.18.0.2' },
    { name: 'cc-worker', internalIP: '172.18.0.3' },
    { name: 'cc-worker2', internalIP: '172.18.0.4' },
  ];
  const block = (cidr: string, node: string, extra: object = {}) => ({
    metadata: { name: `${node}-${cidr.replace(/[./]/g, '-')}` },
    spec: { cidr, node, state: 'confirmed', deleted: 'false', ...extra },
  });

  it('routes every block to the node that owns it, not the whole pool through one node', () => {
    const routes = podReturnRoutes(
      [
        block('192.168.82.0/26', 'cc-control-plane'),
        block('192.168.110.128/26', 'cc-worker'),
        block('192.168.110.192/26', 'cc-worker'),
        block('192.168.7.64/26', 'cc-worker2'),
      ],
      nodes,
      [
        { ip: '192.168.82.3', node: 'cc-control-plane' },
        { ip: '192.168.110.130', node: 'cc-worker' },
        { ip: '192.168.7.70', node: 'cc-worker2' },
      ],
    );
    expect(routes).toEqual([
      { cidr: '192.168.82.0/26', via: '172.18.0.2' },
      { cidr: '192.168.110.128/26', via: '172.18.0.3' },
      { cidr: '192.168.110.192/26', via: '172.18.0.3' },
      { cidr: '192.168.7.64/26', via: '172.18.0.4' },
    ]);
  });

  it('skips pending, deleted and foreign affinities; a borrowed pod address gets a /32 via its own node', () => {
    const routes = podReturnRoutes(
      [
        block('192.168.82.0/26', 'cc-control-plane'),
        block('192.168.82.64/26', 'cc-worker', { state: 'pending' }),
        block('192.168.82.128/26', 'cc-worker', { deleted: 'true' }),
        block('192.168.9.0/26', 'gone-node'),
      ],
      nodes,
      [
        { ip: '192.168.82.5', node: 'cc-control-plane' },
        // cc-worker runs a pod with an address from the control plane's block
        { ip: '192.168.82.9', node: 'cc-worker' },
      ],
    );
    expect(routes).toEqual([
      { cidr: '192.168.82.0/26', via: '172.18.0.2' },
      { cidr: '192.168.82.9/32', via: '172.18.0.3' },
    ]);
  });

  it('refuses a pod on an unknown node and a cell with nothing to route', () => {
    expect(() => podReturnRoutes([], nodes, [{ ip: '192.168.1.1', node: 'elsewhere' }])).toThrow(
      /node elsewhere, which is not a node of this cell/,
    );
    expect(() => podReturnRoutes([block('192.168.9.0/26', 'gone-node')], nodes, [])).toThrow(/no route back/);
  });
});
