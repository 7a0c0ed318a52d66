import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../../harness/cli/commands/run.js';
import { memoryIO } from '../../../harness/cli/io.js';
import { main } from '../../../harness/cli/main.js';
import { EnvironmentError, UsageError } from '../../../harness/errors.js';
import type { RunResults } from '../../../harness/model/results.js';
import { silentProgress } from '../../../harness/pipeline/deps.js';
import { PROJECT_ROOT } from '../../../harness/pipeline/suites.js';
import { memoryDeps, okPreflight } from './doubles.js';

const root = mkdtempSync(join(tmpdir(), 'cc-run-cmd-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const out = () => join(root, `out${++n}`);
const BIN = join(PROJECT_ROOT, 'bin', 'calico-conformance.js');

function findOnPath(cmd: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(delimiter))
    if (d && existsSync(join(d, cmd))) return join(d, cmd);
  return undefined;
}

describe('run: bad usage is exit 2, before anything is created', () => {
  const cases: [string[], RegExp][] = [
    [['--quiet', '--verbose'], /--quiet and --verbose exclude each other/],
    [['--skip-create'], /--skip-create: needs --kubeconfig FILE/],
    [['--skip-install'], /--skip-install: needs --kubeconfig FILE/],
    [['--policy-select', '[x'], /--policy-select: "\[x" is not a valid regular expression/],
    [['--reuse-cluster', '--kubeconfig', BIN], /--reuse-cluster and --parallel do not apply/],
    [['--kubeconfig', '/nonexistent/kubeconfig'], /--kubeconfig: \/nonexistent\/kubeconfig does not exist/],
    [['--parallel', 'two'], /--parallel: "two" is not allowed; allowed: a whole number from 1 to 64/],
    [['--shard', '0/3'], /--shard: "0\/3" is not allowed/],
    [['--cells', 'nomatch'], /--cells: nomatch matches none of the 10 planned cells/],
    [['--encapsulation', 'GRE'], /encapsulation/],
    [['--no-such-flag'], /Unknown option '--no-such-flag'/],
    // a mistyped audit rule would allow nothing: refused, naming the valid rules
    [
      ['--allow', 'by-design,calico-rout'],
      /run --allow: "calico-rout" is not an audit rule; valid rules: tunl0-configured, .*calico-route.*, by-design/,
    ],
    [['--allow', ''], /run --allow: empty list/],
    [
      ['--until', 'teardown'],
      /run --until: "teardown" is not one of create-cluster, baseline, install, verify, connectivity, policy/,
    ],
    [
      ['--policy-concurrency', '0'],
      /run --policy-concurrency: "0" is not a whole number from 1 \(serial\) to 16/,
    ],
  ];
  for (const [argv, message] of cases) {
    it(`run ${argv.join(' ')}`, async () => {
      const io = memoryIO();
      const reportDir = out();
      expect(await main(['run', ...argv, '--report-dir', reportDir], io)).toBe(2);
      expect(io.stderr).toMatch(message);
      expect(existsSync(reportDir)).toBe(false);
    });
  }
});

describe('run: an unusable machine is exit 3 with what is missing and how to get it', () => {
  it('no docker and no kind on PATH (the real bin, real process runner)', () => {
    const reportDir = out();
    const r = spawnSync(process.execPath, [BIN, 'run', '--report-dir', reportDir], {
      cwd: root,
      env: { PATH: join(root, 'empty-bin'), HOME: root },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/environment not usable: this machine cannot run clusters/);
    expect(r.stderr).toMatch(/docker: command not found\. Install Docker Engine/);
    expect(r.stderr).toMatch(/kind: command not found\. Install kind v0\.31\.0/);
    expect(existsSync(reportDir)).toBe(false);
  });

  const docker = findOnPath('docker');
  it.runIf(docker !== undefined)(
    'docker present, kind absent (this machine; skipped where no docker binary is on PATH): names only kind',
    () => {
      const bin = join(root, 'docker-only-bin');
      mkdirSync(bin, { recursive: true });
      if (!existsSync(join(bin, 'docker'))) symlinkSync(docker!, join(bin, 'docker'));
      const r = spawnSync(process.execPath, [BIN, 'run', '--cells', 'vxlan$', '--report-dir', out()], {
        cwd: root,
        env: {
          PATH: bin,
          HOME: root,
          ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
        },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(r.status).toBe(3);
      expect(r.stderr).toMatch(/kind: command not found/);
      expect(r.stderr).not.toMatch(/docker: command not found/);
    },
  );
});

describe('run with the pipeline doubled', () => {
  const inject = (deps = memoryDeps(), ipip = true) => ({
    deps,
    preflight: async () => okPreflight(ipip),
    progress: silentProgress,
    handleSignals: false,
  });
  const results = (dir: string) => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as RunResults;

  it('writes the results directory and exits 0 when every cell passed or was skipped', async () => {
    const dir = out();
    const io = memoryIO();
    const code = await runCommand(
      ['--install', 'manifest', '--report-dir', dir],
      io,
      inject(memoryDeps(), false),
    );
    expect(code).toBe(0);
    for (const f of ['results.json', 'probes.jsonl', 'junit.xml', 'summary.md', 'report.html'])
      expect(existsSync(join(dir, f)), f).toBe(true);
    const r = results(dir);
    expect(r.cells.map((c) => [c.cell.encapsulation, c.outcome])).toEqual([
      ['IPIP', 'skipped'],
      ['VXLAN', 'passed'],
      ['IPIPCrossSubnet', 'skipped'],
      ['VXLANCrossSubnet', 'passed'],
      ['None', 'passed'],
    ]);
    expect(existsSync(join(dir, 'cells', r.cells[1]!.cell.id, 'kind-config.yaml'))).toBe(true);
    expect(io.stdout).toMatch(/5 cell\(s\): 3 passed, 0 failed, 2 skipped, 0 not run/);
  });

  it('--keep-cluster says how to reach and remove each kept cluster', async () => {
    const io = memoryIO();
    const deps = memoryDeps();
    const code = await runCommand(
      ['--install', 'manifest', '--encapsulation', 'None', '--keep-cluster', '--report-dir', out()],
      io,
      inject(deps),
    );
    expect(code).toBe(0);
    const name = deps.created[0];
    expect(io.stdout).toContain(
      `kept ${name} (--keep-cluster); kubeconfig /tmp/${name}.kubeconfig (remove: kind delete cluster --name ${name})`,
    );
    expect(deps.live.has(name!)).toBe(true);
  });

  it('renders every runnable cell before creating anything: a render failure is exit 2 naming the cell', async () => {
    const deps = memoryDeps();
    deps.render = async (cell) => {
      if (cell.encapsulation === 'None')
        throw new Error('calico.yaml: DaemonSet calico-node has no containers');
      return { files: [], applyPlan: [], objects: [] };
    };
    const dir = out();
    const err = await runCommand(
      ['--install', 'manifest', '--report-dir', dir],
      memoryIO(),
      inject(deps, false),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    expect((err as Error).message).toMatch(
      /run: cell v3\.\d+\.\d+-manifest-none cannot be rendered: calico\.yaml: DaemonSet calico-node has no containers/,
    );
    expect(deps.created).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });

  it('a manifest download that cannot be made is the environment (exit 3), with nothing created', async () => {
    const deps = memoryDeps();
    deps.render = async () => {
      throw new EnvironmentError(
        'cannot download calico.yaml for v3.32.1 and it is not cached; use --manifests-dir',
      );
    };
    const dir = out();
    const err = await runCommand(
      ['--install', 'manifest', '--report-dir', dir],
      memoryIO(),
      inject(deps, false),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnvironmentError);
    expect((err as EnvironmentError).exitCode).toBe(3);
    expect(deps.created).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });

  it('exits 1 when a cell failed, and lists it', async () => {
    const dir = out();
    const io = memoryIO();
    const code = await runCommand(
      ['--install', 'manifest', '--encapsulation', 'VXLAN,None', '--report-dir', dir],
      io,
      inject(memoryDeps({ audit: 'fail-check' })),
    );
    expect(code).toBe(1);
    expect(io.stdout).toMatch(
      /failed {2}v3\.\d+\.\d+-manifest-vxlan: audit: 1 new leftover\(s\) after uninstall, not in the known-leftovers baseline \(interface\)/,
    );
    expect(results(dir).cells.every((c) => c.outcome === 'failed')).toBe(true);
  });

  it('--allow RULE reaches both audits: the allowed leftover is reported, not counted', async () => {
    const dir = out();
    const code = await runCommand(
      ['--install', 'manifest', '--encapsulation', 'VXLAN', '--allow', 'calico-device', '--report-dir', dir],
      memoryIO(),
      inject(memoryDeps({ audit: 'fail-check', 'final-audit': 'fail-check' })),
    );
    expect(code).toBe(0);
    const audit = results(dir).cells[0]!.audit!;
    expect(audit.afterUpstreamUninstall?.report.findings.map((f) => [f.name, f.allowed])).toEqual([
      ['wireguard.cali', true],
    ]);
    expect(audit.afterCompleteUninstall?.report.findings.map((f) => [f.name, f.allowed])).toEqual([
      ['wireguard.cali', true],
    ]);
  });

  it('--shard runs only its slice; an empty shard is not an error', async () => {
    const dir = out();
    expect(
      await runCommand(
        ['--install', 'manifest', '--shard', '2/5', '--report-dir', dir],
        memoryIO(),
        inject(),
      ),
    ).toBe(0);
    expect(results(dir).cells.map((c) => c.cell.encapsulation)).toEqual(['VXLAN']);
    const io = memoryIO();
    expect(
      await runCommand(['--install', 'manifest', '--encapsulation', 'VXLAN', '--shard', '2/2'], io, inject()),
    ).toBe(0);
    expect(io.stdout).toMatch(/shard 2\/2 holds none of the 1 selected cells/);
  });

  it('plan --shard i/n lists exactly the cells run --shard i/n runs (one CI job per shard)', async () => {
    for (const shard of ['1/3', '2/3', '3/3']) {
      const planIO = memoryIO();
      expect(
        await main(['plan', '--cells', 'operator|none', '--shard', shard, '--output', 'json'], planIO),
      ).toBe(0);
      const planned = (JSON.parse(planIO.stdout) as { cells: { id: string }[] }).cells.map((c) => c.id);
      const dir = out();
      await runCommand(
        ['--cells', 'operator|none', '--shard', shard, '--report-dir', dir],
        memoryIO(),
        inject(),
      );
      expect(results(dir).cells.map((c) => c.cell.id)).toEqual(planned);
    }
  });

  it('the default report dir is results/<UTC timestamp> under the working directory', async () => {
    const io = { ...memoryIO(), cwd: join(root, 'cwd') };
    const code = await runCommand(['--install', 'manifest', '--encapsulation', 'None'], io, {
      ...inject(),
      now: () => new Date('2026-11-25T21:00:00.000Z'),
    });
    expect(code).toBe(0);
    expect(existsSync(join(root, 'cwd', 'results', '2026-11-25T21-00-00-000Z', 'results.json'))).toBe(true);
  });

  it('--kubeconfig FILE --skip-install runs the suites alone against an existing cluster', async () => {
    const kubeconfig = join(root, 'kubeconfig');
    writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\n');
    const deps = memoryDeps();
    const dir = out();
    const code = await runCommand(
      [
        '--install',
        'operator',
        '--encapsulation',
        'VXLAN',
        '--kubeconfig',
        kubeconfig,
        '--skip-create',
        '--skip-install',
        '--report-dir',
        dir,
      ],
      memoryIO(),
      inject(deps),
    );
    expect(code).toBe(0);
    expect(deps.calls).toContain(`attach:${kubeconfig}`);
    expect(deps.created).toEqual([]);
    const phases = results(dir).cells[0]!.phases;
    expect(phases.filter((p) => p.outcome === 'passed').map((p) => p.name)).toEqual([
      'preflight',
      'create-cluster',
      'verify',
      'connectivity',
      'policy',
      'teardown',
    ]);
  });
});
