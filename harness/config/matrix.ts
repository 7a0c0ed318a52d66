/**
 * From config file + flags to a validated list of cells. Every rule runs before anything is created and
 * each failure names the field (the flag or the config key), the bad value, and what is allowed.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError, UsageError } from '../errors.js';
import { cidrContains, cidrsOverlap, mustParseIpv4Cidr, parseIpv4Cidr } from '../net/cidr.js';
import {
  CATALOGUE,
  ENCAPSULATIONS,
  type Encapsulation,
  findVersion,
  INSTALL_PATHS,
  type InstallPath,
  VERSION_PATTERN,
} from './catalogue.js';
import {
  BGP_MODES,
  type BgpMode,
  type Cell,
  DEFAULTS,
  defaultBgp,
  SPLIT_SUBNET_RANGES,
  TOPOLOGIES,
  type Topology,
} from './cell.js';

/** Config keys (camelCase, as in `plan --output json`) and their command-line flags. */
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

/** Keys a config file may hold besides the cell fields. */
const EXTRA_CONFIG_KEYS = ['cells', '$schema'] as const;

type Scalar = string | number | boolean;
/** Values of a matrix dimension before validation, each with the place it came from (for messages). */
interface RawValue {
  value: unknown;
  /** e.g. `--pod-cidr`, `podCIDR in matrix.yaml`, `cells[1].podCIDR in matrix.yaml` */
  label: string;
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

/** Expands and validates the matrix. Throws a UsageError/ConfigError (exit 2) on the first bad input. */
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

function readConfig(doc: unknown, source: string): { top: RawMatrix; cells?: RawMatrix[] } {
  if (typeof doc !== 'object' || Array.isArray(doc) || doc === null) {
    throw new UsageError(
      `${source}: the config must be a YAML mapping of cell options (see schema/config.schema.json)`,
      'config',
    );
  }
  const top = readMapping(doc as Record<string, unknown>, '', source, true);
  const rawCells = (doc as Record<string, unknown>).cells;
  if (rawCells === undefined) return { top };
  if (!Array.isArray(rawCells) || rawCells.length === 0) {
    throw new ConfigError(`cells in ${source}`, rawCells, 'allowed: a non-empty list of cell mappings');
  }
  const cells = rawCells.map((c, i) => {
    if (typeof c !== 'object' || c === null || Array.isArray(c)) {
      throw new ConfigError(`cells[${i}] in ${source}`, c, 'allowed: a mapping of cell options');
    }
    return readMapping(c as Record<string, unknown>, `cells[${i}].`, source, false);
  });
  return { top, cells };
}

function readMapping(
  obj: Record<string, unknown>,
  prefix: string,
  source: string,
  topLevel: boolean,
): RawMatrix {
  const out: RawMatrix = {};
  for (const [key, value] of Object.entries(obj)) {
    if (topLevel && (EXTRA_CONFIG_KEYS as readonly string[]).includes(key)) continue;
    if (!(CELL_FIELD_NAMES as string[]).includes(key)) {
      const allowed = topLevel ? [...CELL_FIELD_NAMES, 'cells'] : CELL_FIELD_NAMES;
      throw new UsageError(
        `${prefix}${key} in ${source}: unknown config key; allowed keys: ${allowed.join(', ')}`,
        `${prefix}${key}`,
      );
    }
    const label = `${prefix}${key} in ${source}`;
    const values = Array.isArray(value) ? value : [value];
    if (values.length === 0) throw new ConfigError(label, value, 'allowed: a value or a non-empty list');
    out[key as CellField] = values.map((v) => ({ value: v, label }));
  }
  return out;
}

function readFlags(flags: Partial<Record<CellField, string>>): RawMatrix {
  const out: RawMatrix = {};
  for (const [key, text] of Object.entries(flags) as [CellField, string | undefined][]) {
    if (text === undefined) continue;
    const label = CELL_FIELDS[key];
    const parts = String(text)
      .split(',')
      .map((s) => s.trim());
    if (parts.some((p) => p === '')) {
      throw new ConfigError(label, text, 'allowed: a value or a comma-separated list without empty items');
    }
    out[key] = parts.map((p) => ({ value: p, label }));
  }
  return out;
}

function dimension(
  raw: RawMatrix,
  key: CellField,
  fallback: Scalar | readonly Scalar[] | undefined,
): RawValue[] {
  const given = raw[key];
  if (given && given.length > 0) return given;
  if (fallback === undefined) return [{ value: undefined, label: key }];
  const list = Array.isArray(fallback) ? fallback : [fallback];
  return list.map((v) => ({ value: v, label: `${key} (default; set it with ${CELL_FIELDS[key]})` }));
}

function expand(raw: RawMatrix): Cell[] {
  const dims: [CellField, RawValue[]][] = [
    ['calicoVersion', dimension(raw, 'calicoVersion', DEFAULTS.calicoVersion)],
    ['install', dimension(raw, 'install', DEFAULTS.install)],
    ['encapsulation', dimension(raw, 'encapsulation', DEFAULTS.encapsulation)],
    ['podCIDR', dimension(raw, 'podCIDR', DEFAULTS.podCIDR)],
    ['serviceCIDR', dimension(raw, 'serviceCIDR', DEFAULTS.serviceCIDR)],
    ['ipPoolCIDR', dimension(raw, 'ipPoolCIDR', undefined)],
    ['blockSize', dimension(raw, 'blockSize', DEFAULTS.blockSize)],
    ['natOutgoing', dimension(raw, 'natOutgoing', DEFAULTS.natOutgoing)],
    ['workers', dimension(raw, 'workers', DEFAULTS.workers)],
    ['nodeImage', dimension(raw, 'nodeImage', DEFAULTS.nodeImage)],
    ['topology', dimension(raw, 'topology', DEFAULTS.topology)],
    ['imageRegistry', dimension(raw, 'imageRegistry', undefined)],
    ['bgp', dimension(raw, 'bgp', undefined)],
  ];
  let combos: Partial<Record<CellField, RawValue>>[] = [{}];
  for (const [key, values] of dims) {
    const next: Partial<Record<CellField, RawValue>>[] = [];
    for (const combo of combos) for (const v of values) next.push({ ...combo, [key]: v });
    combos = next;
  }
  return combos.map(toCell);
}

function toCell(c: Partial<Record<CellField, RawValue>>): Cell {
  const calicoVersion = versionOf(c.calicoVersion!);
  const install = oneOf<InstallPath>(c.install!, INSTALL_PATHS);
  const encapsulation = oneOf<Encapsulation>(c.encapsulation!, ENCAPSULATIONS);
  const podCIDR = ipv4Cidr(c.podCIDR!);
  const serviceCIDR = ipv4Cidr(c.serviceCIDR!);
  const ipPoolCIDR = c.ipPoolCIDR!.value === undefined ? podCIDR : ipv4Cidr(c.ipPoolCIDR!);
  const blockSize = integer(
    c.blockSize!,
    20,
    32,
    'an integer from 20 to 32 (Calico rejects other IPv4 block sizes)',
  );
  const natOutgoing = boolean(c.natOutgoing!);
  const workers = integer(
    c.workers!,
    1,
    20,
    'an integer from 1 to 20 (cross-node tests need at least one worker)',
  );
  const nodeImage = nonEmpty(
    c.nodeImage!,
    'a kind node image reference such as kindest/node:v1.35.0@sha256:…',
  );
  const topology = oneOf<Topology>(c.topology!, TOPOLOGIES);
  const imageRegistry = c.imageRegistry!.value === undefined ? undefined : registry(c.imageRegistry!);
  const bgp: BgpMode =
    c.bgp!.value === undefined ? defaultBgp(encapsulation) : oneOf<BgpMode>(c.bgp!, BGP_MODES);

  const pod = mustParseIpv4Cidr(podCIDR);
  const svc = mustParseIpv4Cidr(serviceCIDR);
  const pool = mustParseIpv4Cidr(ipPoolCIDR);
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
      c.blockSize!.value,
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

function versionOf(v: RawValue): string {
  const text = typeof v.value === 'number' ? String(v.value) : v.value;
  if (typeof text !== 'string' || !VERSION_PATTERN.test(text)) {
    throw new ConfigError(
      v.label,
      v.value,
      `allowed: vX.Y.Z or master, one of ${CATALOGUE.map((c) => c.version).join(', ')}`,
    );
  }
  if (!findVersion(text)) {
    throw new ConfigError(
      v.label,
      text,
      `allowed: a catalogued version: ${CATALOGUE.map((c) => c.version).join(', ')}. ` +
        'To add one, add an entry to harness/config/catalogue.ts and its sha256 lines to harness/calico/manifests.lock.json',
    );
  }
  return text;
}

function oneOf<T extends string>(v: RawValue, allowed: readonly T[]): T {
  if (typeof v.value !== 'string' || !(allowed as readonly string[]).includes(v.value)) {
    const near =
      typeof v.value === 'string'
        ? allowed.find((a) => a.toLowerCase() === String(v.value).toLowerCase())
        : undefined;
    throw new ConfigError(
      v.label,
      v.value,
      `allowed: ${allowed.join(', ')}${near ? ` (did you mean ${near}?)` : ''}`,
    );
  }
  return v.value as T;
}

function ipv4Cidr(v: RawValue): string {
  if (typeof v.value !== 'string')
    throw new ConfigError(v.label, v.value, 'allowed: an IPv4 CIDR such as 192.168.0.0/16');
  const r = parseIpv4Cidr(v.value);
  if (!r.ok)
    throw new ConfigError(v.label, v.value, `it ${r.reason}; allowed: an IPv4 CIDR such as 192.168.0.0/16`);
  return r.cidr.text;
}

function integer(v: RawValue, min: number, max: number, allowed: string): number {
  const n =
    typeof v.value === 'number'
      ? v.value
      : typeof v.value === 'string' && /^-?\d+$/.test(v.value)
        ? Number(v.value)
        : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max)
    throw new ConfigError(v.label, v.value, `allowed: ${allowed}`);
  return n;
}

function boolean(v: RawValue): boolean {
  if (typeof v.value === 'boolean') return v.value;
  if (v.value === 'true') return true;
  if (v.value === 'false') return false;
  throw new ConfigError(v.label, v.value, 'allowed: true, false');
}

function nonEmpty(v: RawValue, allowed: string): string {
  if (typeof v.value !== 'string' || v.value.trim() === '' || /\s/.test(v.value)) {
    throw new ConfigError(v.label, v.value, `allowed: ${allowed}`);
  }
  return v.value;
}

function registry(v: RawValue): string {
  if (
    typeof v.value !== 'string' ||
    !/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d+)?(\/[a-z0-9._-]+)*$/i.test(v.value)
  ) {
    throw new ConfigError(
      v.label,
      v.value,
      'allowed: a registry host with optional port and path, e.g. quay.io or mirror.local:5000/calico',
    );
  }
  return v.value.replace(/\/+$/, '');
}
