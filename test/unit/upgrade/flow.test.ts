import { describe, expect, it } from 'vitest';
import type { Finding } from '../../../harness/audit/finding.js';
import { runUpgradeFlow, type UpgradeFlowOptions, upgradeActions } from '../../../harness/upgrade/flow.js';
import type { UpgradePath } from '../../../harness/upgrade/timeline.js';
import { cell, simulate } from './sim.js';

const TIMEOUTS = {
  convergeMs: 60_000,
  targetMs: 120_000,
  pollMs: 2_000,
  preUpgradeMs: 5_000,
  settleMs: 10_000,
};

function options(path: UpgradePath, from: string, to: string): UpgradeFlowOptions {
  return {
    from: cell(from, path === 'operator' ? 'operator' : 'manifest'),
    to: cell(to, path === 'manifest' ? 'manifest' : 'operator'),
    path,
    probeIntervalMs: 250,
    timeouts: TIMEOUTS,
  };
}

describe('upgradeActions', () => {
  it('manifest: one apply of B’s calico.yaml', () => {
    expect(upgradeActions('manifest', cell('v3.32.1', 'manifest')).map((a) => a.kind)).toEqual([
      'apply-manifest',
    ]);
  });
  it('operator: CRDs first where B ships operator-crds.yaml (v3.30+), then the operator', () => {
    expect(upgradeActions('operator', cell('v3.32.1', 'operator')).map((a) => a.kind)).toEqual([
      'apply-operator-crds',
      'apply-operator',
    ]);
    expect(upgradeActions('operator', cell('v3.29.7', 'operator')).map((a) => a.kind)).toEqual([
      'apply-operator',
    ]);
  });
  it('migration: the operator, then an Installation with an empty spec', () => {
    const acts = upgradeActions('manifest-to-operator', cell('v3.31.7', 'operator'));
    expect(acts.map((a) => a.kind)).toEqual(['apply-operator-crds', 'apply-operator', 'create-installation']);
    expect(acts[2]).toMatchObject({ spec: {} });
  });
});

describe('runUpgradeFlow', () => {
  it('manifest path: runs every step in order and measures the upgrade', async () => {
    const sim = simulate({
      path: 'manifest',
      from: 'v3.31.7',
      to: 'v3.32.1',
      rolloutMs: 30_000,
      outage: [1_000, 2_000],
    });
    const r = await runUpgradeFlow(options('manifest', 'v3.31.7', 'v3.32.1'), sim.deps);
    // install takes 60 s; 3 converging rounds (50 ms each, 1 s apart); 5 s of pre-upgrade probing
    expect(sim.calls).toEqual([
      '0 createCluster v3.31.7',
      '0 install v3.31.7 manifest',
      '60000 startTraffic v3.31.7',
      '67150 apply apply-manifest v3.32.1',
      '107150 disposeTraffic',
      '107150 suite verify v3.32.1 manifest',
      '107150 suite connectivity v3.32.1 manifest',
      '107150 suite policy v3.32.1 manifest',
      '107150 uninstall v3.32.1',
      '107150 audit upstream',
      '107150 completeUninstall',
      '107150 audit complete',
      '107150 deleteCluster cc-upgrade-1',
    ]);
    expect(r.phases.map((p) => `${p.name}:${p.outcome}`)).toEqual([
      'create-cluster:passed',
      'install:passed',
      'upgrade:passed',
      'verify:passed',
      'connectivity:passed',
      'policy:passed',
      'uninstall:passed',
      'audit:passed',
      'complete-uninstall:passed',
      'final-audit:passed',
      'teardown:passed',
    ]);
    expect(r.outcome).toBe('passed');
    expect(r.cell.id).toBe('v3.31.7-to-v3.32.1-manifest-ipip');
    const u = r.upgrade!;
    expect(u).toMatchObject({ from: 'v3.31.7', to: 'v3.32.1', path: 'manifest', outcome: 'passed' });
    expect(u.upgradeStartMs).toBe(5_000);
    // components flip 30 s after the apply; the 2 s poll sees it at 30 s
    expect(u.timeToTargetMs).toBe(30_000);
    expect(u.allOnTargetMs).toBe(35_000);
    expect(u.timelineEndMs).toBe(45_000);
    const allowed = u.pairs.find((p) => p.expect === 'allowed')!;
    // the outage (1 s–2 s after the apply) seen by 250 ms probes: from the last success to the first after
    expect(allowed.outageWindows).toEqual([{ startMs: 5_750, endMs: 7_000 }]);
    expect(allowed.longestOutageMs).toBe(1_250);
    expect(u.pairs.find((p) => p.expect === 'denied')!.failOpenCount).toBe(0);
    expect(u.timeline[0]!.points.length).toBe(180);
    const ev = r.phases.find((p) => p.name === 'upgrade')!.evidence;
    expect(ev).toContain(
      '35s: every component runs v3.32.1 and is ready, 30s after the upgrade began (polled every 2s)',
    );
  });

  it('operator path: applies the CRDs and the operator, and waits for calico-system and the operator on B', async () => {
    const sim = simulate({ path: 'operator', from: 'v3.31.7', to: 'v3.32.1', rolloutMs: 90_000 });
    const r = await runUpgradeFlow(options('operator', 'v3.31.7', 'v3.32.1'), sim.deps);
    expect(sim.calls.filter((c) => / apply /.test(c))).toEqual([
      '67150 apply apply-operator-crds v3.32.1',
      '67150 apply apply-operator v3.32.1',
    ]);
    expect(r.upgrade!.timeToTargetMs).toBe(90_000);
    expect(r.outcome).toBe('passed');
    expect(sim.calls.some((c) => c.endsWith('suite policy v3.32.1 operator'))).toBe(true);
  });

  it('migration path: creates the Installation and waits for kube-system to be taken over', async () => {
    const sim = simulate({ path: 'manifest-to-operator', from: 'v3.32.1', to: 'v3.32.1', rolloutMs: 50_000 });
    const r = await runUpgradeFlow(options('manifest-to-operator', 'v3.32.1', 'v3.32.1'), sim.deps);
    expect(sim.calls.slice(0, 6)).toEqual([
      '0 createCluster v3.32.1',
      '0 install v3.32.1 manifest',
      '60000 startTraffic v3.32.1',
      '67150 apply apply-operator-crds v3.32.1',
      '67150 apply apply-operator v3.32.1',
      '67150 apply create-installation v3.32.1 {}',
    ]);
    expect(r.upgrade).toMatchObject({
      path: 'manifest-to-operator',
      timeToTargetMs: 50_000,
      outcome: 'passed',
    });
    expect(r.cell.id).toBe('v3.32.1-to-v3.32.1-operator-ipip-migration');
  });

  it('a component that never reaches B: the wait times out naming what it waited for and what it saw', async () => {
    const sim = simulate({
      path: 'operator',
      from: 'v3.31.7',
      to: 'v3.32.1',
      rolloutMs: 10_000,
      stuck: 'calico-typha',
    });
    const r = await runUpgradeFlow(options('operator', 'v3.31.7', 'v3.32.1'), sim.deps);
    const up = r.phases.find((p) => p.name === 'upgrade')!;
    expect(up.outcome).toBe('failed');
    const v = r.upgrade!.violations.find((x) => x.startsWith('the upgrade did not complete'))!;
    expect(v).toContain(
      'timed out after 2m waiting for every Calico component (tigera-operator/tigera-operator, calico-system/calico-node, calico-system/calico-typha, calico-system/calico-kube-controllers) running v3.32.1 images (operator v1.42.3) and ready',
    );
    expect(v).toContain(
      'last seen: calico-system/Deployment/calico-typha: template runs quay.io/calico/calico-typha:v3.31.7',
    );
    expect(r.upgrade!.allOnTargetMs).toBeUndefined();
    expect(r.upgrade!.outcome).toBe('failed');
    // the wait lasted exactly its timeout: the probers stopped 2 min after the apply
    expect(sim.calls).toContain('187150 disposeTraffic');
    expect(r.phases.filter((p) => ['verify', 'connectivity', 'policy'].includes(p.name))).toEqual(
      ['verify', 'connectivity', 'policy'].map((name) =>
        expect.objectContaining({
          name,
          outcome: 'not-run',
          reason: 'the components did not all reach v3.32.1',
        }),
      ),
    );
    expect(sim.calls.slice(-5)).toEqual([
      '187150 uninstall v3.32.1',
      '187150 audit upstream',
      '187150 completeUninstall',
      '187150 audit complete',
      '187150 deleteCluster cc-upgrade-1',
    ]);
    expect(r.outcome).toBe('failed');
  });

  it('a fail-open window during the upgrade fails the result even though everything reached B', async () => {
    const sim = simulate({ path: 'manifest', from: 'v3.31.7', to: 'v3.32.1', failOpen: [2_000, 2_600] });
    const r = await runUpgradeFlow(options('manifest', 'v3.31.7', 'v3.32.1'), sim.deps);
    const u = r.upgrade!;
    expect(u.timeToTargetMs).toBe(30_000);
    expect(u.outcome).toBe('failed');
    const denied = u.pairs.find((p) => p.expect === 'denied')!;
    expect(denied.failOpenCount).toBe(3);
    expect(denied.failOpenWindows).toEqual([{ startMs: 6_750, endMs: 7_750 }]);
    expect(u.violations).toEqual([
      'x/a → z/c TCP/80: fail-open: connected 3 times while a policy denies it (allowed: 0); windows 6.8s–7.8s (3 connected)',
    ]);
    expect(r.phases.find((p) => p.name === 'upgrade')!.outcome).toBe('failed');
    expect(r.phases.find((p) => p.name === 'verify')!.outcome).toBe('passed');
    expect(r.outcome).toBe('failed');
  });

  it('an outage over the budget fails; a larger configured budget passes the same upgrade', async () => {
    const strict = simulate({ path: 'manifest', from: 'v3.31.7', to: 'v3.32.1', outage: [0, 6_000] });
    const r1 = await runUpgradeFlow(options('manifest', 'v3.31.7', 'v3.32.1'), strict.deps);
    expect(r1.upgrade!.outcome).toBe('failed');
    expect(r1.upgrade!.violations[0]).toMatch(/outage of 6\.3s .* over the 5s budget/);
    const lax = simulate({ path: 'manifest', from: 'v3.31.7', to: 'v3.32.1', outage: [0, 6_000] });
    const r2 = await runUpgradeFlow(
      { ...options('manifest', 'v3.31.7', 'v3.32.1'), thresholds: { maxOutageMs: 10_000 } },
      lax.deps,
    );
    expect(r2.upgrade!.outcome).toBe('passed');
    expect(r2.upgrade!.thresholds.maxOutageMs).toBe(10_000);
  });

  it('does not upgrade when the traffic never converges: the wait says what it waited for', async () => {
    const sim = simulate({ path: 'manifest', from: 'v3.31.7', to: 'v3.32.1', neverConverges: true });
    const r = await runUpgradeFlow(options('manifest', 'v3.31.7', 'v3.32.1'), sim.deps);
    expect(sim.calls.some((c) => / apply /.test(c))).toBe(false);
    const u = r.upgrade!;
    expect(u.outcome).toBe('error');
    expect(u.violations.join('\n')).toContain(
      'timed out after 1m waiting for every probe pair to match its expectation (1 allowed pairs connected, 1 denied pairs not connected) in 3 rounds in a row before the upgrade; last seen: 1 pair(s) not as expected: x/a → z/c TCP/80 expected denied, saw connected',
    );
    expect(sim.calls).toContain('120050 disposeTraffic');
    expect(r.outcome).toBe('error');
    expect(sim.calls.at(-1)).toBe('120050 deleteCluster cc-upgrade-1');
  });

  it('audits B as run does: a new leftover fails the audit, a leftover after the complete uninstall fails the final audit, --allow allows', async () => {
    const wg: Finding = {
      node: 'kind-worker',
      category: 'interface',
      rule: 'calico-device',
      name: 'wireguard.cali',
      detail: 'wireguard',
      remediation: 'ip link del wireguard.cali',
    };
    const tunl0: Finding = {
      ...wg,
      rule: 'tunl0-configured',
      name: 'tunl0',
      detail: 'UP; inet 192.168.1.0/32',
    };
    const sim = simulate({
      path: 'manifest',
      from: 'v3.31.7',
      to: 'v3.32.1',
      // tunl0 configured is expected after an IPIP cell; the WireGuard device is not
      upstreamFindings: [tunl0, wg],
      finalFindings: [wg],
    });
    const r = await runUpgradeFlow(options('manifest', 'v3.31.7', 'v3.32.1'), sim.deps);
    expect(r.phases.find((p) => p.name === 'audit')).toMatchObject({
      outcome: 'failed',
      reason: '1 new leftover(s) after uninstall, not in the known-leftovers baseline (interface)',
    });
    expect(r.phases.find((p) => p.name === 'final-audit')).toMatchObject({
      outcome: 'failed',
      reason: '1 leftover(s) after the complete uninstall (interface)',
    });
    expect(r.audit?.afterUpstreamUninstall?.report.findings.map((f) => [f.name, f.baseline])).toEqual([
      ['tunl0', 'tunl0-configured'],
      ['wireguard.cali', undefined],
    ]);
    expect(r.outcome).toBe('failed');
    const allowed = await runUpgradeFlow(
      { ...options('manifest', 'v3.31.7', 'v3.32.1'), auditAllow: ['calico-device'] },
      simulate({
        path: 'manifest',
        from: 'v3.31.7',
        to: 'v3.32.1',
        upstreamFindings: [tunl0, wg],
        finalFindings: [wg],
      }).deps,
    );
    expect(
      allowed.phases.filter((p) => p.name.includes('audit')).map((p) => `${p.name}:${p.outcome}`),
    ).toEqual(['audit:passed', 'final-audit:passed']);
    expect(allowed.outcome).toBe('passed');
  });

  it('an install of A that fails: no upgrade or suites, but uninstall, both audits, the complete uninstall and teardown still run', async () => {
    const sim = simulate({ path: 'manifest', from: 'v3.31.7', to: 'v3.32.1', installFails: true });
    const r = await runUpgradeFlow(options('manifest', 'v3.31.7', 'v3.32.1'), sim.deps);
    expect(sim.calls).toEqual([
      '0 createCluster v3.31.7',
      '0 install v3.31.7 manifest',
      '0 uninstall v3.32.1',
      '0 audit upstream',
      '0 completeUninstall',
      '0 audit complete',
      '0 deleteCluster cc-upgrade-1',
    ]);
    expect(r.phases.find((p) => p.name === 'install')).toMatchObject({
      outcome: 'error',
      reason: 'calico-node never became ready',
    });
    expect(r.phases.find((p) => p.name === 'upgrade')).toMatchObject({ outcome: 'not-run' });
    expect(r.upgrade).toBeUndefined();
    expect(r.outcome).toBe('error');
  });

  it('--keep-cluster keeps the cluster and says so', async () => {
    const sim = simulate({ path: 'manifest', from: 'v3.31.7', to: 'v3.32.1' });
    const r = await runUpgradeFlow(
      { ...options('manifest', 'v3.31.7', 'v3.32.1'), keepCluster: true },
      sim.deps,
    );
    expect(sim.calls.some((c) => c.includes('deleteCluster'))).toBe(false);
    expect(r.phases.at(-1)).toMatchObject({
      name: 'teardown',
      outcome: 'not-run',
      reason: '--keep-cluster: cluster cc-upgrade-1 kept',
    });
  });
});
