/**
 * End-to-end test of `calico-conformance run`: the cluster provider and the Kubernetes/Calico side are
 * doubles, the nodes are real docker containers (the test node image) on a docker network this test
 * created. Every phase runs; a failure is injected into each phase in turn (one cell per failure, run with
 * --parallel on separate "clusters"); the results model, the exit code and the removal of every container
 * are checked — also after SIGINT, in a child process with the real signal handlers.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCommand } from '../../harness/cli/commands/run.js';
import { memoryIO } from '../../harness/cli/io.js';
import type { CellResult, PhaseResult, RunPhase, RunResults } from '../../harness/model/results.js';
import { silentProgress } from '../../harness/pipeline/deps.js';
import { PROJECT_ROOT } from '../../harness/pipeline/suites.js';
import { killIfRunning, running } from '../support/children.js';
import { DockerTestBed, describeDocker, type NetworkHandle } from '../support/docker.js';
import {
  bedDeps,
  bedPreflight,
  CLUSTER_LABEL,
  clusterContainers,
  type Failures,
} from './support/docker-doubles.js';

const root = mkdtempSync(join(tmpdir(), 'cc-e2e-'));
const readResults = (dir: string) =>
  JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as RunResults;
const phase = (c: CellResult, name: RunPhase): PhaseResult => c.phases.find((p) => p.name === name)!;
const outcomes = (c: CellResult) => Object.fromEntries(c.phases.map((p) => [p.name, p.outcome]));

/** children this file started: a failing test must not leave one hung (killed in its finally and in afterAll) */
const children: ChildProcess[] = [];

describeDocker('run end to end (doubled provider and API, real node containers)', () => {
  const bed = new DockerTestBed();
  let net: NetworkHandle;

  beforeAll(async () => {
    net = await bed.network('e2e');
  });
  afterAll(async () => {
    // first stop any child still running, so it creates nothing after the sweep below
    for (const c of children) await killIfRunning(c);
    // whatever a test left (the injected teardown failure leaves its containers on purpose)
    const stragglers = await clusterContainers('');
    const mine = stragglers.filter((c) => c.includes(`cc-e2e-${bed.id}`));
    if (mine.length) execFileSync('docker', ['rm', '-f', ...mine]);
    expect(await bed.dispose()).toEqual([]);
    expect(await bed.remaining()).toEqual([]);
    rmSync(root, { recursive: true, force: true });
  });

  // 12 runnable cells (manifest|operator × VXLAN|VXLANCrossSubnet|None × 1|2 workers) + 4 IPIP cells the
  // fake kernel cannot run; each runnable cell gets one injected failure (or none)
  const INJECT: Failures[] = [
    {},
    { 'create-cluster': 'throw' },
    { baseline: 'throw' },
    { install: 'throw' },
    { verify: 'throw' },
    { verify: 'hang' },
    { connectivity: 'throw' },
    { policy: 'throw' },
    { uninstall: 'throw' },
    { 'complete-uninstall': 'throw' },
    { audit: 'throw' },
    { teardown: 'throw' },
  ];

  it('drives every phase, fails each phase in turn, records it, exits 1, and removes every container it could', async () => {
    const reportDir = join(root, 'matrix');
    const plannedIds: string[] = [];
    const deps = bedDeps({ network: net.name, bedId: bed.id }, (cellId) => {
      const i = plannedIds.indexOf(cellId);
      return i >= 0 ? (INJECT[i] ?? {}) : {};
    });
    const { buildMatrix } = await import('../../harness/config/matrix.js');
    const argv = [
      '--install',
      'manifest,operator',
      '--encapsulation',
      'VXLAN,VXLANCrossSubnet,None,IPIP',
      '--workers',
      '1,2',
    ];
    const cells = buildMatrix({
      flags: {
        install: 'manifest,operator',
        encapsulation: 'VXLAN,VXLANCrossSubnet,None,IPIP',
        workers: '1,2',
      },
    });
    plannedIds.push(...cells.filter((c) => c.encapsulation !== 'IPIP').map((c) => c.id));
    expect(plannedIds).toHaveLength(INJECT.length);

    const io = memoryIO();
    const code = await runCommand([...argv, '--parallel', '4', '--report-dir', reportDir], io, {
      deps,
      preflight: async () => bedPreflight(),
      progress: silentProgress,
      handleSignals: false,
      // long enough for a real verify on a loaded 2-CPU runner, short enough for the hanging one
      limits: { verify: { timeoutMs: 6000 } },
    });
    expect(code).toBe(1);
    const res = readResults(reportDir);
    const byId = new Map(res.cells.map((c) => [c.cell.id, c]));
    const cellFor = (i: number) => byId.get(plannedIds[i]!)!;

    // the IPIP cells: skipped with the kernel's reason, nothing created
    const ipip = res.cells.filter((c) => c.cell.encapsulation === 'IPIP');
    expect(ipip.map((c) => c.outcome)).toEqual(['skipped', 'skipped', 'skipped', 'skipped']);
    expect(ipip[0]!.reason).toBe('the host kernel (test) has no ipip support');
    expect(deps.calls.some((c) => c.includes('-ipip:'))).toBe(false);

    // no injection: every phase passed on real containers, with real dumps and a real, clean audit
    const ok = cellFor(0);
    expect(ok.outcome).toBe('passed');
    expect(Object.values(outcomes(ok)).every((o) => o === 'passed')).toBe(true);
    // both audits ran on the real nodes: nothing left by the (double's) uninstall, so every expected
    // leftover of the baseline is reported as not seen, and the complete uninstall found nothing to do
    expect(ok.audit?.afterUpstreamUninstall).toMatchObject({ passed: true, report: { findings: [] } });
    expect(ok.audit?.afterUpstreamUninstall?.fixed.map((e) => e.id)).toContain('cni-config');
    expect(ok.audit?.afterCompleteUninstall).toMatchObject({ passed: true, report: { findings: [] } });
    expect(ok.probes).toHaveLength(2);
    expect(ok.probes.every((p) => p.verdict === 'connected')).toBe(true);
    expect(ok.policy.map((p) => p.name)).toEqual(['default-deny']);
    expect(phase(ok, 'verify').checks.map((c) => c.outcome)).toEqual(['passed', 'passed']);
    const cellDir = join(reportDir, 'cells', ok.cell.id);
    for (const f of [
      'kind-config.yaml',
      'rendered/calico.yaml',
      'node-dump',
      'node-dump-final',
      'baseline-dump',
    ])
      expect(existsSync(join(cellDir, f)), f).toBe(true);
    const nodeDirs = (await import('node:fs')).readdirSync(join(cellDir, 'node-dump'));
    expect(nodeDirs.sort()).toEqual([`${ok.clusterName}-control-plane`, `${ok.clusterName}-worker`]);
    expect(existsSync(join(cellDir, 'node-dump', nodeDirs[0]!, 'ip-link.json'))).toBe(true);

    // create-cluster: an error; nothing after it can run; no cluster, nothing to tear down
    const create = cellFor(1);
    expect(create.outcome).toBe('error');
    expect(phase(create, 'create-cluster').reason).toBe(
      'kind create cluster: node failed to join (injected)',
    );
    expect(phase(create, 'install')).toMatchObject({
      outcome: 'not-run',
      reason: expect.stringMatching(/^create-cluster did not pass/),
    });
    expect(phase(create, 'audit')).toMatchObject({ outcome: 'not-run' });
    expect(phase(create, 'teardown')).toMatchObject({ outcome: 'skipped', reason: 'no cluster was created' });

    // baseline: an error; install not run, so no uninstall; audit and teardown still run
    expect(outcomes(cellFor(2))).toMatchObject({
      baseline: 'error',
      install: 'not-run',
      verify: 'not-run',
      uninstall: 'not-run',
      audit: 'passed',
      teardown: 'passed',
    });

    // install / verify / connectivity / policy: failed; the later suites not run; a half install is still
    // uninstalled, audited and the cluster deleted; diagnostics were taken at the failure
    const suites: RunPhase[] = ['install', 'verify', 'connectivity', 'policy'];
    for (const [i, failing] of [
      [3, 'install'],
      [4, 'verify'],
      [6, 'connectivity'],
      [7, 'policy'],
    ] as const) {
      const c = cellFor(i);
      expect(c.outcome, failing).toBe('failed');
      expect(phase(c, failing).reason).toBe(`${failing} failed (injected)`);
      for (const later of suites.slice(suites.indexOf(failing) + 1))
        expect(phase(c, later), `${failing} → ${later}`).toMatchObject({
          outcome: 'not-run',
          reason: `${failing} did not pass: ${failing} failed (injected)`,
        });
      expect(outcomes(c)).toMatchObject({
        uninstall: 'passed',
        audit: 'passed',
        'complete-uninstall': 'passed',
        'final-audit': 'passed',
        teardown: 'passed',
      });
      expect(c.diagnostics).toBe(`cells/${c.cell.id}/diagnostics`);
      expect(existsSync(join(reportDir, c.diagnostics!, `${c.clusterName}-worker.ip-link.txt`))).toBe(true);
    }

    // a hanging verify times out, saying what it waited for and what it saw last
    expect(phase(cellFor(5), 'verify')).toMatchObject({
      outcome: 'failed',
      reason:
        'timed out after 6s waiting for the mode checks (the requested encapsulation really in effect); ' +
        'last seen: verify: waiting for something that never comes (injected)',
    });
    expect(phase(cellFor(5), 'teardown').outcome).toBe('passed');

    // an uninstall that fails: the cell fails; the audit still runs and finds, on the real nodes, exactly what
    // the baseline expects Calico to leave (so no new leftover), and the real complete uninstall removes it all
    const un = cellFor(8);
    expect(outcomes(un)).toMatchObject({
      uninstall: 'failed',
      audit: 'passed',
      'complete-uninstall': 'passed',
      'final-audit': 'passed',
      teardown: 'passed',
    });
    const left = un.audit?.afterUpstreamUninstall?.report.findings ?? [];
    expect(left.map((f) => `${f.category} ${f.name} ${f.baseline}`).sort()).toEqual(
      expect.arrayContaining([
        'file /etc/cni/net.d/10-calico.conflist cni-config',
        'interface vxlan.calico vxlan-device',
      ]),
    );
    expect(left.some((f) => f.category === 'iptables' && /cali-FORWARD/.test(f.detail) && f.baseline)).toBe(
      true,
    );
    expect(left.every((f) => f.baseline)).toBe(true);
    expect(un.audit?.afterCompleteUninstall?.report.findings).toEqual([]);
    expect(outcomes(cellFor(9))).toMatchObject({
      'complete-uninstall': 'error',
      'final-audit': 'passed',
      teardown: 'passed',
    });
    expect(cellFor(9).outcome).toBe('error');

    // an audit that cannot finish fails the cell; the cluster still goes
    expect(outcomes(cellFor(10))).toMatchObject({
      uninstall: 'passed',
      audit: 'failed',
      'final-audit': 'passed',
      teardown: 'passed',
    });
    expect(phase(cellFor(10), 'audit').reason).toBe('audit failed (injected)');

    // teardown that cannot delete: an error, and the run names what it left behind
    const td = cellFor(11);
    expect(phase(td, 'teardown')).toMatchObject({
      outcome: 'error',
      reason: expect.stringMatching(/delete failed \(injected\)/),
    });
    expect(res.leftBehind).toHaveLength(2);
    expect(io.stderr).toMatch(/left behind \(remove with `calico-conformance cleanup`\)/);

    // every container of every other cluster is gone
    const created = deps.provider.created;
    expect(created.length).toBe(11);
    const remaining = (await clusterContainers('')).filter((c) => c.includes(`cc-e2e-${bed.id}`));
    expect(remaining.sort()).toEqual([`${td.clusterName}-control-plane`, `${td.clusterName}-worker`]);
    execFileSync('docker', ['rm', '-f', ...remaining]);

    // the report formats were written from the same model
    for (const f of ['probes.jsonl', 'junit.xml', 'summary.md', 'report.html'])
      expect(existsSync(join(reportDir, f)), f).toBe(true);
    expect(readFileSync(join(reportDir, 'probes.jsonl'), 'utf8')).toMatch(/"verdict":"connected"/);
  }, 240_000);

  it('--reuse-cluster: one cluster for two cells, uninstalling between them, doubles as an uninstall test', async () => {
    const reportDir = join(root, 'reuse');
    const { buildMatrix } = await import('../../harness/config/matrix.js');
    const [firstCell] = buildMatrix({ flags: { install: 'manifest', encapsulation: 'VXLAN' } });
    // the first cell's uninstall forgets the conflist (the classic incomplete uninstall)
    const deps = bedDeps({ network: net.name, bedId: bed.id }, (id) =>
      id === firstCell!.id ? { uninstall: 'leave' } : {},
    );
    const code = await runCommand(
      [
        '--install',
        'manifest',
        '--encapsulation',
        'VXLAN,None',
        '--reuse-cluster',
        '--report-dir',
        reportDir,
      ],
      memoryIO(),
      { deps, preflight: async () => bedPreflight(), progress: silentProgress, handleSignals: false },
    );
    expect(code).toBe(1);
    const res = readResults(reportDir);
    expect(deps.provider.created).toHaveLength(1);
    expect(res.cells.map((c) => c.clusterName)).toEqual([deps.provider.created[0], deps.provider.created[0]]);
    expect(res.cells.map((c) => phase(c, 'create-cluster').outcome)).toEqual(['passed', 'skipped']);
    expect(res.cells.map((c) => phase(c, 'teardown').outcome)).toEqual(['skipped', 'passed']);
    // the real audit of the real nodes finds the leftover the baseline does not know on both nodes after
    // the first cell …
    const [a, b] = res.cells;
    expect(a!.outcome).toBe('failed');
    expect(phase(a!, 'audit').reason).toBe(
      '2 new leftover(s) after uninstall, not in the known-leftovers baseline (nftables)',
    );
    expect(a!.audit?.afterUpstreamUninstall?.report.findings.map((f) => f.name)).toEqual([
      'table ip calico',
      'table ip calico',
    ]);
    // … its complete uninstall removes it from the real nodes, so the second cell installs on clean nodes,
    // passes, and both of its audits are clean
    expect(a!.audit?.afterCompleteUninstall?.passed).toBe(true);
    expect(b!.outcome).toBe('passed');
    expect(b!.audit?.afterUpstreamUninstall?.report.findings).toEqual([]);
    expect(b!.audit?.afterCompleteUninstall?.passed).toBe(true);
    expect(await clusterContainers(deps.provider.created[0]!)).toEqual([]);
  }, 120_000);

  it('SIGINT mid-phase: the child stops, deletes its cluster, writes results that say interrupted, exits 130', async () => {
    const reportDir = join(root, 'sigint');
    const marker = join(root, 'hanging');
    const mine = async () => (await clusterContainers('')).filter((c) => c.includes(`cc-e2e-${bed.id}`));
    const already = new Set(await mine());
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(PROJECT_ROOT, 'test/e2e/support/run-child.ts'),
        '--install',
        'manifest',
        '--encapsulation',
        'VXLAN,None',
        '--report-dir',
        reportDir,
        '--quiet',
      ],
      {
        cwd: PROJECT_ROOT,
        env: {
          ...process.env,
          E2E_NETWORK: net.name,
          E2E_BED_ID: bed.id,
          E2E_HANG: 'connectivity',
          E2E_HANG_MARKER: marker,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(child);
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 60_000;
      while (!existsSync(marker)) {
        if (Date.now() > deadline) throw new Error(`the child never reached the hanging phase:\n${output}`);
        if (!running(child))
          throw new Error(`the child exited ${child.exitCode} before the hanging phase:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(readFileSync(marker, 'utf8')).toBe('connectivity');
      const before = (await mine()).filter((c) => !already.has(c));
      const clusterName = before[0]?.replace(/-(control-plane|worker)$/, '');
      expect(before.sort()).toEqual([`${clusterName}-control-plane`, `${clusterName}-worker`]);
      child.kill('SIGINT');
      const code = await exited;
      expect(code, output).toBe(130);

      const res = readResults(reportDir);
      expect(res.interrupted).toBe('SIGINT');
      const [first, second] = res.cells;
      expect(first!.outcome).toBe('error');
      expect(first!.reason).toBe('interrupted by SIGINT');
      expect(phase(first!, 'connectivity').reason).toBe(
        'interrupted by SIGINT while waiting for the connectivity suite',
      );
      expect(outcomes(first!)).toMatchObject({
        verify: 'passed',
        policy: 'not-run',
        uninstall: 'not-run',
        audit: 'not-run',
        teardown: 'passed',
      });
      expect(second!.outcome).toBe('not-run');
      expect(second!.reason).toBe('interrupted by SIGINT before this cell started');
      expect(await clusterContainers(clusterName!)).toEqual([]);
      expect(output).toMatch(/SIGINT: stopping the current phase/);
    } finally {
      // an assertion or a missing hang marker must not leave the child hung
      await killIfRunning(child);
    }
  }, 120_000);
});

void CLUSTER_LABEL;
