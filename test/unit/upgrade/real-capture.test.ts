/**
 * The timeline analysis on a real upgrade: test/fixtures/real/v3.30.1-to-v3.31.0-manifest-vxlan/ is the
 * results directory of `upgrade --lab --from v3.30.1 --to v3.31.0` on the lab (its README says how it was
 * made). Every probe the run kept (the picture's points: time and whether it connected; errored probes are
 * not among them) is given to analyseUpgradeTimeline again with the run's thresholds and times, and must give
 * what the run reported for every pair: probes, failures, outage and fail-open windows, longest outage,
 * fail-open count, and the outcome.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ProbeKey } from '../../../harness/model/connectivity.js';
import type { RunResults } from '../../../harness/model/results.js';
import { analyseUpgradeTimeline } from '../../../harness/upgrade/timeline.js';

const DIR = join(import.meta.dirname, '../../fixtures/real/v3.30.1-to-v3.31.0-manifest-vxlan');
const results = JSON.parse(readFileSync(join(DIR, 'results.json'), 'utf8')) as RunResults;
const cell = results.cells[0];
const u = cell?.upgrade;

describe('the timeline analysis on the real v3.30.1 → v3.31.0 upgrade on the lab', () => {
  it('the capture is that upgrade, every pair probed through it', () => {
    expect(u?.from).toBe('v3.30.1');
    expect(u?.to).toBe('v3.31.0');
    expect(u?.path).toBe('manifest');
    expect(u?.pairs.length).toBeGreaterThanOrEqual(4);
    for (const [i, p] of (u?.pairs ?? []).entries()) {
      expect(u?.timeline[i]?.pair).toBe(p.label);
      // probes before and after the upgrade began
      expect(u?.timeline[i]?.points.some((x) => x.t < (u?.upgradeStartMs ?? 0))).toBe(true);
      expect(u?.timeline[i]?.points.some((x) => x.t > (u?.allOnTargetMs ?? Number.POSITIVE_INFINITY))).toBe(
        true,
      );
    }
  });

  it('what the lab measured: no outage on an allowed pair, no fail-open on a denied one, no blind gap over the budget', () => {
    if (!u) throw new Error('no upgrade result in the capture');
    for (const [i, p] of u.pairs.entries()) {
      const pts = u.timeline[i]?.points ?? [];
      expect(
        pts.every((x) => x.ok === (p.expect === 'allowed')),
        p.label,
      ).toBe(true);
      const gaps = pts.slice(1).map((x, j) => x.t - (pts[j]?.t ?? 0));
      expect(Math.max(...gaps), p.label).toBeLessThanOrEqual(u.thresholds.maxOutageMs);
    }
    expect(u.outcome).toBe('passed');
  });

  it('reproduces every pair and the outcome from the recorded probes', () => {
    if (!u) throw new Error('no upgrade result in the capture');
    const again = analyseUpgradeTimeline({
      from: u.from,
      to: u.to,
      path: u.path,
      upgradeStartMs: u.upgradeStartMs,
      ...(u.allOnTargetMs !== undefined ? { allOnTargetMs: u.allOnTargetMs } : {}),
      ...(u.timelineEndMs !== undefined ? { endMs: u.timelineEndMs } : {}),
      thresholds: u.thresholds,
      series: u.pairs.map((p, i) => ({
        key: { from: p.from, to: p.to, port: p.port, protocol: p.protocol } as ProbeKey,
        expect: p.expect,
        samples: (u.timeline[i]?.points ?? []).map((x) => ({
          t: x.t,
          verdict: x.ok ? ('connected' as const) : ('timeout' as const),
        })),
      })),
    });
    const strip = (p: (typeof u.pairs)[number]) => {
      const { errors: _e, maxGapMs: _g, ...rest } = p;
      return rest;
    };
    expect(again.pairs.map(strip)).toEqual(u.pairs.map(strip));
    expect(again.timeToTargetMs).toBe(u.timeToTargetMs);
    // errored probes are not in the picture: the outcome is the same unless the run had errors
    if (u.pairs.every((p) => (p.errors ?? 0) === 0)) expect(again.outcome).toBe(u.outcome);
  });
});
