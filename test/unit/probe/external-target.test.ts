import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { externalTargetLabels } from '../../../harness/probe/external-target.js';
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
