/**
 * Validation of what the renderers produce, before anything is applied: every custom resource against the
 * `openAPIV3Schema` of its CRD taken from the same Calico version's files, every built-in object checked
 * structurally. The API server would reject the same mistakes, but only after the cluster was created.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { isObject, refText, type YamlStream } from './yaml-stream.js';

export interface Problem {
  /** e.g. `Installation default` */
  object: string;
  /** JSON pointer into the object */
  path: string;
  message: string;
}

/** A render that does not validate: lists every problem. */
export class RenderValidationError extends Error {
  constructor(
    readonly what: string,
    readonly problems: Problem[],
  ) {
    super(
      `${what} does not validate (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  ${p.object} ${p.path || '/'}: ${p.message}`).join('\n'),
    );
    this.name = 'RenderValidationError';
  }
}

/** CRD schemas by `group/version/Kind`. */
export type CrdSchemas = Map<string, Record<string, unknown>>;

/** The openAPIV3Schema of every served version of every CRD in the given files. */
export function crdSchemas(streams: readonly YamlStream[]): CrdSchemas {
  const out: CrdSchemas = new Map();
  for (const stream of streams) {
    for (const { value } of stream.docs) {
      if (!isObject(value) || value.kind !== 'CustomResourceDefinition') continue;
      const spec = value.spec;
      if (!isObject(spec) || typeof spec.group !== 'string' || !isObject(spec.names)) continue;
      const kind = spec.names.kind;
      if (typeof kind !== 'string' || !Array.isArray(spec.versions)) continue;
      for (const v of spec.versions) {
        if (!isObject(v) || typeof v.name !== 'string' || v.served === false) continue;
        const schema = isObject(v.schema) ? v.schema.openAPIV3Schema : undefined;
        if (isObject(schema)) out.set(`${spec.group}/${v.name}/${kind}`, schema);
      }
    }
  }
  return out;
}

/**
 * Kubernetes' structural-schema dialect turned into plain JSON Schema for ajv:
 * `x-kubernetes-int-or-string` → integer or string; `nullable` → the type or null; objects with
 * `properties` and neither `additionalProperties` nor `x-kubernetes-preserve-unknown-fields` reject unknown
 * fields (kubectl's default `--validate=strict` makes the API server do the same);
 * `x-kubernetes-embedded-resource` admits apiVersion/kind/metadata. CEL rules (`x-kubernetes-validations`)
 * are not evaluated.
 */
export function toJsonSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toJsonSchema);
  if (!isObject(schema)) return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k.startsWith('x-kubernetes-') || k === 'nullable' || k === 'description' || k === 'example') continue;
    if (k === 'properties' || k === 'patternProperties' || k === 'definitions') {
      out[k] = Object.fromEntries(
        Object.entries(v as Record<string, unknown>).map(([p, s]) => [p, toJsonSchema(s)]),
      );
    } else if (k === 'default' || k === 'enum' || k === 'const' || k === 'required') {
      out[k] = v;
    } else {
      out[k] = toJsonSchema(v);
    }
  }
  if (schema['x-kubernetes-int-or-string'] === true) {
    delete out.type;
    out.anyOf = [{ type: 'integer' }, { type: 'string' }];
  }
  if (schema.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  if (
    schema.type === 'object' &&
    isObject(schema.properties) &&
    schema.additionalProperties === undefined &&
    schema['x-kubernetes-preserve-unknown-fields'] !== true
  ) {
    if (schema['x-kubernetes-embedded-resource'] === true) {
      out.properties = {
        apiVersion: { type: 'string' },
        kind: { type: 'string' },
        metadata: { type: 'object' },
        ...(out.properties as Record<string, unknown>),
      };
    }
    out.additionalProperties = false;
  }
  return out;
}

const INT_RANGES: Record<string, [number, number]> = {
  int32: [-(2 ** 31), 2 ** 31 - 1],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

function newAjv(): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  for (const [name, [min, max]] of Object.entries(INT_RANGES)) {
    ajv.addFormat(name, {
      type: 'number',
      validate: (n: number) => Number.isInteger(n) && n >= min && n <= max,
    });
  }
  // formats Kubernetes schemas use that the validator does not check (strings pass)
  for (const name of [
    'byte',
    'date-time',
    'duration',
    'int-or-string',
    'double',
    'float',
    'uri',
    'ipv4',
    'ipv6',
    'cidr',
    'mac',
    'uuid',
    'hostname',
    'email',
    'password',
    'quantity',
  ])
    ajv.addFormat(name, true);
  return ajv;
}

let ajv: Ajv | undefined;

/**
 * The schema with the sub-schemas of properties the instance does not have replaced by `true`. Validation
 * of that instance is unchanged (an absent property's schema never applies; `required` and the unknown-field
 * rule still see every name), but the Installation CRD's schema (hundreds of KB of component overrides)
 * compiles in milliseconds instead of most of a second.
 */
export function pruneFor(schema: unknown, instance: unknown): unknown {
  if (!isObject(schema) || !isObject(instance) || !isObject(schema.properties)) return schema;
  const properties: Record<string, unknown> = {};
  for (const [k, sub] of Object.entries(schema.properties)) {
    properties[k] = k in instance ? pruneFor(sub, instance[k]) : true;
  }
  return { ...schema, properties };
}

function validatorFor(schema: Record<string, unknown>, instance: unknown): ValidateFunction {
  ajv ??= newAjv();
  const json = toJsonSchema(pruneFor(schema, instance)) as object;
  const fn = ajv.compile(json);
  ajv.removeSchema(json); // one-off schema: do not keep it in ajv's cache
  return fn;
}

function label(obj: Record<string, unknown>): string {
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  return refText({
    kind: String(obj.kind),
    apiVersion: String(obj.apiVersion),
    ...(typeof meta.namespace === 'string' ? { namespace: meta.namespace } : {}),
    name: String(meta.name),
  });
}

/** Validates custom resources against their CRD's schema; a CR whose CRD is not in the files is a problem. */
export function validateCustomResources(objects: readonly unknown[], schemas: CrdSchemas): Problem[] {
  const problems: Problem[] = [];
  for (const obj of objects) {
    if (!isObject(obj)) {
      problems.push({ object: '(document)', path: '', message: 'not a mapping' });
      continue;
    }
    const key = `${String(obj.apiVersion)}/${String(obj.kind)}`;
    const schema = schemas.get(key);
    if (!schema) {
      problems.push({
        object: label(obj),
        path: '',
        message: `no CustomResourceDefinition serves ${key} in this version's files`,
      });
      continue;
    }
    const fn = validatorFor(schema, obj);
    if (!fn(obj)) {
      for (const e of fn.errors ?? []) {
        const extra =
          e.keyword === 'additionalProperties'
            ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})`
            : e.keyword === 'enum'
              ? ` (${JSON.stringify((e.params as { allowedValues?: unknown }).allowedValues)})`
              : '';
        problems.push({
          object: label(obj),
          path: e.instancePath,
          message: `${e.message ?? e.keyword}${extra}`,
        });
      }
    }
  }
  return problems;
}

const NAME_RE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const WORKLOAD_KINDS = new Set(['DaemonSet', 'Deployment', 'StatefulSet', 'ReplicaSet', 'Job']);

/**
 * Structural checks of built-in objects (the renderers touch ConfigMaps, DaemonSets and Deployments): the
 * identity fields, names, ConfigMap data as strings, and for workloads the selector matching the template,
 * containers with name and image, env entries with a unique name and exactly one of value (a string) and
 * valueFrom, mounts naming declared volumes, and exec probes as non-empty string lists.
 */
export function checkBuiltins(objects: readonly unknown[]): Problem[] {
  const problems: Problem[] = [];
  for (const obj of objects) {
    if (obj === null || obj === undefined) continue;
    if (!isObject(obj)) {
      problems.push({ object: '(document)', path: '', message: 'not a mapping' });
      continue;
    }
    const me = label(obj);
    const add = (path: string, message: string) => problems.push({ object: me, path, message });
    if (typeof obj.apiVersion !== 'string' || obj.apiVersion === '')
      add('/apiVersion', 'must be a non-empty string');
    if (typeof obj.kind !== 'string' || obj.kind === '') add('/kind', 'must be a non-empty string');
    const meta = obj.metadata;
    if (
      !isObject(meta) ||
      typeof meta.name !== 'string' ||
      !NAME_RE.test(meta.name) ||
      meta.name.length > 253
    ) {
      add('/metadata/name', 'must be a DNS subdomain name (lower-case alphanumerics, "-" and ".")');
    }
    if (obj.kind === 'ConfigMap' && obj.data !== undefined) {
      if (!isObject(obj.data)) add('/data', 'must be a mapping');
      else
        for (const [k, v] of Object.entries(obj.data))
          if (typeof v !== 'string') add(`/data/${k}`, `must be a string, got ${typeof v}`);
    }
    if (typeof obj.kind === 'string' && WORKLOAD_KINDS.has(obj.kind)) checkWorkload(obj, add);
    if (obj.kind === 'CustomResourceDefinition') checkCrd(obj, add);
  }
  return problems;
}

/** A CRD's name must be `<plural>.<group>` and it must serve a version with a schema (apiextensions v1). */
function checkCrd(obj: Record<string, unknown>, add: (path: string, message: string) => void): void {
  const spec = obj.spec;
  if (!isObject(spec) || typeof spec.group !== 'string' || !isObject(spec.names)) {
    add('/spec', 'a CustomResourceDefinition needs spec.group and spec.names');
    return;
  }
  const name = isObject(obj.metadata) ? obj.metadata.name : undefined;
  if (name !== `${String(spec.names.plural)}.${spec.group}`) {
    add(
      '/metadata/name',
      `must be <spec.names.plural>.<spec.group> (${String(spec.names.plural)}.${spec.group})`,
    );
  }
  const versions = Array.isArray(spec.versions) ? spec.versions : [];
  if (!versions.some((v) => isObject(v) && v.served !== false && isObject(v.schema))) {
    add('/spec/versions', 'no served version with a schema');
  }
}

function checkWorkload(obj: Record<string, unknown>, add: (path: string, message: string) => void): void {
  const spec = obj.spec;
  if (!isObject(spec) || !isObject(spec.template)) {
    add('/spec/template', 'a workload needs a pod template');
    return;
  }
  const tmpl = spec.template;
  const labels = isObject(tmpl.metadata) && isObject(tmpl.metadata.labels) ? tmpl.metadata.labels : {};
  const match =
    isObject(spec.selector) && isObject(spec.selector.matchLabels) ? spec.selector.matchLabels : undefined;
  if (obj.kind !== 'Job') {
    if (!match) add('/spec/selector/matchLabels', 'required');
    else
      for (const [k, v] of Object.entries(match))
        if (labels[k] !== v) add(`/spec/selector/matchLabels/${k}`, 'does not match the pod template labels');
  }
  const pod = tmpl.spec;
  if (!isObject(pod)) {
    add('/spec/template/spec', 'required');
    return;
  }
  const volumes = new Set(
    (Array.isArray(pod.volumes) ? pod.volumes : []).map((v) => (isObject(v) ? String(v.name) : '')),
  );
  for (const field of ['initContainers', 'containers'] as const) {
    const list = pod[field];
    if (list === undefined && field === 'initContainers') continue;
    if (!Array.isArray(list) || (field === 'containers' && list.length === 0)) {
      add(`/spec/template/spec/${field}`, 'must be a non-empty list');
      continue;
    }
    list.forEach((c, i) => {
      const at = `/spec/template/spec/${field}/${i}`;
      if (!isObject(c)) {
        add(at, 'must be a mapping');
        return;
      }
      if (typeof c.name !== 'string' || c.name === '') add(`${at}/name`, 'required');
      if (typeof c.image !== 'string' || !/^[^\s:/][^\s]*$/.test(c.image))
        add(`${at}/image`, 'must be an image reference');
      if (c.env !== undefined) {
        if (!Array.isArray(c.env)) add(`${at}/env`, 'must be a list');
        else {
          const seen = new Set<string>();
          c.env.forEach((e, j) => {
            const ep = `${at}/env/${j}`;
            if (!isObject(e) || typeof e.name !== 'string' || e.name === '') {
              add(`${ep}/name`, 'required');
              return;
            }
            if (seen.has(e.name)) add(`${ep}/name`, `duplicate env ${e.name}`);
            seen.add(e.name);
            const hasValue = e.value !== undefined;
            if (hasValue && typeof e.value !== 'string') add(`${ep}/value`, `${e.name} must be a string`);
            if (hasValue && e.valueFrom !== undefined) add(ep, `${e.name} has both value and valueFrom`);
          });
        }
      }
      for (const m of Array.isArray(c.volumeMounts) ? c.volumeMounts : []) {
        if (isObject(m) && !volumes.has(String(m.name)))
          add(`${at}/volumeMounts`, `mount of undeclared volume ${String(m.name)}`);
      }
      for (const probe of ['livenessProbe', 'readinessProbe'] as const) {
        const p = c[probe];
        if (!isObject(p) || !isObject(p.exec)) continue;
        const cmd = p.exec.command;
        if (!Array.isArray(cmd) || cmd.length === 0 || cmd.some((s) => typeof s !== 'string' || s === '')) {
          add(`${at}/${probe}/exec/command`, 'must be a non-empty list of non-empty strings');
        }
      }
    });
  }
}
