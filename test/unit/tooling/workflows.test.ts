/**
 * The GitHub workflows, checked offline. actionlint (built from the Go module proxy at the version
 * .ci/install-actionlint pins; .ci/run and ci.yml build it and set ACTIONLINT and REQUIRE_ACTIONLINT=1) checks
 * the workflow syntax, job and step references, expressions and contexts, action inputs, untrusted input in
 * scripts, and every run script with shellcheck. What stays here is what is this project's own: inputs and
 * matrix values reach scripts through env only, the actions are at their current major versions, the time
 * limits let the harness's teardown run (checked against the real phase limits), and the jobs do what the
 * README says they do.
 */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: GitHub expressions and bash parameters are literal text here
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { DOWNLOAD_TIMEOUT_MS } from '../../../harness/calico/source.js';
import { CATALOGUE } from '../../../harness/config/catalogue.js';
import { buildMatrix } from '../../../harness/config/matrix.js';
import { DEFAULT_LIMITS, DIAGNOSTICS_LIMITS } from '../../../harness/pipeline/cell.js';
import { upgradeLimits } from '../../../harness/upgrade/phase.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const DIR = join(ROOT, '.github/workflows');
const MINUTE = 60_000;

// biome-ignore lint/suspicious/noExplicitAny: parsed workflow YAML, walked freely
type Workflow = any;

function load(file: string): Workflow {
  return parse(readFileSync(join(DIR, file), 'utf8'));
}

const jobsOf = (wf: Workflow): [string, Workflow][] => Object.entries(wf.jobs as Record<string, Workflow>);
const stepsOf = (wf: Workflow): Workflow[] => jobsOf(wf).flatMap(([, j]) => j.steps as Workflow[]);
const allRun = (wf: Workflow) =>
  stepsOf(wf)
    .filter((s) => typeof s.run === 'string')
    .map((s) => s.run as string)
    .join('\n');

const tmp = mkdtempSync(join(tmpdir(), 'cc-workflows-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// ---- actionlint

const PINNED = /^ACTIONLINT_VERSION=(v[\d.]+)$/m.exec(
  readFileSync(join(ROOT, '.ci/install-actionlint'), 'utf8'),
)?.[1];

/** ACTIONLINT, else the pinned build in the user cache (where .ci/install-actionlint puts it). */
function findActionlint(): string | undefined {
  if (process.env.ACTIONLINT) return process.env.ACTIONLINT;
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  const built = join(cache, 'calico-conformance', 'tools', `actionlint-${PINNED}`, 'actionlint');
  return existsSync(built) ? built : undefined;
}

const ACTIONLINT = findActionlint();
const REQUIRED = process.env.REQUIRE_ACTIONLINT === '1';

async function actionlint(files: string[]) {
  const r = await execa(ACTIONLINT!, ['-no-color', '-oneline', ...files], { reject: false, cwd: ROOT });
  return { code: r.exitCode, out: `${r.stdout}${r.stderr}` };
}

/** Why the actionlint tests cannot run here, or undefined: not built and not required (REQUIRE_ACTIONLINT=1). */
const NO_ACTIONLINT =
  !ACTIONLINT && !REQUIRED
    ? `actionlint ${PINNED} is not built here (bash .ci/install-actionlint builds it; .ci/run does)`
    : undefined;

describe('actionlint pin', () => {
  it('the install script pins a version', () => {
    expect(PINNED).toMatch(/^v\d+\.\d+\.\d+$/);
  });
});

describe.skipIf(NO_ACTIONLINT !== undefined)(
  `actionlint${NO_ACTIONLINT ? ` [skipped: ${NO_ACTIONLINT}]` : ''}`,
  () => {
    it(`is the pinned ${PINNED}`, async () => {
      expect(
        ACTIONLINT,
        'REQUIRE_ACTIONLINT=1 but no actionlint: run bash .ci/install-actionlint',
      ).toBeDefined();
      const r = await execa(ACTIONLINT!, ['-version'], { reject: false });
      expect(r.stdout.split('\n')[0]).toBe(PINNED);
    });

    it('finds nothing in .github/workflows (shellcheck included)', async () => {
      const files = readdirSync(DIR)
        .filter((f) => /\.ya?ml$/.test(f))
        .map((f) => join(DIR, f));
      const r = await actionlint(files);
      expect(r.out).toBe('');
      expect(r.code).toBe(0);
      // actionlint runs shellcheck on every script when one is on PATH; CI has it (.ci/run installs it)
      if (REQUIRED) expect(() => execFileSync('shellcheck', ['--version'])).not.toThrow();
    });

    it('reports broken workflows: references, keys, expressions, action inputs, scripts', async () => {
      const wf = load('conformance.yml');
      wf.jobs.report.needs = ['plan', 'cells'];
      wf.jobs.cell.strategy.matrix.cell = '${{ fromJSON(needs.plan.outputs.ids) }}';
      wf.jobs.plan.steps.push({ uses: 'actions/checkout@v7', run: 'echo both' });
      delete wf.jobs.report['runs-on'];
      const upload = wf.jobs.cell.steps.find((s: Workflow) =>
        String(s.uses).startsWith('actions/upload-artifact'),
      );
      upload.with.nmae = upload.with.name;
      wf.jobs.cell.steps.push({ run: 'echo "${{ github.event.issue.title }}"; rm -rf $UNQUOTED/x' });
      const file = join(tmp, 'broken.yml');
      writeFileSync(file, stringify(wf));
      const r = await actionlint([file]);
      expect(r.code).toBe(1);
      for (const expected of [
        /job "report" needs job "cells" which does not exist/,
        /property "ids" is not defined/,
        /unexpected key "uses" for step to run shell command/,
        /"runs-on" section is missing in job "report"/,
        /input "nmae" is not defined in action "actions\/upload-artifact@v7"/,
        /"github\.event\.issue\.title" is potentially untrusted/,
        /shellcheck reported issue in this script: SC2086/,
      ])
        expect(r.out).toMatch(expected);
    });
  },
);

// ---- the project's own rules

/** Inputs and matrix values go through env, never into a script's text (actionlint only flags github.event). */
function splicedValues(wf: Workflow): string[] {
  const out: string[] = [];
  for (const [id, job] of jobsOf(wf))
    for (const [i, step] of (job.steps as Workflow[]).entries())
      if (
        typeof step.run === 'string' &&
        /\$\{\{\s*(inputs\.|matrix\.|github\.event\.|github\.head_ref)/.test(step.run)
      )
        out.push(`jobs.${id}.steps[${i}]`);
  return out;
}

/** The current major version of each action the workflows use (Node 20 actions are being retired). */
const CURRENT_MAJOR: Record<string, number> = {
  'actions/checkout': 7,
  'actions/setup-node': 7,
  'actions/setup-go': 7,
  'actions/upload-artifact': 7,
  'actions/download-artifact': 8,
};

const WORKFLOWS = ['ci.yml', 'conformance.yml', 'upgrade.yml'];

describe('GitHub workflows', () => {
  it('exist: ci, conformance, upgrade', () => {
    expect(
      readdirSync(DIR)
        .filter((f) => /\.ya?ml$/.test(f))
        .sort(),
    ).toEqual(WORKFLOWS);
  });

  for (const file of WORKFLOWS) {
    it(`${file}: inputs and matrix values reach scripts through env only`, () => {
      expect(splicedValues(load(file))).toEqual([]);
    });

    it(`${file}: every action is a known one at its current major version`, () => {
      for (const s of stepsOf(load(file)).filter((x) => typeof x.uses === 'string')) {
        const [name, ref] = String(s.uses).split('@');
        expect(Object.keys(CURRENT_MAJOR), `${file}: ${s.uses}`).toContain(name);
        expect(ref, `${file}: ${s.uses}`).toBe(`v${CURRENT_MAJOR[name!]}`);
      }
    });
  }

  it('the rules catch what they are for', () => {
    const wf = load('conformance.yml');
    wf.jobs.plan.steps[3].run = 'echo ${{ inputs.install }}';
    expect(splicedValues(wf)).toEqual(['jobs.plan.steps[3]']);
    const old = load('ci.yml');
    old.jobs.test.steps[0].uses = 'actions/checkout@v4';
    expect(() => {
      for (const s of stepsOf(old).filter((x) => typeof x.uses === 'string'))
        expect(String(s.uses).split('@')[1]).toBe(`v${CURRENT_MAJOR[String(s.uses).split('@')[0]!]}`);
    }).toThrow();
  });

  it('ci.yml runs what .ci/run runs: install, lint, typecheck, the test image, actionlint, the fixtures, npm test with all required', () => {
    const wf = load('ci.yml');
    const run = allRun(wf);
    for (const cmd of [
      'npm ci',
      'npm run lint',
      'npm run typecheck',
      'bash test/image/build.sh',
      'bash .ci/install-actionlint',
      'npm run fixtures:fetch -- "$RUNNER_TEMP/calico-fixtures"',
      'CALICO_FIXTURES_DIR=$RUNNER_TEMP/calico-fixtures',
      'npm test',
    ])
      expect(run).toContain(cmd);
    const test = wf.jobs.test.steps.find((s: Workflow) => s.run === 'npm test');
    expect(test.env).toEqual({ REQUIRE_DOCKER: '1', REQUIRE_FIXTURES: '1', REQUIRE_ACTIONLINT: '1' });
    const steps = wf.jobs.test.steps as Workflow[];
    const at = (needle: string) => steps.findIndex((s: Workflow) => String(s.run ?? '').includes(needle));
    expect(at('fixtures:fetch')).toBeLessThan(at('npm test'));
    expect(at('install-actionlint')).toBeLessThan(at('npm test'));
    expect(run).toContain('CHROMIUM_PATH');
    const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8');
    expect(ci).toContain('.ci/install-actionlint');
    expect(ci).toMatch(/REQUIRE_ACTIONLINT=1/);
  });

  it('conformance.yml: plan → one job per cell on kind v0.31.0 → merged report', () => {
    const wf = load('conformance.yml');
    expect(wf.env.KIND_VERSION).toBe('v0.31.0');
    expect(allRun({ jobs: { plan: wf.jobs.plan } })).toContain('calico-conformance plan --output json');
    expect(wf.jobs.plan.outputs.cells).toBe('${{ steps.plan.outputs.cells }}');
    const cell = wf.jobs.cell;
    expect(cell.needs).toBe('plan');
    expect(cell.strategy['fail-fast']).toBe(false);
    expect(cell.strategy.matrix.cell).toBe('${{ fromJSON(needs.plan.outputs.cells) }}');
    const cellRun = allRun({ jobs: { cell } });
    expect(cellRun).toContain('kind.sigs.k8s.io/dl/${KIND_VERSION}/kind-linux-amd64');
    expect(cellRun).toMatch(
      /calico-conformance run .*--cells "\^\$\{CELL\/\/\.\/\\\\\.\}\\\$" --report-dir "results\/\$\{CELL\}"/,
    );
    const upload = cell.steps.find((s: Workflow) => String(s.uses).startsWith('actions/upload-artifact@'));
    expect(upload.if).toBe('always()');
    expect(upload.with.name).toBe('results-${{ matrix.cell }}');
    const report = wf.jobs.report;
    expect(report.needs).toEqual(['plan', 'cell']);
    expect(report.if).toContain('always()');
    expect(allRun({ jobs: { report } })).toContain(
      'calico-conformance report --from "${dirs[@]}" --out report',
    );
    const download = report.steps.find((s: Workflow) =>
      String(s.uses).startsWith('actions/download-artifact@'),
    );
    expect(download.with.pattern).toBe('results-*');
  });

  it('the cell id regex the job builds matches exactly its cell', () => {
    const cell = 'v3.30.7-manifest-ipip';
    const regex = execFileSync('bash', ['-c', 'CELL=$1; printf "%s" "^${CELL//./\\\\.}\\$"', '_', cell], {
      encoding: 'utf8',
    });
    expect(regex).toBe('^v3\\.30\\.7-manifest-ipip$');
    expect(new RegExp(regex).test(cell)).toBe(true);
    expect(new RegExp(regex).test('v3x30.7-manifest-ipip')).toBe(false);
    expect(new RegExp(regex).test(`${cell}-split-subnet`)).toBe(false);
  });

  it('upgrade.yml: manual dispatch with from/to versions and the install path', () => {
    const wf = load('upgrade.yml');
    const inputs = wf.on.workflow_dispatch.inputs;
    expect(Object.keys(inputs)).toEqual(expect.arrayContaining(['from', 'to', 'install']));
    expect(inputs.install.options).toEqual(['operator', 'manifest', 'manifest-to-operator']);
    expect(allRun(wf)).toContain('calico-conformance upgrade --from "$FROM" --to "$TO" --install "$INSTALL"');
  });
});

// ---- time limits

/**
 * The longest a step running the harness may take, from the real limits: every phase of the run pipeline
 * (a phase that does not run costs nothing, so the sum bounds any cell), the diagnostics bundle (once per
 * cell), the manifest downloads before the first cluster (one download limit per upstream file a render can
 * read), and a margin for what the harness does between limits (starting, writing the reports).
 */
const HARNESS_MARGIN_MS = 5 * MINUTE;
const MOST_FILES = Math.max(...CATALOGUE.map((e) => e.files.length));
const phaseSumMs = Object.values(DEFAULT_LIMITS).reduce((a, l) => a + l.timeoutMs, 0);

function runCellBoundMs(): number {
  return phaseSumMs + DIAGNOSTICS_LIMITS.timeoutMs + MOST_FILES * DOWNLOAD_TIMEOUT_MS + HARNESS_MARGIN_MS;
}

/**
 * The upgrade: the run pipeline's phases (it is that pipeline), its own upgrade phase at the limit the
 * phase stops at (every wait inside it added up: upgradeLimits), on the path with the most steps (the
 * migration: CRDs, operator, Installation), and two versions' downloads.
 */
function upgradeBoundMs(): number {
  const cell = (install: string) =>
    buildMatrix({ flags: { calicoVersion: 'v3.32.1', install, encapsulation: 'VXLAN' } })[0]!;
  const upgradePhase = upgradeLimits({
    from: cell('manifest'),
    to: cell('operator'),
    path: 'manifest-to-operator',
  }).timeoutMs;
  return (
    phaseSumMs +
    upgradePhase +
    DIAGNOSTICS_LIMITS.timeoutMs +
    2 * MOST_FILES * DOWNLOAD_TIMEOUT_MS +
    HARNESS_MARGIN_MS
  );
}

/** The runner's own set-up and post steps (checkout clean-up, the npm cache save) outside any step limit. */
const RUNNER_MARGIN_MIN = 5;

describe('time limits: the harness tears down before the runner stops it', () => {
  for (const file of WORKFLOWS) {
    it(`${file}: every step has a limit and each job's limit exceeds their sum`, () => {
      for (const [id, job] of jobsOf(load(file))) {
        const steps = job.steps as Workflow[];
        for (const s of steps)
          expect(s['timeout-minutes'], `${file} ${id}: ${s.name ?? s.uses ?? s.run}`).toBeGreaterThan(0);
        const sum = steps.reduce((a, s) => a + s['timeout-minutes'], 0);
        expect(job['timeout-minutes'], `${file} ${id}: steps add up to ${sum} min`).toBeGreaterThanOrEqual(
          sum + RUNNER_MARGIN_MIN,
        );
        expect(job['timeout-minutes']).toBeLessThanOrEqual(360); // GitHub-hosted runners stop a job at 6 h
      }
    });
  }

  const harnessStep = (file: string, job: string, command: string) => {
    const step = (load(file).jobs[job].steps as Workflow[]).find((s) =>
      String(s.run ?? '').includes(command),
    );
    expect(step, `${file} ${job}: no step runs ${command}`).toBeDefined();
    return step['timeout-minutes'] * MINUTE;
  };

  it('conformance.yml: the step running a cell outlasts every phase limit of the run pipeline added up', () => {
    expect(phaseSumMs).toBeGreaterThanOrEqual(
      DEFAULT_LIMITS.policy.timeoutMs + DEFAULT_LIMITS.teardown.timeoutMs,
    );
    expect(harnessStep('conformance.yml', 'cell', 'calico-conformance run')).toBeGreaterThan(
      runCellBoundMs(),
    );
  });

  it('upgrade.yml: the upgrade step outlasts the limits of everything the upgrade runs', () => {
    expect(harnessStep('upgrade.yml', 'upgrade', 'calico-conformance upgrade')).toBeGreaterThan(
      upgradeBoundMs(),
    );
  });

  it('the arithmetic fails for a job sized by the old limits', () => {
    const wf = load('conformance.yml');
    const run = (wf.jobs.cell.steps as Workflow[]).find((s) =>
      String(s.run ?? '').includes('calico-conformance run'),
    );
    run['timeout-minutes'] = 60; // the whole cell job had 75 minutes before
    expect(run['timeout-minutes'] * MINUTE).toBeLessThan(runCellBoundMs());
  });
});
