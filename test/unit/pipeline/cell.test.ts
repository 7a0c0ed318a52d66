import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { auditReport } from '../../../harness/audit/rules.js';
import { buildMatrix } from '../../../harness/config/matrix.js';
import type { ProbeRecord, ReachabilityGrid } from '../../../harness/model/connectivity.js';
import {
  type CellResult,
  type PhaseResult,
  type PolicyScenarioResult,
  RUN_PHASES,
  type RunPhase,
} from '../../../harness/model/results.js';
import { runCell } from '../../../harness/pipeline/cell.js';
import { silentProgress } from '../../../harness/pipeline/deps.js';
import { runMatrix } from '../../../harness/pipeline/matrix.js';
import { type Failure, memoryDeps, okPreflight } from './doubles.js';

const root = mkdtempSync(join(tmpdir(), 'cc-pipeline-unit-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let k = 0;
const dir = () => join(root, `r${++k}`);

const [vxlan, none] = buildMatrix({ flags: { install: 'manifest', encapsulation: 'VXLAN,None' } });
const ipipCells = buildMatrix({
  flags: { install: 'manifest,operator', encapsulation: 'IPIP,IPIPCrossSubnet' },
});
const GRID: ReachabilityGrid = {
  title: 'pod to pod TCP/80',
  port: 80,
  protocol: 'TCP',
  peers: ['x/a', 'y/b'],
  expected: { 'x/a': { 'y/b': true } },
  observed: { 'x/a': { 'y/b': 'connected' } },
};
const phase = (r: CellResult, name: RunPhase): PhaseResult => {
  const p = r.phases.find((x) => x.name === name);
  if (!p) throw new Error(`no phase ${name} in ${r.phases.map((x) => x.name).join(',')}`);
  return p;
};
const base = (extra: Partial<Parameters<typeof runCell>[2]> = {}) => ({
  reportDir: dir(),
  preflight: okPreflight(),
  progress: silentProgress,
  ...extra,
});

describe('one cell through the pipeline (in-memory doubles)', () => {
  it('runs every phase in order and passes: both audits and the complete uninstall between them', async () => {
    const deps = memoryDeps();
    const r = await runCell(vxlan!, deps, base());
    expect(r.outcome).toBe('passed');
    expect(r.phases.map((p) => p.name)).toEqual([...RUN_PHASES]);
    expect(r.phases.filter((p) => p.outcome !== 'passed')).toEqual([]);
    expect(deps.calls.filter((c) => /^(uninstall|audit|complete-uninstall|final-audit):/.test(c))).toEqual([
      `uninstall:${vxlan!.id}`,
      `audit:${vxlan!.id}`,
      `complete-uninstall:${vxlan!.id}`,
      `final-audit:${vxlan!.id}`,
    ]);
    // both audits side by side in the result: an empty upstream audit passes, every expected leftover of
    // the baseline for a manifest VXLAN cell reported as not seen
    expect(r.audit?.afterUpstreamUninstall?.passed).toBe(true);
    expect(r.audit?.afterUpstreamUninstall?.fixed.map((e) => e.id)).toContain('vxlan-device');
    expect(r.audit?.afterCompleteUninstall?.passed).toBe(true);
    expect(phase(r, 'audit').evidence.join('\n')).toMatch(
      /left by upstream uninstall: 0 expected, 0 new, 0 allowed; \d+ baseline entries not seen/,
    );
    expect(phase(r, 'verify').checks).toHaveLength(2);
    expect(phase(r, 'create-cluster').evidence.join('\n')).toMatch(/control-plane .*172\.18\.0\.2/);
    expect(deps.live.size).toBe(0);
    expect(r.clusterName).toBe(deps.created[0]);
    for (const p of r.phases) expect(p.startedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  const MAIN: RunPhase[] = ['install', 'verify', 'connectivity', 'policy'];
  for (const failing of MAIN) {
    it(`a throwing ${failing} fails the cell, marks the later suites not-run, and still uninstalls, audits and tears down`, async () => {
      const deps = memoryDeps({ [failing]: 'throw' });
      const r = await runCell(vxlan!, deps, base());
      expect(r.outcome).toBe('failed');
      expect(phase(r, failing).outcome).toBe('failed');
      expect(phase(r, failing).reason).toMatch(/broke \(injected\)/);
      const after = MAIN.slice(MAIN.indexOf(failing) + 1);
      for (const p of after) {
        expect(phase(r, p).outcome).toBe('not-run');
        expect(phase(r, p).reason).toMatch(new RegExp(`^${failing} did not pass: .*injected`));
      }
      for (const p of ['uninstall', 'audit', 'complete-uninstall', 'final-audit', 'teardown'] as RunPhase[])
        expect(phase(r, p).outcome, p).toBe('passed');
      expect(r.diagnostics).toBe(`cells/${vxlan!.id}/diagnostics`);
      expect(deps.live.size).toBe(0);
    });
  }

  it('a failed check (not an exception) fails the phase with the check named in the reason', async () => {
    const r = await runCell(vxlan!, memoryDeps({ connectivity: 'fail-check' }), base());
    expect(phase(r, 'connectivity').outcome).toBe('failed');
    expect(phase(r, 'connectivity').reason).toBe(
      '1 of 2 checks failed; first: connectivity check 2: expected allowed, saw denied',
    );
    expect(phase(r, 'policy').outcome).toBe('not-run');
  });

  it('a failed create-cluster is an error: nothing to uninstall, audit or tear down', async () => {
    const deps = memoryDeps({ 'create-cluster': 'throw' });
    const r = await runCell(vxlan!, deps, base());
    expect(r.outcome).toBe('error');
    expect(phase(r, 'create-cluster').outcome).toBe('error');
    expect(phase(r, 'uninstall')).toMatchObject({ outcome: 'not-run' });
    expect(phase(r, 'audit')).toMatchObject({
      outcome: 'not-run',
      reason: expect.stringMatching(/no cluster/),
    });
    expect(phase(r, 'teardown')).toMatchObject({ outcome: 'skipped', reason: 'no cluster was created' });
  });

  it('a failed baseline is an error; install is not run, so uninstall is not run either, but audit and teardown are', async () => {
    const r = await runCell(vxlan!, memoryDeps({ baseline: 'throw' }), base());
    expect(phase(r, 'baseline').outcome).toBe('error');
    expect(phase(r, 'install').outcome).toBe('not-run');
    expect(phase(r, 'uninstall')).toMatchObject({ outcome: 'not-run' });
    expect(phase(r, 'audit').outcome).toBe('passed');
    expect(phase(r, 'teardown').outcome).toBe('passed');
  });

  it('a new leftover (not in the known-leftovers baseline) fails the cell with the categories in the reason', async () => {
    const r = await runCell(vxlan!, memoryDeps({ audit: 'fail-check' }), base());
    expect(r.outcome).toBe('failed');
    expect(phase(r, 'audit').reason).toBe(
      '1 new leftover(s) after uninstall, not in the known-leftovers baseline (interface)',
    );
    expect(r.audit?.afterUpstreamUninstall?.passed).toBe(false);
    // the complete uninstall and the second audit still run, and pass
    expect(phase(r, 'complete-uninstall').outcome).toBe('passed');
    expect(phase(r, 'final-audit').outcome).toBe('passed');
    expect(phase(r, 'teardown').outcome).toBe('passed');
  });

  it('--allow RULE: a new leftover of an allowed rule is reported as allowed and does not fail the cell', async () => {
    const r = await runCell(
      vxlan!,
      memoryDeps({ audit: 'fail-check' }),
      base({ auditAllow: ['calico-device'] }),
    );
    expect(r.outcome).toBe('passed');
    expect(r.audit?.afterUpstreamUninstall?.report.findings).toEqual([
      expect.objectContaining({ name: 'wireguard.cali', allowed: true }),
    ]);
  });

  it('a leftover after the complete uninstall fails the cell in the final audit', async () => {
    const r = await runCell(vxlan!, memoryDeps({ 'final-audit': 'fail-check' }), base());
    expect(r.outcome).toBe('failed');
    expect(phase(r, 'audit').outcome).toBe('passed');
    expect(phase(r, 'final-audit')).toMatchObject({
      outcome: 'failed',
      reason: '1 leftover(s) after the complete uninstall (interface)',
    });
    expect(r.audit?.afterCompleteUninstall?.passed).toBe(false);
    expect(r.reason).toMatch(/^final-audit: 1 leftover/);
  });

  it('a complete uninstall that throws is an error, and the final audit still looks', async () => {
    const deps = memoryDeps({ 'complete-uninstall': 'throw' });
    const r = await runCell(vxlan!, deps, base());
    expect(phase(r, 'complete-uninstall').outcome).toBe('error');
    expect(phase(r, 'final-audit').outcome).toBe('passed');
    expect(r.outcome).toBe('error');
  });

  it('--no-complete-uninstall: only the first audit; the complete uninstall and the final audit are skipped', async () => {
    const deps = memoryDeps();
    const r = await runCell(vxlan!, deps, base({ completeUninstall: false }));
    expect(r.outcome).toBe('passed');
    expect(phase(r, 'complete-uninstall')).toMatchObject({
      outcome: 'skipped',
      reason: 'not requested (--no-complete-uninstall)',
    });
    expect(phase(r, 'final-audit')).toMatchObject({ outcome: 'skipped' });
    expect(deps.calls.some((c) => c.startsWith('complete-uninstall:') || c.startsWith('final-audit:'))).toBe(
      false,
    );
    expect(r.audit?.afterCompleteUninstall).toBeUndefined();
  });

  it('an audit where a node produced nothing (every docker exec failed) fails the phase, never passes', async () => {
    const deps = memoryDeps();
    deps.audit = async (_step, dumps) =>
      auditReport({
        dumps: dumps.map((d) => ({
          node: d.node,
          files: {},
          notes: {
            unavailable: { 'ip-link.json': 'exited 1: Error response from daemon: container not running' },
          },
        })),
      });
    const r = await runCell(vxlan!, deps, base());
    expect(r.audit?.afterUpstreamUninstall?.passed).toBe(false);
    expect(r.audit?.afterUpstreamUninstall?.report.complete).toBe(false);
    expect(phase(r, 'audit').outcome).toBe('failed');
    expect(phase(r, 'audit').reason).toMatch(/^nothing could be collected on /);
    expect(phase(r, 'audit').evidence?.join('\n')).toMatch(
      /nothing could be collected \(exited 1: Error response/,
    );
    expect(r.outcome).toBe('failed');
  });

  it('a phase that hangs times out, saying what it waited for and what it saw last', async () => {
    const r = await runCell(
      vxlan!,
      memoryDeps({ install: 'hang' }),
      base({ limits: { install: { timeoutMs: 50 } } }),
    );
    expect(phase(r, 'install').outcome).toBe('failed');
    expect(phase(r, 'install').reason).toBe(
      'timed out after 50ms waiting for Calico installed and ready on every node; last seen: install working',
    );
    expect(phase(r, 'uninstall').outcome).toBe('passed');
  });

  it('a teardown that cannot delete the cluster is an error and reports what is left', async () => {
    const left: string[] = [];
    const r = await runCell(vxlan!, memoryDeps({ teardown: 'throw' }), base({ leftBehind: left }));
    expect(phase(r, 'teardown').outcome).toBe('error');
    expect(left).toEqual([expect.stringMatching(/delete failed \(injected\)/)]);
    expect(r.outcome).toBe('error');
  });

  it('--keep-cluster keeps the cluster and it is not reported as left behind', async () => {
    const left: string[] = [];
    const deps = memoryDeps();
    const r = await runCell(vxlan!, deps, base({ keepCluster: true, leftBehind: left }));
    expect(phase(r, 'teardown').evidence[0]).toMatch(/kept .* \(--keep-cluster\)/);
    expect(left).toEqual([]);
    expect(deps.live.size).toBe(1);
  });

  it('--until verify: the phases after verify are skipped (not failed), Calico stays and the cluster is kept', async () => {
    const deps = memoryDeps();
    const r = await runCell(vxlan!, deps, base({ until: 'verify', keepCluster: true }));
    expect(r.outcome).toBe('passed');
    expect(phase(r, 'verify').outcome).toBe('passed');
    for (const name of [
      'connectivity',
      'policy',
      'uninstall',
      'audit',
      'complete-uninstall',
      'final-audit',
    ] as const)
      expect(phase(r, name), name).toMatchObject({
        outcome: 'skipped',
        reason: '--until verify: the run stopped after verify',
      });
    expect(deps.calls.some((c) => c.startsWith('uninstall'))).toBe(false);
    expect(phase(r, 'teardown').evidence[0]).toMatch(/kept .* \(--keep-cluster\)/);
    expect(deps.live.size).toBe(1);
  });

  it('skips IPIP and IPIPCrossSubnet cells on both install paths when the kernel has no ipip, creating nothing', async () => {
    for (const cell of ipipCells) {
      const deps = memoryDeps();
      const r = await runCell(cell, deps, base({ preflight: okPreflight(false) }));
      expect(r.outcome, cell.id).toBe('skipped');
      expect(r.reason).toMatch(/no ipip support/);
      expect(r.phases.every((p) => p.outcome === 'skipped')).toBe(true);
      expect(deps.calls).toEqual([]);
    }
  });

  it('--kubeconfig with --skip-install runs only the checks against the existing cluster and never deletes it', async () => {
    const deps = memoryDeps();
    const r = await runCell(vxlan!, deps, base({ kubeconfig: '/tmp/k', skipInstall: true }));
    expect(r.outcome).toBe('passed');
    expect(Object.fromEntries(r.phases.map((p) => [p.name, p.outcome]))).toEqual({
      preflight: 'passed',
      'create-cluster': 'passed',
      baseline: 'skipped',
      install: 'skipped',
      verify: 'passed',
      connectivity: 'passed',
      policy: 'passed',
      uninstall: 'skipped',
      audit: 'skipped',
      'complete-uninstall': 'skipped',
      'final-audit': 'skipped',
      teardown: 'passed',
    });
    expect(deps.calls).toContain('attach:/tmp/k');
    expect(deps.calls.some((c) => c.startsWith('create:'))).toBe(false);
  });

  it('merges what the suites recorded (grids, probes, policy results) into the cell result, each once', async () => {
    const deps = memoryDeps();
    const reportDir = dir();
    const probe: ProbeRecord = {
      from: 'a',
      to: 'b',
      port: 80,
      protocol: 'TCP',
      verdict: 'connected',
      durationMs: 5,
    };
    const scenario: PolicyScenarioResult = {
      name: 'deny-all',
      tags: [],
      outcome: 'passed',
      timeToEnforceMs: 900,
      rounds: 3,
      grids: [],
      namespaceSet: 1,
    };
    deps.runSuite = async (name) => ({
      checks: [{ name: `${name} ok`, outcome: 'passed', durationMs: 1 }],
      evidence: [`${name} double`],
      ...(name === 'connectivity' ? { probes: [probe], grids: [GRID] } : {}),
      ...(name === 'policy' ? { policy: [scenario] } : {}),
    });
    const r = await runCell(vxlan!, deps, base({ reportDir }));
    expect(r.probes).toEqual([probe]);
    expect(r.grids).toEqual([GRID]);
    expect(r.policy).toEqual([scenario]);
    expect(phase(r, 'connectivity').checks.map((c) => c.name)).toEqual(['connectivity ok']);
    expect(phase(r, 'connectivity').evidence).toEqual(['connectivity double']);
    expect(phase(r, 'policy').checks.map((c) => c.name)).toEqual(['policy ok']);
    expect(readFileSync(join(reportDir, 'cells', vxlan!.id, 'rendered', 'calico.yaml'), 'utf8')).toMatch(
      vxlan!.id,
    );
  });

  it('a suite that reports no checks at all fails (a suite that checks nothing cannot pass)', async () => {
    const deps = memoryDeps();
    deps.runSuite = async () => ({ checks: [], evidence: [] });
    const r = await runCell(vxlan!, deps, base());
    expect(phase(r, 'connectivity')).toMatchObject({
      outcome: 'failed',
      reason: 'the suite reported no checks at all',
    });
  });
});

describe('the matrix', () => {
  const cells = buildMatrix({ flags: { install: 'manifest,operator', encapsulation: 'VXLAN,None' } });
  const opts = (extra: Partial<Parameters<typeof runMatrix>[2]> = {}) => ({
    reportDir: dir(),
    preflight: okPreflight(),
    progress: silentProgress,
    toolVersion: '0.0.0-test',
    ...extra,
  });

  it('runs cells one after another by default, one cluster each, results in plan order', async () => {
    const deps = memoryDeps();
    const res = await runMatrix(cells, deps, opts());
    expect(res.cells.map((c) => c.cell.id)).toEqual(cells.map((c) => c.id));
    expect(res.cells.every((c) => c.outcome === 'passed')).toBe(true);
    expect(deps.created).toHaveLength(4);
    expect(deps.live.size).toBe(0);
    expect(res.host.kindVersion).toBe('0.31.0');
  });

  it('--reuse-cluster creates one cluster for cells of the same shape and uninstalls between them', async () => {
    const deps = memoryDeps();
    const res = await runMatrix(cells, deps, opts({ reuseCluster: true }));
    expect(deps.created).toHaveLength(1);
    expect(res.cells.map((c) => phase(c, 'create-cluster').outcome)).toEqual([
      'passed',
      'skipped',
      'skipped',
      'skipped',
    ]);
    expect(phase(res.cells[1]!, 'create-cluster').reason).toMatch(/reusing .* \(created for v3/);
    expect(phase(res.cells[1]!, 'baseline').reason).toMatch(
      /baseline was taken when the cluster was created/,
    );
    expect(res.cells.map((c) => phase(c, 'teardown').outcome)).toEqual([
      'skipped',
      'skipped',
      'skipped',
      'passed',
    ]);
    expect(deps.calls.filter((c) => c.startsWith('uninstall:'))).toHaveLength(4);
    expect(deps.live.size).toBe(0);
  });

  it('--reuse-cluster: a skipped cell last in the group still deletes the cluster', async () => {
    const group = buildMatrix({ flags: { install: 'manifest', encapsulation: 'VXLAN,IPIP' } });
    const deps = memoryDeps();
    const ordered = [
      group.find((c) => c.encapsulation === 'VXLAN')!,
      group.find((c) => c.encapsulation === 'IPIP')!,
    ];
    const res = await runMatrix(ordered, deps, opts({ reuseCluster: true, preflight: okPreflight(false) }));
    expect(res.cells.map((c) => c.outcome)).toEqual(['passed', 'skipped']);
    expect(phase(res.cells[1]!, 'teardown').outcome).toBe('passed');
    expect(phase(res.cells[1]!, 'install').outcome).toBe('skipped');
    expect(deps.live.size).toBe(0);
  });

  it('--fail-fast starts no new cell after a failure; the rest are not-run with the reason', async () => {
    const deps = memoryDeps({ connectivity: 'fail-check' });
    const res = await runMatrix(cells, deps, opts({ failFast: true }));
    expect(res.cells.map((c) => c.outcome)).toEqual(['failed', 'not-run', 'not-run', 'not-run']);
    expect(res.cells[1]!.reason).toBe(`--fail-fast: not started after ${cells[0]!.id} failed`);
    expect(deps.created).toHaveLength(1);
  });

  it('--parallel 2 keeps two clusters busy at once', async () => {
    const deps = memoryDeps();
    let busy = 0;
    let peak = 0;
    const install = deps.install;
    deps.install = async (step) => {
      busy++;
      peak = Math.max(peak, busy);
      await new Promise((r) => setTimeout(r, 20));
      busy--;
      return install(step);
    };
    const res = await runMatrix(cells, deps, opts({ parallel: 2 }));
    expect(peak).toBe(2);
    expect(res.cells.every((c) => c.outcome === 'passed')).toBe(true);
  });

  it('an interrupted run tears down the running cell, marks the rest not-run and says so', async () => {
    const deps = memoryDeps({ install: 'hang' });
    const ctrl = new AbortController();
    const install = deps.install;
    deps.install = async (step) => {
      setTimeout(() => ctrl.abort('SIGINT'), 10);
      return install(step);
    };
    const res = await runMatrix(cells, deps, opts({ signal: ctrl.signal }));
    expect(res.interrupted).toBe('SIGINT');
    const first = res.cells[0]!;
    expect(first.outcome).toBe('error');
    expect(first.reason).toBe('interrupted by SIGINT');
    expect(phase(first, 'install').reason).toMatch(
      /interrupted by SIGINT while waiting for Calico installed and ready/,
    );
    expect(phase(first, 'uninstall')).toMatchObject({ outcome: 'not-run', reason: 'interrupted by SIGINT' });
    expect(phase(first, 'teardown').outcome).toBe('passed');
    expect(res.cells.slice(1).map((c) => c.outcome)).toEqual(['not-run', 'not-run', 'not-run']);
    expect(res.cells[1]!.reason).toMatch(/interrupted by SIGINT before this cell started/);
    expect(deps.live.size).toBe(0);
  });

  it('none of the failure kinds leaves a cluster behind', async () => {
    const kinds: [RunPhase, Failure][] = [
      ['install', 'throw'],
      ['verify', 'fail-check'],
      ['policy', 'throw'],
      ['uninstall', 'throw'],
      ['audit', 'fail-check'],
      ['complete-uninstall', 'throw'],
      ['final-audit', 'fail-check'],
    ];
    for (const [p, f] of kinds) {
      const deps = memoryDeps({ [p]: f });
      const res = await runMatrix([none!], deps, opts());
      expect(res.cells[0]!.outcome, `${p} ${f}`).not.toBe('passed');
      expect(deps.live.size, `${p} ${f}`).toBe(0);
    }
  });
});
