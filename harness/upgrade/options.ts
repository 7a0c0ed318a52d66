/**
 * `upgrade` options → validated flow options, before anything is created. Every error names the flag,
 * the bad value and what is allowed (exit 2).
 */
import { CATALOGUE, findVersion } from '../config/catalogue.js';
import type { Cell } from '../config/cell.js';
import { buildMatrix, CELL_FIELDS, type CellField } from '../config/matrix.js';
import { ConfigError, UsageError } from '../errors.js';
import type { UpgradeOptions, UpgradeTimeouts } from './phase.js';
import type { UpgradePath } from './timeline.js';

export const UPGRADE_PATHS: readonly UpgradePath[] = ['manifest', 'operator', 'manifest-to-operator'];
/** The operator is Calico's recommended install (docs: "we recommend upgrading to the operator") */
export const DEFAULT_UPGRADE_PATH: UpgradePath = 'operator';
/** Calico's default pool encapsulation on both install paths (calico.yaml CALICO_IPV4POOL_IPIP Always; operator IPIP) */
export const DEFAULT_UPGRADE_ENCAPSULATION = 'IPIP';

export interface UpgradeCliValues {
  from?: string;
  to?: string;
  install?: string;
  'max-outage'?: string;
  'max-fail-open'?: string;
  'probe-interval'?: string;
  'target-timeout'?: string;
  settle?: string;
  'allow-downgrade'?: boolean;
  'keep-cluster'?: boolean;
  'calico-version'?: string;
  config?: string;
  /** the cell flags (pod-cidr, encapsulation, …) */
  [flag: string]: string | boolean | undefined;
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m)$/;

/** `500ms`, `5s`, `1.5m`, or `0`; anything else is an error naming the flag. */
export function parseDuration(flag: string, value: string, min = 0): number {
  const m = DURATION.exec(value.trim());
  const ms =
    value.trim() === '0' ? 0 : m ? Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2] as 'ms'] : Number.NaN;
  if (!Number.isFinite(ms) || ms < min) {
    throw new ConfigError(
      flag,
      value,
      `allowed: a duration${min > 0 ? ` of at least ${min}ms` : ''} such as 500ms, 5s or 2m`,
    );
  }
  return Math.round(ms);
}

function versionFlag(flag: '--from' | '--to', value: string | undefined): string {
  const list = CATALOGUE.map((v) => v.version).join(', ');
  if (value === undefined || value === '')
    throw new UsageError(`upgrade ${flag}: required; allowed: one of ${list}`, flag.slice(2));
  if (value.includes(','))
    throw new ConfigError(flag, value, `allowed: one version (upgrade measures one A → B), one of ${list}`);
  if (!findVersion(value)) throw new ConfigError(flag, value, `allowed: a catalogued version: ${list}`);
  return value;
}

function catalogueIndex(version: string): number {
  return CATALOGUE.findIndex((v) => v.version === version);
}

export interface ParsedUpgrade {
  flow: UpgradeOptions;
  keepCluster: boolean;
  /** notes for the user (e.g. an unsupported migration combination) */
  warnings: string[];
}

/** Validates every upgrade option; builds the cells of A and B with buildMatrix (same rules as `run`). */
export function parseUpgradeOptions(values: UpgradeCliValues): ParsedUpgrade {
  if (values['calico-version'] !== undefined) {
    throw new UsageError(
      'upgrade --calico-version: not used by upgrade; give the two versions with --from A --to B',
      'calico-version',
    );
  }
  const from = versionFlag('--from', values.from);
  const to = versionFlag('--to', values.to);
  const pathText = values.install ?? DEFAULT_UPGRADE_PATH;
  if (!(UPGRADE_PATHS as readonly string[]).includes(pathText)) {
    throw new ConfigError('--install', pathText, `allowed: ${UPGRADE_PATHS.join(', ')}`);
  }
  const path = pathText as UpgradePath;
  const warnings: string[] = [];
  if (from === to && path !== 'manifest-to-operator') {
    throw new ConfigError(
      '--to',
      to,
      `allowed: a version other than --from ${from} (an upgrade needs two versions; only --install manifest-to-operator migrates within one version)`,
    );
  }
  if (catalogueIndex(to) < catalogueIndex(from) && !values['allow-downgrade']) {
    const newer = CATALOGUE.slice(catalogueIndex(from) + 1).map((v) => v.version);
    throw new ConfigError(
      '--to',
      to,
      `${to} is older than --from ${from}; allowed: a newer version (${newer.join(', ') || 'none is catalogued'}), or add --allow-downgrade to measure a downgrade`,
    );
  }
  if (path === 'manifest-to-operator' && from !== to) {
    // docs.tigera.io/calico/latest/operations/operator-migration, "Before you begin"
    warnings.push(
      `Calico documents the manifest-to-operator migration only within one version ("supported only from Calico vX manifest-based installation" to vX); ${from} → ${to} is measured as given`,
    );
  }

  const flags: Partial<Record<CellField, string>> = {};
  for (const [field, flag] of Object.entries(CELL_FIELDS) as [CellField, string][]) {
    const v = values[flag.slice(2)];
    if (typeof v === 'string') flags[field] = v;
  }
  delete flags.calicoVersion;
  delete flags.install;
  const configFile = typeof values.config === 'string' ? values.config : undefined;
  if (flags.encapsulation === undefined && !configFile) flags.encapsulation = DEFAULT_UPGRADE_ENCAPSULATION;
  const fromInstall = path === 'operator' ? 'operator' : 'manifest';
  const toInstall = path === 'manifest' ? 'manifest' : 'operator';
  const one = (version: string, install: string, which: string): Cell => {
    const cells = buildMatrix({
      flags: { ...flags, calicoVersion: version, install },
      ...(configFile ? { configFile } : {}),
    });
    if (cells.length !== 1) {
      const lists = Object.values(CELL_FIELDS).filter((f) => String(values[f.slice(2)] ?? '').includes(','));
      throw new UsageError(
        `upgrade takes exactly one cell but the options give ${cells.length} for ${which}; pass one value each` +
          `${lists.length ? ` (lists given: ${lists.join(', ')})` : ' (the config lists several cells)'}`,
        'cells',
      );
    }
    return cells[0]!;
  };
  const fromCell = one(from, fromInstall, `--from ${from}`);
  const toCell = one(to, toInstall, `--to ${to}`);
  const maxOutageMs =
    values['max-outage'] !== undefined ? parseDuration('--max-outage', values['max-outage']) : undefined;
  let maxFailOpen: number | undefined;
  if (values['max-fail-open'] !== undefined) {
    const t = values['max-fail-open'];
    if (!/^\d+$/.test(t)) throw new ConfigError('--max-fail-open', t, 'allowed: an integer ≥ 0 (default 0)');
    maxFailOpen = Number(t);
  }
  const probeIntervalMs =
    values['probe-interval'] !== undefined
      ? parseDuration('--probe-interval', values['probe-interval'], 50)
      : undefined;
  const timeouts: Partial<UpgradeTimeouts> = {};
  if (values['target-timeout'] !== undefined)
    timeouts.targetMs = parseDuration('--target-timeout', values['target-timeout'], 1000);
  if (values.settle !== undefined) timeouts.settleMs = parseDuration('--settle', values.settle);

  return {
    flow: {
      from: fromCell,
      to: toCell,
      path,
      thresholds: {
        ...(maxOutageMs !== undefined ? { maxOutageMs } : {}),
        ...(maxFailOpen !== undefined ? { maxFailOpen } : {}),
      },
      ...(probeIntervalMs !== undefined ? { probeIntervalMs } : {}),
      timeouts,
    },
    keepCluster: Boolean(values['keep-cluster']),
    warnings,
  };
}
