/**
 * An offline check of GitHub Actions workflows: a compact JSON schema of the workflow syntax this project
 * uses (strict: unknown keys are errors), then the cross-references a schema cannot express.
 */
import { Ajv } from 'ajv';

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
                // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then
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
export type Workflow = any;

const ajv = new Ajv({ allErrors: true, strict: false });
const validateSchema = ajv.compile(WORKFLOW_SCHEMA);

export const EXPRESSION = /\$\{\{\s*([\s\S]*?)\s*\}\}/g;

/** Every problem with a parsed workflow: schema errors, then cross-references. */
export function workflowProblems(wf: Workflow): string[] {
  // `as unknown`: a reference would be narrowed by Ajv's type guard; the cross-checks below read it untyped
  if (!validateSchema(wf as unknown)) {
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
