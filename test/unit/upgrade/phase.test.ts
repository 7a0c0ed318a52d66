/**
 * The upgrade as the run pipeline with one phase more (harness/pipeline/cell.ts + harness/upgrade/phase.ts),
 * on doubles over a fake clock: the order of the steps, what the upgrade phase measures, and that every
 * other phase is run's own — classification of suites, merging of suite data, the audits, the gates, the
 * time limit and the interrupt.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Finding } from '../../../harness/model/audit.js';
import type { ReachabilityGrid } from '../../../harness/model/connectivity.js';
import { type CellResult, PHASES, type PhaseResult } from '../../../harness/model/results.js';
import { upgradeActions, upgradeLimits } from '../../../harness/upgrade/phase.js';
import { cell, removeSimDirs, runUpgrade, simulate, upgradeOptions } from './sim.js';

afterAll(removeSimDirs);

const phase = (r: CellResult, name: string): PhaseResult => {
  const p = r.phases.find((x) => x.name === name);
  if (!p) throw new Error(`no phase ${name} in ${r.phases.map((x) => x.name).join(',')}`);
  return p;
};
const outcomes = (r: CellResult) => r.phases.map((p) => `${p.name}:${p.outcome}`);

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

describe('the upgrade phase limit', () => {
  it('adds up every wait inside the phase and names what it waits for', () => {
    const opts = upgradeOptions('manifest-to-operator', 'v3.32.1', 'v3.32.1');
    const l = upgradeLimits(opts);
    // traffic ready 5m + converge 1m + pre-upgrade 5s + 3 applies × 2m + target 2m + settle 10s + drain 10s
    // + traffic gone 3m + margin 5m
    expect(l.timeoutMs).toBe(
      5 * 60_000 + 60_000 + 5_000 + 3 * 120_000 + 120_000 + 10_000 + 10_000 + 3 * 60_000 + 5 * 60_000,
    );
    expect(l.waitingFor).toBe(
      'the upgrade v3.32.1 → v3.32.1 (manifest-to-operator) under continuous traffic, until every component runs v3.32.1',
    );
  });
});

describe('the upgrade on the run pipeline', () => {
  it('manifest path: run’s phases with the upgrade between install and verify, in order, measured', async () => {
    const sim = simulate({
      path: 'manifest',
      from: 'v3.31.7',
      to: 'v3.32.1',
      rolloutMs: 30_000,
      outage: [1_000, 2_000],
    });
    const r = await runUpgrade(upgradeOptions('manifest', 'v3.31.7', 'v3.32.1'), sim);
    // install takes 60 s; 3 converging rounds (50 ms each, 1 s apart); 5 s of pre-upgrade probing
    expect(sim.calls).toEqual([
      '0 createCluster cc-upgrade-1',
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
    expect(r.phases.map((p) => p.name)).toEqual([...PHASES]);
    expect(r.phases.filter((p) => p.outcome !== 'passed')).toEqual([]);
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
    const ev = phase(r, 'upgrade').evidence;
    expect(ev).toContain(
      '35s: every component runs v3.32.1 and is ready, 30s after the upgrade began (polled every 2s)',
    );
    // what the traffic says of its rounds, after they were disposed of
    expect(ev.at(-1)).toBe('traffic rounds: the double');
    // A's files and B's files, side by side in the cell's directory
    expect(phase(r, 'install').evidence[0]).toMatch(
      /^rendered Calico v3\.31\.7 \(manifest\): calico\.yaml into cells\/v3\.31\.7-to-v3\.32\.1-manifest-ipip\/rendered\/from$/,
    );
    expect(ev[0]).toMatch(/^rendered Calico v3\.32\.1 \(manifest\): calico\.yaml into .*\/rendered\/to$/);
  });

  it('operator path: applies the CRDs and the operator, and waits for calico-system and the operator on B', async () => {
    const sim = simulate({ path: 'operator', from: 'v3.31.7', to: 'v3.32.1', rolloutMs: 90_000 });
    const r = await runUpgrade(upgradeOptions('operator', 'v3.31.7', 'v3.32.1'), sim);
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
    const r = await runUpgrade(upgradeOptions('manifest-to-operator', 'v3.32.1', 'v3.32.1'), sim);
    expect(sim.calls.slice(0, 6)).toEqual([
      '0 createCluster cc-upgrade-1',
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

  it('a component that never reaches B: the wait times out naming what it waited for and what it saw; the suites on B are not run', async () => {
    const sim = simulate({
      path: 'operator',
      from: 'v3.31.7',
      to: 'v3.32.1',
      rolloutMs: 10_000,
      stuck: 'calico-typha',
    });
    const r = await runUpgrade(upgradeOptions('operator', 'v3.31.7', 'v3.32.1'), sim);
    const up = phase(r, 'upgrade');
    expect(up.outcome).toBe('failed');
    expect(up.reason).toMatch(/^the components did not all reach v3\.32\.1: the upgrade did not complete: /);
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
    // run's gate: a main phase that did not pass marks the main phases after it not-run with its reason
    for (const name of ['verify', 'connectivity', 'policy'])
      expect(phase(r, name)).toMatchObject({
        outcome: 'not-run',
        reason: expect.stringMatching(/^upgrade did not pass: the components did not all reach v3\.32\.1/),
      });
    // the diagnostics bundle at the first failure, then B's uninstall (B's files were applied)
    expect(sim.calls.slice(-6)).toEqual([
      '187150 diagnostics',
      '187150 uninstall v3.32.1',
      '187150 audit upstream',
      '187150 completeUninstall',
      '187150 audit complete',
      '187150 deleteCluster cc-upgrade-1',
    ]);
    expect(r.diagnostics).toBe('cells/v3.31.7-to-v3.32.1-operator-ipip/diagnostics');
    expect(r.outcome).toBe('failed');
  });

  it('a fail-open window during the upgrade fails the result, and the suites still run on B (every component reached it)', async () => {
    const sim = simulate({ path: 'manifest', from: 'v3.31.7', to: 'v3.32.1', failOpen: [2_000, 2_600] });
    const r = await runUpgrade(upgradeOptions('manifest', 'v3.31.7', 'v3.32.1'), sim);
    const u = r.upgrade!;
    expect(u.timeToTargetMs).toBe(30_000);
    expect(u.outcome).toBe('failed');
    const denied = u.pairs.find((p) => p.expect === 'denied')!;
    expect(denied.failOpenCount).toBe(3);
    expect(denied.failOpenWindows).toEqual([{ startMs: 6_750, endMs: 7_750 }]);
    expect(u.violations).toEqual([
      'x/a → z/c TCP/80: fail-open: connected 3 times while a policy denies it (allowed: 0); windows 6.8s–7.8s (3 connected)',
    ]);
    expect(phase(r, 'upgrade')).toMatchObject({ outcome: 'failed', reason: u.violations[0] });
    expect(phase(r, 'verify').outcome).toBe('passed');
    expect(phase(r, 'policy').outcome).toBe('passed');
    expect(r.outcome).toBe('failed');
    expect(r.reason).toMatch(/^upgrade: x\/a → z\/c TCP\/80: fail-open/);
  });

  it('an outage over the budget fails; a larger configured budget passes the same upgrade', async () => {
    const strict = simulate({ path: 'manifest', from: 'v3.31.7', to: 'v3.32.1', outage: [0, 6_000] });
    const r1 = await runUpgrade(upgradeOptions('manifest', 'v3.31.7', 'v3.32.1'), strict);
    expect(r1.upgrade!.outcome).toBe('failed');
    expect(r1.upgrade!.violations[0]).toMatch(/outage of 6\.3s .* over the 5s budget/);
    const lax = simulate({ path: 'manifest', from: 'v3.31.7', to: 'v3.32.1', outage: [0, 6_000] });
    const r2 = await runUpgrade(
      { ...upgradeOptions('manifest', 'v3.31.7', 'v3.32.1'), thresholds: { maxOutageMs: 10_000 } },
      lax,
    );
    expect(r2.upgrade!.outcome).toBe('passed');
    expect(r2.upgrade!.thresholds.maxOutageMs).toBe(10_000);
  });

  it('does not upgrade when the traffic never converges: the wait says what it waited for; A is uninstalled', async () => {
    const sim = simulate({ path: 'manifest', from: 'v3.31.7', to: 'v3.32.1', neverConverges: true });
    const r = await runUpgrade(upgradeOptions('manifest', 'v3.31.7', 'v3.32.1'), sim);
    expect(sim.calls.some((c) => / apply /.test(c))).toBe(false);
    const u = r.upgrade!;
    expect(u.outcome).toBe('error');
    expect(u.violations.join('\n')).toContain(
      'timed out after 1m waiting for every probe pair to match its expectation (1 allowed pairs connected, 1 denied pairs not connected) in 3 rounds in a row before the upgrade; last seen: 1 pair(s) not as expected: x/a → z/c TCP/80 expected denied, saw connected',
    );
    expect(sim.calls).toContain('120050 disposeTraffic');
    // nothing of B was applied: what is on the cluster, A, is what the uninstall removes
    expect(sim.calls).toContain('120050 uninstall v3.31.7');
    expect(r.outcome).toBe('error');
    expect(sim.calls.at(-1)).toBe('120050 deleteCluster cc-upgrade-1');
  });

  it('audits B with run’s audit phases: a new leftover fails the audit, a leftover after the complete uninstall fails the final audit, --allow allows', async () => {
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
    const findings = {
      // tunl0 configured is expected after an IPIP cell; the WireGuard device is not
      upstreamFindings: [tunl0, wg],
      finalFindings: [wg],
    };
    const r = await runUpgrade(
      upgradeOptions('manifest', 'v3.31.7', 'v3.32.1'),
      simulate({ path: 'manifest', from: 'v3.31.7', to: 'v3.32.1', ...findings }),
    );
    expect(phase(r, 'audit')).toMatchObject({
      outcome: 'failed',
      reason: '1 new leftover(s) after uninstall, not in the known-leftovers baseline (interface)',
    });
    expect(phase(r, 'final-audit')).toMatchObject({
      outcome: 'failed',
      reason: '1 leftover(s) after the complete uninstall (interface)',
    });
    expect(r.audit?.afterUpstreamUninstall?.report.findings.map((f) => [f.name, f.baseline])).toEqual([
      ['tunl0', 'tunl0-configured'],
      ['wireguard.cali', undefined],
    ]);
    expect(r.outcome).toBe('failed');
    const allowed = await runUpgrade(
      upgradeOptions('manifest', 'v3.31.7', 'v3.32.1'),
      simulate({ path: 'manifest', from: 'v3.31.7', to: 'v3.32.1', ...findings }),
      { auditAllow: ['calico-device'] },
    );
    expect(outcomes(allowed).filter((p) => p.includes('audit:'))).toEqual([
      'audit:passed',
      'final-audit:passed',
    ]);
    expect(allowed.outcome).toBe('passed');
  });

  it('an install of A that fails is failed, as in run: no upgrade or suites; diagnostics, uninstall, both audits, the complete uninstall and teardown still run', async () => {
    const sim = simulate({ path: 'manifest', from: 'v3.31.7', to: 'v3.32.1', installFails: true });
    const r = await runUpgrade(upgradeOptions('manifest', 'v3.31.7', 'v3.32.1'), sim);
    expect(sim.calls).toEqual([
      '0 createCluster cc-upgrade-1',
      '0 install v3.31.7 manifest',
      '0 diagnostics',
      '0 uninstall v3.31.7',
      '0 audit upstream',
      '0 completeUninstall',
      '0 audit complete',
      '0 deleteCluster cc-upgrade-1',
    ]);
    // install exercises Calico: a throw there is the product failing (run's classification; the old
    // upgrade flow called it an error)
    expect(phase(r, 'install')).toMatchObject({
      outcome: 'failed',
      reason: 'calico-node never became ready',
    });
    expect(phase(r, 'upgrade')).toMatchObject({
      outcome: 'not-run',
      reason: 'install did not pass: calico-node never became ready',
    });
    expect(r.upgrade).toBeUndefined();
    expect(r.outcome).toBe('failed');
  });

  it('--keep-cluster keeps the cluster and says how to reach it', async () => {
    const sim = simulate({ path: 'manifest', from: 'v3.31.7', to: 'v3.32.1' });
    const r = await runUpgrade(upgradeOptions('manifest', 'v3.31.7', 'v3.32.1'), sim, { keepCluster: true });
    expect(sim.calls.some((c) => c.includes('deleteCluster'))).toBe(false);
    expect(sim.calls.at(-1)).toMatch(/keepCluster cc-upgrade-1$/);
    expect(phase(r, 'teardown')).toMatchObject({
      outcome: 'passed',
      evidence: ['kept cc-upgrade-1 (--keep-cluster); kubeconfig /tmp/cc-upgrade-1.kubeconfig'],
    });
  });
});

describe('run’s suite phases on B (where the old upgrade flow disagreed with run)', () => {
  const manifest = () => upgradeOptions('manifest', 'v3.31.7', 'v3.32.1');

  it('a suite that reports no checks at all fails, as in run (the old flow called it an error)', async () => {
    const r = await runUpgrade(
      manifest(),
      simulate({ path: 'manifest', from: 'v3.31.7', to: 'v3.32.1', suiteChecks: { connectivity: [] } }),
    );
    expect(phase(r, 'connectivity')).toMatchObject({
      outcome: 'failed',
      reason: 'the suite reported no checks at all',
    });
    expect(r.outcome).toBe('failed');
  });

  it('a suite whose every check was skipped is skipped, as in run (the old flow called it passed)', async () => {
    const skipped = [
      {
        name: 'calico policy: needs the Calico API',
        outcome: 'skipped' as const,
        durationMs: 0,
        message: 'no Calico API server',
      },
    ];
    const r = await runUpgrade(
      manifest(),
      simulate({ path: 'manifest', from: 'v3.31.7', to: 'v3.32.1', suiteChecks: { policy: skipped } }),
    );
    expect(phase(r, 'policy')).toMatchObject({ outcome: 'skipped', reason: 'no Calico API server' });
    expect(r.outcome).toBe('passed');
  });

  it('the suites’ grids, probe records and policy results are merged into the results, as in run (the old flow dropped them)', async () => {
    const grid: ReachabilityGrid = {
      title: 'pod to pod TCP/80',
      port: 80,
      protocol: 'TCP',
      peers: ['x/a', 'y/b'],
      expected: { 'x/a': { 'y/b': true } },
      observed: { 'x/a': { 'y/b': 'connected' } },
    };
    const r = await runUpgrade(
      manifest(),
      simulate({
        path: 'manifest',
        from: 'v3.31.7',
        to: 'v3.32.1',
        suiteData: {
          connectivity: {
            grids: [grid],
            probes: [
              { from: 'x/a', to: 'y/b', port: 80, protocol: 'TCP', verdict: 'connected', durationMs: 4 },
            ],
          },
          policy: {
            policy: [
              {
                name: 'default-deny',
                tags: [],
                outcome: 'passed',
                timeToEnforceMs: 120,
                rounds: 3,
                grids: [],
              },
            ],
          },
        },
      }),
    );
    expect(r.grids.map((g) => g.title)).toEqual(['pod to pod TCP/80']);
    expect(r.probes).toMatchObject([{ from: 'x/a', to: 'y/b', verdict: 'connected' }]);
    expect(r.policy).toMatchObject([{ name: 'default-deny', outcome: 'passed', timeToEnforceMs: 120 }]);
  });

  it('an audit that cannot finish is failed, as in run (the old flow’s copy called it an error)', async () => {
    const r = await runUpgrade(
      manifest(),
      simulate({ path: 'manifest', from: 'v3.31.7', to: 'v3.32.1', auditThrows: true }),
    );
    expect(phase(r, 'audit')).toMatchObject({ outcome: 'failed', reason: 'the API server went away' });
    expect(phase(r, 'complete-uninstall').outcome).toBe('passed');
    expect(r.outcome).toBe('failed');
  });
});

describe('stopping the upgrade phase', () => {
  it('SIGINT while waiting for B: the phase stops at once, only teardown runs, the cell says interrupted', async () => {
    const ctrl = new AbortController();
    const sim = simulate({
      path: 'manifest',
      from: 'v3.31.7',
      to: 'v3.32.1',
      hangWaitingForB: true,
      onWaiting: () => ctrl.abort('SIGINT'),
    });
    const r = await runUpgrade(upgradeOptions('manifest', 'v3.31.7', 'v3.32.1'), sim, {
      signal: ctrl.signal,
    });
    expect(phase(r, 'upgrade')).toMatchObject({
      outcome: 'error',
      reason:
        'interrupted by SIGINT while waiting for the upgrade v3.31.7 → v3.32.1 (manifest) under continuous traffic, until every component runs v3.32.1',
    });
    for (const name of ['verify', 'uninstall', 'audit', 'final-audit'])
      expect(phase(r, name)).toMatchObject({ outcome: 'not-run', reason: 'interrupted by SIGINT' });
    expect(phase(r, 'teardown').outcome).toBe('passed');
    expect(sim.calls.at(-1)).toMatch(/deleteCluster cc-upgrade-1$/);
    expect(sim.calls.some((c) => c.includes('uninstall'))).toBe(false);
    expect(r).toMatchObject({ outcome: 'error', reason: 'interrupted by SIGINT' });
  });

  it('a phase that overruns its limit times out naming what it waited for', async () => {
    const sim = simulate({ path: 'manifest', from: 'v3.31.7', to: 'v3.32.1' });
    // a traffic workload that never comes up and ignores everything but the phase's own signal
    sim.upgradeDeps.startTraffic = (step) =>
      new Promise((_, reject) =>
        step.signal.addEventListener('abort', () => reject(step.signal.reason), { once: true }),
      );
    const r = await runUpgrade(upgradeOptions('manifest', 'v3.31.7', 'v3.32.1'), sim, {
      limits: { upgrade: { timeoutMs: 200 } },
    });
    expect(phase(r, 'upgrade')).toMatchObject({
      outcome: 'failed',
      reason: expect.stringMatching(
        /^timed out after 200ms waiting for the upgrade v3\.31\.7 → v3\.32\.1 \(manifest\) under continuous traffic, until every component runs v3\.32\.1; last seen: /,
      ),
    });
    expect(phase(r, 'verify').outcome).toBe('not-run');
    expect(outcomes(r).slice(-5)).toEqual([
      'uninstall:passed',
      'audit:passed',
      'complete-uninstall:passed',
      'final-audit:passed',
      'teardown:passed',
    ]);
  });
});
