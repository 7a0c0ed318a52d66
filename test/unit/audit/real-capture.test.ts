/**
 * The audit and the known-leftovers baseline against real leftovers: the node dumps and API state that real
 * cells on the lab captured (test/fixtures/real/: manifest path, Calico v3.31.0 — VXLAN, VXLANCrossSubnet on
 * the split-subnet topology, and None with BIRD — after the upstream uninstall and after the complete
 * uninstall). The ground truth here is what real Calico left, not what the rules were written to expect.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { entriesFor } from '../../../harness/audit/baseline.js';
import { readClusterStateFile } from '../../../harness/audit/cluster-state.js';
import { auditReport } from '../../../harness/audit/rules.js';
import { judgeComplete, judgeUpstream } from '../../../harness/audit/verdict.js';
import { buildMatrix } from '../../../harness/config/matrix.js';
import { readDumpDir } from '../../../harness/node-state/dump.js';

const REAL = join(import.meta.dirname, '../../fixtures/real');
/** what every manifest uninstall really left on both nodes, whatever the mode */
const LEFT_BY_EVERY_MODE = [
  'calico-route',
  'blackhole-route',
  'cali-iptables',
  'calico-ipset',
  'calico-cni-config',
  'calico-cni-binary',
  'calico-state-dir',
  'node-annotations',
];
interface Capture {
  dir: string;
  flags: { encapsulation: string; topology?: string };
  /** workers of the captured cluster (the first captures had one; the default matrix has two) */
  workers?: number;
  /** rules this mode's leftovers add to LEFT_BY_EVERY_MODE */
  left: string[];
  /**
   * what every route Calico left looks like: Felix's on vxlan.calico for VXLAN (protocol boot, which `ip`
   * does not print), BIRD's for None
   */
  routeDetail: RegExp;
}
const CAPTURES: Capture[] = [
  {
    dir: 'v3.31.0-manifest-vxlan',
    flags: { encapsulation: 'VXLAN' },
    left: ['calico-device'],
    routeDetail: / dev vxlan\.calico\b/,
  },
  {
    dir: 'v3.31.0-manifest-vxlancrosssubnet-split',
    flags: { encapsulation: 'VXLANCrossSubnet', topology: 'split-subnet' },
    left: ['calico-device'],
    routeDetail: / dev vxlan\.calico\b/,
  },
  // BIRD's routes and no tunnel device: nothing of the VXLAN captures' calico-device
  {
    dir: 'v3.31.0-manifest-none',
    flags: { encapsulation: 'None' },
    left: [],
    routeDetail: / dev eth0 proto bird\b/,
  },
  // the default matrix on the lab (examples/lab-matrix.yaml): 1 control plane + 2 workers, whole catalogue
  {
    dir: 'matrix/v3.31.0-manifest-vxlan',
    flags: { encapsulation: 'VXLAN' },
    workers: 2,
    left: ['calico-device'],
    routeDetail: / dev vxlan\.calico\b/,
  },
  {
    dir: 'matrix/v3.31.0-manifest-vxlancrosssubnet-split-subnet',
    flags: { encapsulation: 'VXLANCrossSubnet', topology: 'split-subnet' },
    workers: 2,
    left: ['calico-device'],
    // across the subnets via the tunnel, within one via the peer on eth0
    routeDetail: / dev (vxlan\.calico|eth0)\b/,
  },
  {
    dir: 'matrix/v3.31.0-manifest-none',
    flags: { encapsulation: 'None' },
    workers: 2,
    left: [],
    routeDetail: / dev eth0 proto bird\b/,
  },
];

describe.each(CAPTURES)(
  'the audit on real leftovers: $dir (lab, Calico v3.31.0)',
  ({ dir, flags, workers = 1, left, routeDetail }) => {
    const CAPTURE = join(REAL, dir);
    const kindConfig = readFileSync(join(CAPTURE, 'kind-config.yaml'), 'utf8');
    const cell = buildMatrix({
      flags: { calicoVersion: 'v3.31.0', install: 'manifest', workers: String(workers), ...flags },
    })[0]!;
    const dumps = readDumpDir(join(CAPTURE, 'node-dump'));
    const cluster = readClusterStateFile(join(CAPTURE, 'node-dump'));
    const upstream = judgeUpstream(auditReport({ dumps, ...(cluster ? { cluster } : {}) }), cell);

    it('reads every node and the API state the run captured', () => {
      expect(kindConfig).toContain('disableDefaultCNI: true');
      expect(dumps.map((d) => d.node).sort()).toEqual([
        expect.stringMatching(/-control-plane$/),
        ...Array.from({ length: workers }, (_, i) =>
          expect.stringMatching(new RegExp(`-worker${i ? i + 1 : ''}$`)),
        ),
      ]);
      expect(cluster).toBeDefined();
      expect(upstream.report.complete).toBe(true);
    });

    it('finds what real Calico left, every finding explained by the baseline (no new leftover)', () => {
      const byRule = new Set(upstream.report.findings.map((f) => f.rule));
      for (const rule of [...LEFT_BY_EVERY_MODE, ...left]) expect(byRule, rule).toContain(rule);
      if (!left.includes('calico-device')) expect(byRule).not.toContain('calico-device');
      const routes = upstream.report.findings.filter((f) => f.rule === 'calico-route');
      expect(routes.length).toBeGreaterThan(0);
      for (const f of routes) expect(f.detail, f.name).toMatch(routeDetail);
      expect(upstream.report.findings.filter((f) => !f.baseline)).toEqual([]);
      expect(upstream.passed).toBe(true);
    });

    it('every entry marked seen-on-lab that applies to this cell matched a real finding, and none is reported fixed', () => {
      const seenOnLab = entriesFor(cell).filter((e) => e.evidence === 'seen-on-lab');
      expect(seenOnLab.length).toBeGreaterThan(10);
      expect(cell.encapsulation).toBe(flags.encapsulation);
      const matched = new Set(upstream.report.findings.map((f) => f.baseline));
      for (const e of seenOnLab) if (!e.optional) expect(matched, e.id).toContain(e.id);
      expect(upstream.fixed.filter((f) => f.evidence === 'seen-on-lab')).toEqual([]);
    });

    it('after the complete uninstall the real nodes audit clean', () => {
      const finalDumps = readDumpDir(join(CAPTURE, 'node-dump-final'));
      const finalCluster = readClusterStateFile(join(CAPTURE, 'node-dump-final'));
      const v = judgeComplete(
        auditReport({ dumps: finalDumps, ...(finalCluster ? { cluster: finalCluster } : {}) }),
        finalDumps,
      );
      expect(v.report.findings).toEqual([]);
      expect(v.passed).toBe(true);
    });
  },
);
