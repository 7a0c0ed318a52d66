/**
 * `upgrade` as a command: every bad input refused before anything is created (exit 2), the lab's versions
 * (exit 3), the machine (exit 3), and runs on the pipeline doubles through run's session (results
 * directory, exit codes).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assertLabVersions, labUpgradePairs, upgradeCommand } from '../../../harness/cli/commands/upgrade.js';
import { memoryIO } from '../../../harness/cli/io.js';
import { main } from '../../../harness/cli/main.js';
import { toolVersion } from '../../../harness/cli/version.js';
import { EnvironmentError } from '../../../harness/errors.js';
import type { ProcessRunner, RunResult } from '../../../harness/exec/process.js';
import { readLabLock } from '../../../harness/lab/lock.js';
import type { LabPart, LabStatus } from '../../../harness/lab/status.js';
import type { RunResults } from '../../../harness/model/results.js';
import { silentProgress } from '../../../harness/pipeline/deps.js';
import { parseDuration, parseUpgradeOptions } from '../../../harness/upgrade/options.js';
import { type SimOptions, simulate } from './sim.js';

const root = mkdtempSync(join(tmpdir(), 'cc-upgrade-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const out = () => join(root, `out${++n}`);

/** A process runner double: answers by command, records every call. */
function fakeRunner(answers: Record<string, Partial<RunResult>>): ProcessRunner & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async run(command, args) {
      calls.push([command, ...args].join(' '));
      const a = answers[command] ?? { exitCode: 127, stderr: `${command}: command not found` };
      return { command, args, exitCode: 0, stdout: '', stderr: '', timedOut: false, durationMs: 1, ...a };
    },
  };
}

const NO_KIND = () => fakeRunner({ docker: { stdout: '27.3.1\n' } });
const ALL_TOOLS = () =>
  fakeRunner({ docker: { stdout: '27.3.1\n' }, kind: { stdout: 'kind v0.31.0 go1.25.5 linux/amd64\n' } });

/**
 * Runs the command the way main() does (exit codes from errors), with doubles for everything outside; the
 * deps must not be built unless the test gives its own.
 */
async function upgrade(argv: string[], inject: Parameters<typeof upgradeCommand>[2] = {}) {
  const io = memoryIO();
  let depsBuilt = 0;
  const reportDir = out();
  let code: number;
  try {
    code = await upgradeCommand([...argv, '--report-dir', reportDir], io, {
      deps: () => {
        depsBuilt++;
        throw new Error('the deps must not be built in this test');
      },
      progress: silentProgress,
      handleSignals: false,
      ...inject,
    });
  } catch (err) {
    code = (err as { exitCode?: number }).exitCode ?? 1;
    io.err((err as Error).message);
  }
  return { code, io, reportDir, depsBuilt: () => depsBuilt };
}

describe('upgrade: validation before anything is created', () => {
  const cases: [string, string[], RegExp][] = [
    [
      '--from missing',
      ['--to', 'v3.32.1'],
      /upgrade --from: required; allowed: one of v3\.24\.0, .*v3\.32\.1, master/,
    ],
    ['--to missing', ['--from', 'v3.31.7'], /upgrade --to: required/],
    [
      '--from not catalogued',
      ['--from', 'v3.23.0', '--to', 'v3.32.1'],
      /--from: "v3\.23\.0" is not allowed; allowed: a catalogued version: v3\.24\.0/,
    ],
    ['--to not catalogued', ['--from', 'v3.31.7', '--to', 'latest'], /--to: "latest" is not allowed/],
    ['a list in --to', ['--from', 'v3.31.7', '--to', 'v3.32.1,master'], /--to: .* allowed: one version/],
    [
      'A = B',
      ['--from', 'v3.32.1', '--to', 'v3.32.1'],
      /--to: "v3\.32\.1" is not allowed; allowed: a version other than --from v3\.32\.1/,
    ],
    [
      'a downgrade',
      ['--from', 'v3.32.1', '--to', 'v3.30.7'],
      /--to: "v3\.30\.7" is not allowed; v3\.30\.7 is older than --from v3\.32\.1; allowed: a newer version \(master\), or add --allow-downgrade/,
    ],
    [
      'a bad --install',
      ['--from', 'v3.31.7', '--to', 'v3.32.1', '--install', 'helm'],
      /--install: "helm" is not allowed; allowed: manifest, operator, manifest-to-operator/,
    ],
    [
      '--calico-version',
      ['--from', 'v3.31.7', '--to', 'v3.32.1', '--calico-version', 'v3.32.1'],
      /--calico-version: not used by upgrade; give the two versions with --from A --to B/,
    ],
    [
      'a bad --max-outage',
      ['--from', 'v3.31.7', '--to', 'v3.32.1', '--max-outage', '5 seconds'],
      /--max-outage: "5 seconds" is not allowed; allowed: a duration such as 500ms, 5s or 2m/,
    ],
    [
      'a bad --max-fail-open',
      ['--from', 'v3.31.7', '--to', 'v3.32.1', '--max-fail-open=-1'],
      /--max-fail-open: "-1" is not allowed; allowed: an integer ≥ 0/,
    ],
    [
      'a too short --probe-interval',
      ['--from', 'v3.31.7', '--to', 'v3.32.1', '--probe-interval', '10ms'],
      /--probe-interval: "10ms" is not allowed; allowed: a duration of at least 50ms/,
    ],
    [
      'an encapsulation list',
      ['--from', 'v3.31.7', '--to', 'v3.32.1', '--encapsulation', 'IPIP,VXLAN'],
      /exactly one cell but the options give 2 .*\(lists given: --encapsulation\)/,
    ],
    [
      'a bad cell option',
      ['--from', 'v3.31.7', '--to', 'v3.32.1', '--encapsulation', 'vxlan'],
      /--encapsulation: "vxlan" is not allowed; allowed: IPIP, VXLAN, .*did you mean VXLAN\?/,
    ],
    [
      '--quiet with --verbose',
      ['--from', 'v3.31.7', '--to', 'v3.32.1', '--quiet', '--verbose'],
      /upgrade: --quiet and --verbose exclude each other/,
    ],
    [
      '--lab with --manifests-dir',
      ['--from', 'v3.31.0', '--to', 'v3.31.0', '--lab', '--manifests-dir', '/tmp'],
      /upgrade --lab: --manifests-dir does not apply \(the lab brings its own manifests\)/,
    ],
    [
      'an unknown flag',
      ['--from', 'v3.31.7', '--to', 'v3.32.1', '--fast'],
      /upgrade: Unknown option '--fast'/,
    ],
    [
      'a mistyped --allow rule',
      ['--from', 'v3.31.7', '--to', 'v3.32.1', '--allow', 'node-annotation'],
      /upgrade --allow: "node-annotation" is not an audit rule; valid rules: .*node-annotations, network-unavailable, by-design/,
    ],
  ];
  for (const [name, argv, message] of cases) {
    it(`${name}: exit 2, names the flag, runs nothing`, async () => {
      const runner = ALL_TOOLS();
      const r = await upgrade(argv, { runner });
      expect(r.code).toBe(2);
      expect(r.io.stderr).toMatch(message);
      expect(runner.calls).toEqual([]);
      expect(r.depsBuilt()).toBe(0);
      expect(existsSync(r.reportDir)).toBe(false);
    });
  }

  it('split-subnet is a cell option like any other: the pipeline’s create-cluster phase prepares it (the old flow could not, and refused it)', () => {
    const p = parseUpgradeOptions({ from: 'v3.31.7', to: 'v3.32.1', topology: 'split-subnet' });
    expect(p.flow.to.topology).toBe('split-subnet');
  });

  it('accepts a downgrade with --allow-downgrade and a same-version migration', () => {
    expect(
      parseUpgradeOptions({ from: 'v3.32.1', to: 'v3.30.7', 'allow-downgrade': true }).flow.to.calicoVersion,
    ).toBe('v3.30.7');
    const m = parseUpgradeOptions({ from: 'v3.32.1', to: 'v3.32.1', install: 'manifest-to-operator' });
    expect(m.flow.from.install).toBe('manifest');
    expect(m.flow.to.install).toBe('operator');
    expect(m.warnings).toEqual([]);
    const cross = parseUpgradeOptions({ from: 'v3.31.7', to: 'v3.32.1', install: 'manifest-to-operator' });
    expect(cross.warnings[0]).toMatch(/documents the manifest-to-operator migration only within one version/);
  });

  it('builds both cells from the cell options, IPIP and operator by default', () => {
    const p = parseUpgradeOptions({
      from: 'v3.30.7',
      to: 'v3.32.1',
      'pod-cidr': '10.244.0.0/16',
      'max-outage': '2.5s',
      'max-fail-open': '1',
      'probe-interval': '200ms',
      'target-timeout': '15m',
      settle: '0',
    }).flow;
    expect(p.path).toBe('operator');
    expect([p.from.id, p.to.id]).toEqual([
      'v3.30.7-operator-ipip-pod10.244.0.0_16',
      'v3.32.1-operator-ipip-pod10.244.0.0_16',
    ]);
    expect(p.thresholds).toEqual({ maxOutageMs: 2500, maxFailOpen: 1 });
    expect(p.probeIntervalMs).toBe(200);
    expect(p.timeouts).toEqual({ targetMs: 900_000, settleMs: 0 });
  });

  it('parses durations', () => {
    expect(parseDuration('--x', '500ms')).toBe(500);
    expect(parseDuration('--x', '5s')).toBe(5000);
    expect(parseDuration('--x', '2m')).toBe(120_000);
    expect(parseDuration('--x', '0')).toBe(0);
    expect(() => parseDuration('--x', '5')).toThrow(/--x: "5" is not allowed/);
  });
});

describe('upgrade --lab: only a pair the lab builds (exit 3, before anything is created)', () => {
  const lock = readLabLock();
  const have = lock.calico.version;
  const older = lock.calicoUpgradeFrom?.version;
  it('the lab pins an older Calico to upgrade from, catalogued and older than its own', () => {
    expect(older).toBe('v3.30.1');
    expect(labUpgradePairs(lock)).toEqual([
      [older, have],
      [have, have],
    ]);
  });
  const cases: [string, string[]][] = [
    ['--to not built', ['--from', have, '--to', 'v3.32.1', '--install', 'manifest']],
    ['--from not built', ['--from', 'v3.30.7', '--to', have, '--install', 'manifest']],
    ['neither built', ['--from', 'v3.31.7', '--to', 'v3.32.1', '--install', 'manifest']],
    [
      'both built, the wrong way round',
      ['--from', have, '--to', 'v3.30.1', '--allow-downgrade', '--install', 'manifest'],
    ],
  ];
  for (const [name, argv] of cases) {
    it(`${name}: names the versions and pairs the lab has and how to build another; runs nothing`, async () => {
      const runner = ALL_TOOLS();
      const r = await upgrade(['--lab', '--encapsulation', 'VXLAN', ...argv], { runner });
      expect(r.code).toBe(3);
      expect(r.io.stderr).toMatch(
        /is not a pair this lab builds: it builds Calico v3\.31\.0 \(every cell; lab\/lab\.lock\.json "calico"\) and v3\.30\.1 \(optional, where an upgrade starts; "calicoUpgradeFrom"\)/,
      );
      expect(r.io.stderr).toContain(
        'the pairs it can run are --from v3.30.1 --to v3.31.0, --from v3.31.0 --to v3.31.0',
      );
      expect(r.io.stderr).toContain('run `npm run lab:build`');
      // not even the lab's docker network: nothing was created
      expect(runner.calls).toEqual([]);
      expect(r.depsBuilt()).toBe(0);
      expect(existsSync(r.reportDir)).toBe(false);
    });
  }

  const flow = (from: string, to: string) => ({ from: { calicoVersion: from }, to: { calicoVersion: to } });
  const part = (name: string, built: boolean, calicoVersion?: string): LabPart => ({
    name,
    built,
    detail: built ? 'built' : 'never built',
    ...(calicoVersion ? { optional: 'the upgrade path only', calicoVersion } : {}),
  });
  const status = (olderBuilt: boolean): LabStatus => ({
    root: '/lab',
    complete: true,
    parts: [
      part('calico', true),
      part('images-calico', true),
      part('calico-v3.30.1', olderBuilt, 'v3.30.1'),
      part('manifests-v3.30.1', true, 'v3.30.1'),
      part('images-calico-v3.30.1', olderBuilt, 'v3.30.1'),
    ],
  });
  it('the older Calico not built: exit 3 naming its missing parts and the build command', () => {
    let err: unknown;
    try {
      assertLabVersions(flow('v3.30.1', have) as never, lock, status(false));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EnvironmentError);
    expect((err as EnvironmentError).exitCode).toBe(3);
    expect((err as Error).message).toBe(
      'upgrade --lab: --from v3.30.1 needs the lab\'s optional Calico v3.30.1, which is not built: calico-v3.30.1 (never built), images-calico-v3.30.1 (never built). Build it with `npm run lab:build` (README "The lab")',
    );
  });
  it("the older Calico built: the pair passes; the lab's own Calico to itself needs none of its parts", () => {
    expect(() => assertLabVersions(flow('v3.30.1', have) as never, lock, status(true))).not.toThrow();
    expect(() => assertLabVersions(flow(have, have) as never, lock, status(false))).not.toThrow();
  });
  it('a lock without the older Calico allows only its own version to itself', () => {
    const { calicoUpgradeFrom: _o, ...without } = lock;
    expect(labUpgradePairs(without)).toEqual([[have, have]]);
    expect(() => assertLabVersions(flow('v3.30.1', have) as never, without)).toThrow(
      /it builds Calico v3\.31\.0 \(every cell; lab\/lab\.lock\.json "calico"\); the pairs it can run are --from v3\.31\.0 --to v3\.31\.0 /,
    );
  });
});

describe('upgrade: the machine', () => {
  it('exits 3 without kind, before any cluster or deps exist', async () => {
    const runner = NO_KIND();
    const r = await upgrade(['--from', 'v3.31.7', '--to', 'v3.32.1', '--encapsulation', 'VXLAN'], { runner });
    expect(r.code).toBe(3);
    expect(r.io.stderr).toMatch(/kind: command not found\. Install kind/);
    expect(r.depsBuilt()).toBe(0);
    expect(runner.calls).toContain('kind version');
    expect(runner.calls.some((c) => c.includes('create'))).toBe(false);
  });

  it('through main: the environment error is exit 3 with its label', async () => {
    const io = memoryIO();
    expect(new EnvironmentError('x').exitCode).toBe(3);
    const code = await main(['upgrade', '--from', 'v3.31.7'], io);
    expect(code).toBe(2);
    expect(io.stderr).toMatch(/calico-conformance upgrade: error: upgrade --to: required/);
  });

  it('an unpinned master is refused without --allow-unpinned, as run refuses it: exit 2 before any cluster exists (the old flow allowed it silently)', async () => {
    const runner = ALL_TOOLS();
    const prev = process.env.CALICO_CONFORMANCE_STATE_DIR;
    process.env.CALICO_CONFORMANCE_STATE_DIR = join(root, 'state');
    try {
      // the real deps (their renderer and manifest lock), a runner double: nothing could be created anyway
      const r = await upgrade(
        [
          '--from',
          'master',
          '--to',
          'master',
          '--install',
          'manifest-to-operator',
          '--encapsulation',
          'VXLAN',
        ],
        { runner, deps: undefined },
      );
      expect(r.code).toBe(2);
      expect(r.io.stderr).toMatch(
        /master\/calico\.yaml is not pinned in harness\/calico\/manifests\.lock\.json \(master is a moving branch and cannot be pinned\); pass --allow-unpinned/,
      );
      expect(runner.calls.some((c) => c.startsWith('kind create'))).toBe(false);
      expect(existsSync(r.reportDir)).toBe(false);
    } finally {
      if (prev === undefined) delete process.env.CALICO_CONFORMANCE_STATE_DIR;
      else process.env.CALICO_CONFORMANCE_STATE_DIR = prev;
    }
  });
});

describe('upgrade: a run with doubles, through run’s session', () => {
  async function runWith(sim: SimOptions, extra: string[] = []) {
    const s = simulate(sim);
    const r = await upgrade(
      [
        '--from',
        sim.from,
        '--to',
        sim.to,
        '--install',
        sim.path,
        '--encapsulation',
        'VXLAN',
        '--probe-interval',
        '250ms',
        ...extra,
      ],
      { runner: ALL_TOOLS(), deps: s.deps, upgradeDeps: s.upgradeDeps },
    );
    const written = existsSync(join(r.reportDir, 'results.json'))
      ? (JSON.parse(readFileSync(join(r.reportDir, 'results.json'), 'utf8')) as RunResults)
      : undefined;
    return { ...r, written: written!, sim: s };
  }

  it('passes: exit 0, preflight first, the measurement in the results, every report format written', async () => {
    const r = await runWith({ path: 'manifest', from: 'v3.31.7', to: 'v3.32.1' }, [
      '--settle',
      '1s',
      '--target-timeout',
      '5m',
    ]);
    expect(r.code).toBe(0);
    const cell = r.written.cells[0]!;
    expect(cell.phases[0]).toMatchObject({ name: 'preflight', outcome: 'passed' });
    expect(cell.phases[0]!.evidence[0]).toBe('docker: server 27.3.1');
    expect(cell.upgrade).toMatchObject({
      from: 'v3.31.7',
      to: 'v3.32.1',
      path: 'manifest',
      timeToTargetMs: 30_000,
    });
    // --settle 1s: the probers stop a second after every component ran B
    expect(cell.upgrade!.timelineEndMs! - cell.upgrade!.allOnTargetMs!).toBe(1_000);
    expect(r.written.host).toMatchObject({ dockerVersion: '27.3.1', kindVersion: '0.31.0' });
    // the results name the harness's real version, as run's do
    expect(r.written.tool).toEqual({ name: 'calico-conformance', version: toolVersion() });
    expect(r.written.tool.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(r.io.stdout).toMatch(
      /upgrade v3\.31\.7 → v3\.32\.1 \(manifest\): passed; every component on v3\.32\.1 30s after the upgrade began/,
    );
    expect(r.io.stdout).toMatch(/1 cell\(s\): 1 passed, 0 failed, 0 skipped, 0 not run/);
    // every pair kept its promise: no command to repeat, though the records carried them
    expect(r.io.stdout).not.toContain('repeat:');
    expect(cell.upgrade!.pairs.every((p) => p.command?.startsWith('kubectl exec '))).toBe(true);
    for (const f of ['results.json', 'probes.jsonl', 'junit.xml', 'summary.md', 'report.html'])
      expect(existsSync(join(r.reportDir, f)), f).toBe(true);
  });

  it('a fail-open window: exit 1 and the violation printed', async () => {
    const r = await runWith({ path: 'operator', from: 'v3.31.7', to: 'v3.32.1', failOpen: [1_000, 1_300] });
    expect(r.code).toBe(1);
    expect(r.written.cells[0]!.upgrade!.outcome).toBe('failed');
    expect(r.io.stdout).toMatch(/✗ .*fail-open: connected 2 times while a policy denies it/);
    // the pair that broke its promise carries the command that repeats one of its probes, in every output
    const denied = r.written.cells[0]!.upgrade!.pairs.find((p) => p.expect === 'denied')!;
    expect(denied.command).toMatch(/^kubectl exec -n \S+ \S+ -- probe /);
    expect(r.io.stdout).toContain(`    repeat: ${denied.command}`);
    expect(readFileSync(join(r.reportDir, 'summary.md'), 'utf8')).toContain(`  ${denied.command}`);
    expect(readFileSync(join(r.reportDir, 'junit.xml'), 'utf8')).toContain(
      `repeat one probe by hand:\n  ${denied.command}`,
    );
    expect(readFileSync(join(r.reportDir, 'report.html'), 'utf8')).toContain(
      `<code class="cmd probe-command">${denied.command}</code>`,
    );
    // the allowed pair kept its promise: no command for it
    const allowed = r.written.cells[0]!.upgrade!.pairs.find((p) => p.expect === 'allowed')!;
    expect(r.io.stdout).not.toContain(`repeat: ${allowed.command}`);
  });

  it('--allow reaches both audits of B, and the results carry both audits', async () => {
    const wg = {
      node: 'kind-worker',
      category: 'interface' as const,
      rule: 'calico-device',
      name: 'wireguard.cali',
      detail: 'wireguard',
      remediation: 'ip link del wireguard.cali',
    };
    const sim = {
      path: 'manifest' as const,
      from: 'v3.31.7',
      to: 'v3.32.1',
      upstreamFindings: [wg],
      finalFindings: [wg],
    };
    const failed = await runWith(sim);
    expect(failed.code).toBe(1);
    expect(failed.written.cells[0]!.audit?.afterUpstreamUninstall?.passed).toBe(false);
    const r = await runWith(sim, ['--allow', 'calico-device']);
    expect(r.code).toBe(0);
    const audit = r.written.cells[0]!.audit!;
    expect(audit.afterUpstreamUninstall?.report.findings[0]).toMatchObject({
      name: 'wireguard.cali',
      allowed: true,
    });
    expect(audit.afterCompleteUninstall?.passed).toBe(true);
    const only = await runWith(sim, ['--no-complete-uninstall', '--allow', 'calico-device']);
    expect(only.written.cells[0]!.phases.find((p) => p.name === 'complete-uninstall')).toMatchObject({
      outcome: 'skipped',
      reason: 'not requested (--no-complete-uninstall)',
    });
    expect(only.sim.calls.some((c) => c.includes('completeUninstall'))).toBe(false);
  });

  it('a larger --max-fail-open lets the same run pass', async () => {
    const r = await runWith({ path: 'operator', from: 'v3.31.7', to: 'v3.32.1', failOpen: [1_000, 1_300] }, [
      '--max-fail-open',
      '2',
    ]);
    expect(r.code).toBe(0);
  });

  it('--keep-cluster keeps it and says how to remove it', async () => {
    const r = await runWith({ path: 'manifest', from: 'v3.31.7', to: 'v3.32.1' }, ['--keep-cluster']);
    expect(r.code).toBe(0);
    expect(r.io.stdout).toContain(
      'kept cc-upgrade-1 (--keep-cluster); kubeconfig /tmp/cc-upgrade-1.kubeconfig (remove: kind delete cluster --name cc-upgrade-1)',
    );
    expect(r.written.leftBehind).toEqual([]);
  });

  it('interrupted (the session’s signal): exit 130, partial results written that say so', async () => {
    const ctrl = new AbortController();
    const s = simulate({
      path: 'manifest',
      from: 'v3.31.7',
      to: 'v3.32.1',
      hangWaitingForB: true,
      onWaiting: () => ctrl.abort('SIGINT'),
    });
    const r = await upgrade(
      ['--from', 'v3.31.7', '--to', 'v3.32.1', '--install', 'manifest', '--encapsulation', 'VXLAN'],
      { runner: ALL_TOOLS(), deps: s.deps, upgradeDeps: s.upgradeDeps, signal: ctrl.signal },
    );
    expect(r.code).toBe(130);
    const res = JSON.parse(readFileSync(join(r.reportDir, 'results.json'), 'utf8')) as RunResults;
    expect(res.interrupted).toBe('SIGINT');
    expect(res.cells[0]!.phases.find((p) => p.name === 'upgrade')?.reason).toMatch(
      /^interrupted by SIGINT while waiting for the upgrade v3\.31\.7 → v3\.32\.1/,
    );
    expect(s.calls.at(-1)).toMatch(/deleteCluster cc-upgrade-1$/);
  });
});
