/**
 * The config's JSON Schema (schema/config.schema.json) as the one validator of shape: the config file and
 * the cell flags' values are both checked by it (ajv, strict mode), and a failure comes back as the problem
 * at the first bad place in the document, with the "allowed:" text the loader puts in its error message.
 * That text is the schema's own: `x-allowed` ({enum}, {minimum}, {maximum} filled in from the keywords
 * beside it), or made from `enum`, `type`, `minimum`/`maximum` when there is none. The `ipv4-cidr` format
 * is checked here by parseIpv4Cidr, whose reason leads the message ("it has host bits set; allowed: …").
 * Rules across fields or on data (overlaps, sizes, the catalogue's facts) are not shape: matrix.ts has them.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parseIpv4Cidr } from '../net/cidr.js';

export const CONFIG_SCHEMA_PATH = fileURLToPath(new URL('../../schema/config.schema.json', import.meta.url));

/** A schema object as this module reads it (the keywords the messages are made from). */
export interface SchemaNode {
  $ref?: string;
  type?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  format?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  else?: SchemaNode;
  'x-allowed'?: string;
  [keyword: string]: unknown;
}

/** The formats the schema names, each a check returning why a string fails (undefined when it passes). */
export const SCHEMA_FORMATS: Record<string, (text: string) => string | undefined> = {
  'ipv4-cidr': (text) => {
    const r = parseIpv4Cidr(text);
    return r.ok ? undefined : r.reason;
  },
};

/** A path into the document: keys and list indexes. */
export type DocPath = (string | number)[];

export type ShapeProblem =
  /** the document itself is not a mapping */
  | { kind: 'not-a-mapping'; value: unknown }
  /** a key the schema does not list, with the keys it does list there */
  | { kind: 'unknown-key'; path: DocPath; key: string; allowedKeys: string[]; near?: string }
  /** a value the schema refuses: `allowed` is the message's tail, e.g. `allowed: manifest, operator` */
  | { kind: 'value'; path: DocPath; value: unknown; allowed: string };

interface Compiled {
  schema: SchemaNode;
  validate: ValidateFunction;
}
let compiled: Compiled | undefined;

/** The parsed schema, compiled once on first use. */
function schemaCompiled(): Compiled {
  if (compiled) return compiled;
  const schema = JSON.parse(readFileSync(CONFIG_SCHEMA_PATH, 'utf8')) as SchemaNode;
  const ajv = new Ajv({ strict: true, allErrors: true, verbose: true });
  ajv.addKeyword({ keyword: 'x-allowed', schemaType: 'string' });
  for (const [name, why] of Object.entries(SCHEMA_FORMATS)) {
    ajv.addFormat(name, { type: 'string', validate: (text: string) => why(text) === undefined });
  }
  compiled = { schema, validate: ajv.compile(schema) };
  return compiled;
}

export function configSchema(): SchemaNode {
  return schemaCompiled().schema;
}

/** Follows `$ref`s (local JSON pointers) to the schema they name. */
export function resolveRef(node: SchemaNode): SchemaNode {
  let n = node;
  for (let hops = 0; n.$ref !== undefined; hops++) {
    if (!n.$ref.startsWith('#/') || hops > 16) throw new Error(`config schema: unsupported $ref ${n.$ref}`);
    let target: unknown = configSchema();
    for (const part of n.$ref.slice(2).split('/')) {
      target = (target as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    }
    if (target === undefined) throw new Error(`config schema: $ref ${n.$ref} names nothing`);
    n = target as SchemaNode;
  }
  return n;
}

/**
 * The schema of one value of a top-level option (the `else` of its value-or-list), e.g. blockSize →
 * `{type: integer, minimum: 20, …}`; undefined for a key the schema does not list.
 */
export function optionValueSchema(key: string): SchemaNode | undefined {
  const prop = configSchema().properties?.[key];
  if (!prop) return undefined;
  const option = resolveRef(prop);
  return resolveRef(option.else ?? option);
}

/** Checks a document against the schema; the problem at the first bad place in document order, if any. */
export function shapeProblem(doc: unknown): ShapeProblem | undefined {
  const { validate } = schemaCompiled();
  if (validate(doc)) return undefined;
  const order = documentOrder(doc);
  const rank = (e: ErrorObject) => {
    const pointer =
      e.keyword === 'additionalProperties'
        ? `${e.instancePath}/${escapePointer(String(e.params.additionalProperty))}`
        : e.instancePath;
    return order.get(pointer) ?? Number.MAX_SAFE_INTEGER;
  };
  const errors = (validate.errors ?? [])
    // `if` only says the value-or-list's then/else failed; the failure itself is reported beside it
    .filter((e) => e.keyword !== 'if')
    .sort((a, b) => rank(a) - rank(b) || keywordRank(a.keyword) - keywordRank(b.keyword));
  const first = errors[0];
  if (!first) throw new Error(`config schema: no error to report among ${JSON.stringify(validate.errors)}`);
  const path = parsePointer(first.instancePath);
  if (first.keyword === 'additionalProperties') {
    const key = String(first.params.additionalProperty);
    const allowedKeys = Object.keys((first.parentSchema as SchemaNode).properties ?? {}).filter(
      (k) => !k.startsWith('$'),
    );
    const near = allowedKeys.find((k) => k.toLowerCase() === key.toLowerCase());
    return { kind: 'unknown-key', path, key, allowedKeys, ...(near ? { near } : {}) };
  }
  if (path.length === 0 && first.keyword === 'type') return { kind: 'not-a-mapping', value: doc };
  return {
    kind: 'value',
    path,
    value: first.data,
    allowed: allowedText(first.parentSchema as SchemaNode, first.data),
  };
}

/** Unknown keys first, then the wrong type, then what a right-typed value breaks. */
function keywordRank(keyword: string): number {
  return ['additionalProperties', 'type', 'format', 'pattern', 'enum'].indexOf(keyword) + 1 || 9;
}

/** `it <reason>; allowed: <what the schema allows>` for a value the schema node refuses. */
export function allowedText(node: SchemaNode, value: unknown): string {
  const formatWhy =
    typeof value === 'string' && node.format !== undefined ? SCHEMA_FORMATS[node.format]?.(value) : undefined;
  const template = node['x-allowed'] ?? generatedAllowed(node);
  const text = template
    .replace(/\{enum\}/g, (node.enum ?? []).map(String).join(', '))
    .replace(/\{minimum\}/g, String(node.minimum))
    .replace(/\{maximum\}/g, String(node.maximum));
  const near =
    typeof value === 'string' && node.enum
      ? node.enum.find((a) => typeof a === 'string' && a.toLowerCase() === value.toLowerCase() && a !== value)
      : undefined;
  return `${formatWhy ? `it ${formatWhy}; ` : ''}allowed: ${text}${near ? ` (did you mean ${near}?)` : ''}`;
}

function generatedAllowed(node: SchemaNode): string {
  if (node.enum) return '{enum}';
  switch (node.type) {
    case 'boolean':
      return 'true, false';
    case 'integer':
      return node.minimum !== undefined && node.maximum !== undefined
        ? 'an integer from {minimum} to {maximum}'
        : 'an integer';
    case 'string':
      return node.minLength ? 'a non-empty string' : 'a string';
    case 'object':
      return 'a mapping';
    case 'array':
      return 'a list';
    default:
      return 'a value as schema/config.schema.json describes';
  }
}

/** JSON pointer of every place in the document → its position in document order. */
function documentOrder(doc: unknown): Map<string, number> {
  const order = new Map<string, number>();
  const walk = (v: unknown, pointer: string) => {
    order.set(pointer, order.size);
    if (Array.isArray(v)) {
      for (const [i, item] of v.entries()) walk(item, `${pointer}/${i}`);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, item] of Object.entries(v)) walk(item, `${pointer}/${escapePointer(k)}`);
    }
  };
  walk(doc, '');
  return order;
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function parsePointer(pointer: string): DocPath {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p.replace(/~1/g, '/').replace(/~0/g, '~')));
}
