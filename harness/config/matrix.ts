/**
 * From config file + flags to a validated list of cells. Every rule runs before anything is created and
 * each failure names the field (the flag or the config key), the bad value, and what is allowed.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError, UsageError } from '../errors.js';
import { cidrContains, cidrsOverlap, mustParseIpv4Cidr } from '../net/cidr.js';
import { type Encapsulation, findVersion, type InstallPath } from './catalogue.js';
import { type BgpMode, type Cell, DEFAULTS, defaultBgp, SPLIT_SUBNET_RANGES, type Topology } from './cell.js';
import { type DocPath, optionValueSchema, type ShapeProblem, shapeProblem } from './schema.js';

/**
 * Config keys (camelCase, as in `plan --output json`) and their command-line flags: every option the
 * loader reads. schema/config.schema.json lists the same keys (test/unit/config/schema.test.ts).
 */
export const CELL_FIELDS = {
  calicoVersion: '--calico-version',
  install: '--install',
  encapsulation: '--encapsulation',
  podCIDR: '--pod-cidr',
  serviceCIDR: '--service-cidr',
  ipPoolCIDR: '--ip-pool-cidr',
  blockSize: '--block-size',
  natOutgoing: '--nat-outgoing',
  workers: '--workers',
  nodeImage: '--node-image',
  topology: '--topology',
  imageRegistry: '--image-registry',
  bgp: '--bgp',
} as const;
export type CellField = keyof typeof CELL_FIELDS;
export const CELL_FIELD_NAMES = Object.keys(CELL_FIELDS) as CellField[];

type Scalar = string | number | boolean;
/** Values of a matrix dimension (the schema has checked each), each with the place it came from (for messages). */
interface RawValue {
  value: unknown;
  /** e.g. `--pod-cidr`, `podCIDR in matrix.yaml`, `cells[1].podCIDR in matrix.yaml` */
  label: string;
  /** a flag's text, as given (`"22"` where the value is 22) */
  text?: string;
}
type RawDimension = RawValue[];
export type RawMatrix = Partial<Record<CellField, RawDimension>>;

export interface MatrixInput {
  /** parsed flags: field → comma-separated text (lists expand the matrix) */
  flags?: Partial<Record<CellField, string>>;
  /** path of a YAML config file (`--config`) */
  configFile?: string;
  /** already parsed config document (tests; the file is read when only the path is given) */
  config?: unknown;
}

export function loadConfigDocument(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--config: cannot read ${path}: ${(err as Error).message}`, 'config');
  }
  try {
    return parseYaml(text);
  } catch (err) {
    throw new UsageError(`--config: ${path} is not valid YAML: ${(err as Error).message}`, 'config');
  }
}

/**
 * Expands and validates the matrix. Throws a UsageError/ConfigError (exit 2) on the first bad input.
 *
 * Shape — which keys, and each value's type, list, range, enum and form (CIDR syntax without host bits,
 * version, registry, image) — is schema/config.schema.json's, for the config file and the flags' values
 * alike (./schema.ts). What stays here is what a JSON Schema cannot say:
 * - flag syntax: a comma-separated list without empty items, and flags over the file, cells over its top level;
 * - a pod CIDR of /24 or larger (kind hangs otherwise; a size rule on the parsed CIDR);
 * - pod and service CIDRs that do not overlap; an IP pool that does not overlap the service CIDR, and on
 *   the operator path lies inside the pod CIDR; split-subnet node ranges clear of both;
 * - a block size no bigger than the pool;
 * - BGP Disabled only where the version's operator (a catalogue fact) or the manifest's backend allows it;
 * - no duplicate cells.
 */
export function buildMatrix(input: MatrixInput = {}): Cell[] {
  const source = input.configFile ?? 'the config';
  const doc =
    input.config !== undefined
      ? input.config
      : input.configFile
        ? loadConfigDocument(input.configFile)
        : undefined;
  const fromConfig =
    doc === undefined || doc === null ? { top: {}, cells: undefined } : readConfig(doc, source);
  const fromFlags = readFlags(input.flags ?? {});
  const top: RawMatrix = { ...fromConfig.top, ...fromFlags };

  let cells: Cell[];
  if (fromConfig.cells) {
    // explicit cells: each cell's own keys win over the file's top level; flags win over both
    cells = fromConfig.cells.flatMap((c) => {
      const merged: RawMatrix = { ...fromConfig.top, ...c, ...fromFlags };
      return expand(merged);
    });
  } else {
    cells = expand(top);
  }
  rejectDuplicates(cells);
  return cells;
}

/** The config document, checked against the schema, as raw dimensions labelled with where each came from. */
function readConfig(doc: unknown, source: string): { top: RawMatrix; cells?: RawMatrix[] } {
  const problem = shapeProblem(doc);
  if (problem) throw configProblem(problem, source);
  const mapping = doc as Record<string, unknown>;
  const top = readMapping(mapping, '', source);
  const rawCells = mapping.cells as Record<string, unknown>[] | undefined;
  if (rawCells === undefined) return { top };
  return { top, cells: rawCells.map((c, i) => readMapping(c, `cells[${i}].`, source)) };
}

function configProblem(problem: ShapeProblem, source: string): UsageError {
  if (problem.kind === 'not-a-mapping') {
    return new UsageError(
      `${source}: the config must be a YAML mapping of cell options (see schema/config.schema.json)`,
      'config',
    );
  }
  if (problem.kind === 'unknown-key') {
    const field = pathText([...problem.path, problem.key]);
    return new UsageError(
      `${field} in ${source}: unknown config key; allowed keys: ${problem.allowedKeys.join(', ')}` +
        (problem.near ? ` (did you mean ${problem.near}?)` : ''),
      field,
    );
  }
  // an item of an option's list is reported under the option: `encapsulation in FILE: "vxlan" …`
  const path = [...problem.path];
  if (typeof path.at(-1) === 'number' && (CELL_FIELD_NAMES as unknown[]).includes(path.at(-2))) path.pop();
  return new ConfigError(`${pathText(path)} in ${source}`, problem.value, problem.allowed);
}

/** `cells[1].encapsulation` */
function pathText(path: DocPath): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function readMapping(obj: Record<string, unknown>, prefix: string, source: string): RawMatrix {
  const out: RawMatrix = {};
  for (const key of CELL_FIELD_NAMES) {
    if (!(key in obj)) continue;
    const value = obj[key];
    const label = `${prefix}${key} in ${source}`;
    out[key] = (Array.isArray(value) ? value : [value]).map((v) => ({ value: v, label }));
  }
  return out;
}

/**
 * Flag text → typed values (an integer or boolean option's text becomes a number or boolean when it reads
 * as one), checked against the same schema as a config file holding them.
 */
function readFlags(flags: Partial<Record<CellField, string>>): RawMatrix {
  const out: RawMatrix = {};
  const doc: Record<string, unknown[]> = {};
  for (const [key, text] of Object.entries(flags) as [CellField, string | undefined][]) {
    if (text === undefined) continue;
    const label = CELL_FIELDS[key];
    const parts = String(text)
      .split(',')
      .map((s) => s.trim());
    if (parts.some((p) => p === '')) {
      throw new ConfigError(label, text, 'allowed: a value or a comma-separated list without empty items');
    }
    const type = optionValueSchema(key)?.type;
    const values = parts.map((p) => flagValue(p, type));
    doc[key] = values;
    out[key] = values.map((value, i) => ({ value, label, text: parts[i]! }));
  }
  const problem = shapeProblem(doc);
  if (problem) {
    // flags name only known options and give non-empty lists: a problem is one value, at [option, index]
    const [key, index] = problem.kind === 'value' ? problem.path : [];
    const raw = out[key as CellField]?.[index as number];
    if (problem.kind !== 'value' || !raw)
      throw new Error(`flags: unexpected schema problem ${JSON.stringify(problem)}`);
    throw new ConfigError(raw.label, raw.text, problem.allowed);
  }
  return out;
}

function flagValue(text: string, type: string | undefined): Scalar {
  if (type === 'integer' && /^-?\d+$/.test(text)) return Number(text);
  if (type === 'boolean' && (text === 'true' || text === 'false')) return text === 'true';
  return text;
}

/** The value of each option when neither the config nor a flag gives one (undefined: derived per cell). */
const FALLBACKS: Record<CellField, Scalar | readonly Scalar[] | undefined> = {
  calicoVersion: DEFAULTS.calicoVersion,
  install: DEFAULTS.install,
  encapsulation: DEFAULTS.encapsulation,
  podCIDR: DEFAULTS.podCIDR,
  serviceCIDR: DEFAULTS.serviceCIDR,
  ipPoolCIDR: undefined,
  blockSize: DEFAULTS.blockSize,
  natOutgoing: DEFAULTS.natOutgoing,
  workers: DEFAULTS.workers,
  nodeImage: DEFAULTS.nodeImage,
  topology: DEFAULTS.topology,
  imageRegistry: undefined,
  bgp: undefined,
};

function dimension(raw: RawMatrix, key: CellField): RawValue[] {
  const given = raw[key];
  if (given && given.length > 0) return given;
  const fallback = FALLBACKS[key];
  if (fallback === undefined) return [{ value: undefined, label: key }];
  const list = Array.isArray(fallback) ? fallback : [fallback];
  return list.map((v) => ({ value: v, label: `${key} (default; set it with ${CELL_FIELDS[key]})` }));
}

function expand(raw: RawMatrix): Cell[] {
  let combos: Partial<Record<CellField, RawValue>>[] = [{}];
  for (const key of CELL_FIELD_NAMES) {
    const next: Partial<Record<CellField, RawValue>>[] = [];
    for (const combo of combos) for (const v of dimension(raw, key)) next.push({ ...combo, [key]: v });
    combos = next;
  }
  return combos.map(toCell);
}

/** One combination of schema-checked values → a cell, after the rules across fields (see buildMatrix). */
function toCell(c: Partial<Record<CellField, RawValue>>): Cell {
  const v = <T>(key: CellField): T => c[key]!.value as T;
  const calicoVersion = v<string>('calicoVersion');
  const install = v<InstallPath>('install');
  const encapsulation = v<Encapsulation>('encapsulation');
  // canonical text (`/08` → `/8`); the schema has refused host bits
  const pod = mustParseIpv4Cidr(v<string>('podCIDR'));
  const svc = mustParseIpv4Cidr(v<string>('serviceCIDR'));
  const pool = c.ipPoolCIDR!.value === undefined ? pod : mustParseIpv4Cidr(v<string>('ipPoolCIDR'));
  const [podCIDR, serviceCIDR, ipPoolCIDR] = [pod.text, svc.text, pool.text];
  const blockSize = v<number>('blockSize');
  const natOutgoing = v<boolean>('natOutgoing');
  const workers = v<number>('workers');
  const nodeImage = v<string>('nodeImage');
  const topology = v<Topology>('topology');
  const imageRegistry = v<string | undefined>('imageRegistry');
  const bgp = v<BgpMode | undefined>('bgp') ?? defaultBgp(encapsulation);

  if (pod.prefix > 24) {
    throw new ConfigError(
      c.podCIDR!.label,
      podCIDR,
      'allowed: a pod CIDR of /24 or larger (a smaller one makes kind hang; the controller manager gives each node a /24 of it)',
    );
  }
  if (cidrsOverlap(pod, svc)) {
    throw new ConfigError(
      c.serviceCIDR!.label,
      serviceCIDR,
      `allowed: a service CIDR that does not overlap the pod CIDR ${podCIDR}`,
    );
  }
  if (blockSize < pool.prefix) {
    throw new ConfigError(
      c.blockSize!.label,
      given(c.blockSize!),
      `allowed: a block size from ${pool.prefix} to 32; a /${blockSize} block is bigger than the pool ${ipPoolCIDR}`,
    );
  }
  if (install === 'operator' && !cidrContains(pod, pool)) {
    throw new ConfigError(
      c.ipPoolCIDR!.label,
      ipPoolCIDR,
      `allowed: an IP pool inside the pod CIDR ${podCIDR} on the operator path (the operator reports "IPPool … is not within the platform's configured pod network CIDR(s)")`,
    );
  }
  if (cidrsOverlap(pool, svc)) {
    throw new ConfigError(
      c.ipPoolCIDR!.label,
      ipPoolCIDR,
      `allowed: an IP pool that does not overlap the service CIDR ${serviceCIDR}`,
    );
  }
  if (topology === 'split-subnet') {
    for (const range of SPLIT_SUBNET_RANGES) {
      const r = mustParseIpv4Cidr(range);
      if (cidrsOverlap(r, pod) || cidrsOverlap(r, svc)) {
        throw new ConfigError(
          c.topology!.label,
          topology,
          `allowed: flat, or split-subnet with pod and service CIDRs that do not overlap its node ranges ${SPLIT_SUBNET_RANGES.join(', ')}`,
        );
      }
    }
  }
  const entry = findVersion(calicoVersion)!;
  if (bgp === 'Disabled') {
    if (install === 'operator' && !entry.operatorBgpDisabledAllows.includes(encapsulation)) {
      throw new ConfigError(
        c.bgp!.label,
        bgp,
        `allowed with encapsulation ${encapsulation} on the operator path of ${calicoVersion}: Enabled ` +
          `(operator ${entry.operatorVersion} rejects ${encapsulation} without BGP; with BGP Disabled it accepts ${entry.operatorBgpDisabledAllows.join(', ')})`,
      );
    }
    if (install === 'manifest' && encapsulation !== 'VXLAN' && encapsulation !== 'VXLANCrossSubnet') {
      throw new ConfigError(
        c.bgp!.label,
        bgp,
        `allowed with encapsulation ${encapsulation} on the manifest path: Enabled (the manifest's ${encapsulation} mode relies on the bird backend to distribute routes)`,
      );
    }
  }
  const cell: Omit<Cell, 'id'> = {
    calicoVersion,
    install,
    encapsulation,
    podCIDR,
    serviceCIDR,
    ipPoolCIDR,
    blockSize,
    natOutgoing,
    workers,
    nodeImage,
    topology,
    bgp,
    ...(imageRegistry ? { imageRegistry } : {}),
  };
  return { id: cellId(cell), ...cell };
}

/** A readable id: version-install-encapsulation, plus a suffix for each field that is not the default. */
export function cellId(cell: Omit<Cell, 'id'>): string {
  const parts = [cell.calicoVersion, cell.install, cell.encapsulation.toLowerCase()];
  if (cell.podCIDR !== DEFAULTS.podCIDR) parts.push(`pod${cell.podCIDR.replace('/', '_')}`);
  if (cell.serviceCIDR !== DEFAULTS.serviceCIDR) parts.push(`svc${cell.serviceCIDR.replace('/', '_')}`);
  if (cell.ipPoolCIDR !== cell.podCIDR) parts.push(`pool${cell.ipPoolCIDR.replace('/', '_')}`);
  if (cell.blockSize !== DEFAULTS.blockSize) parts.push(`bs${cell.blockSize}`);
  if (cell.natOutgoing !== DEFAULTS.natOutgoing) parts.push('nonat');
  if (cell.workers !== DEFAULTS.workers) parts.push(`w${cell.workers}`);
  if (cell.topology !== DEFAULTS.topology) parts.push(cell.topology);
  if (cell.bgp !== defaultBgp(cell.encapsulation)) parts.push(`bgp${cell.bgp.toLowerCase()}`);
  if (cell.nodeImage !== DEFAULTS.nodeImage) parts.push(`img${shortHash(cell.nodeImage)}`);
  if (cell.imageRegistry) parts.push(`reg${shortHash(cell.imageRegistry)}`);
  return parts.join('-');
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 6);
}

function rejectDuplicates(cells: Cell[]): void {
  const seen = new Set<string>();
  for (const cell of cells) {
    if (seen.has(cell.id)) {
      throw new UsageError(
        `duplicate cell ${cell.id}: the matrix lists the same combination twice; remove the repeated value from the flag list or config`,
        'cells',
      );
    }
    seen.add(cell.id);
  }
}

/** The value as the user wrote it, for messages. */
function given(v: RawValue): unknown {
  return v.text ?? v.value;
}
