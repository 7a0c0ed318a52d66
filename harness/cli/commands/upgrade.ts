/**
 * `calico-conformance upgrade --from A --to B`: validates every option before anything is created, checks
 * the machine (Docker, kind: exit 3 when missing), runs the upgrade flow (harness/upgrade/flow.ts) and
 * writes every report format. Exit 0 when the upgrade and the suites on B passed, 1 otherwise.
 */
import { join, resolve } from 'node:path';
import { parseAllowList } from '../../audit/registry.js';
import { EnvironmentError, ExitCode, formatDuration } from '../../errors.js';
import { defaultRunner, type ProcessRunner } from '../../exec/process.js';
import { assertUsable, cellSkipReason, runPreflight } from '../../preflight/preflight.js';
import type { CellResult, PhaseResult, RunResults } from '../../report/model.js';
import type { UpgradeDeps } from '../../upgrade/deps.js';
import { runUpgradeFlow, type UpgradeFlowOptions } from '../../upgrade/flow.js';
import { parseUpgradeOptions, type UpgradeCliValues } from '../../upgrade/options.js';
import { CELL_OPTIONS, parseCommandArgs } from '../args.js';
import type { CliIO } from '../io.js';
import { toolVersion } from '../version.js';

export const upgradeHelp = `calico-conformance upgrade --from A --to B [options]
  Installs Calico A, keeps probing pairs that must stay allowed and pairs a policy must keep denied while
  it takes the cluster to B, waits until every component runs B, then runs the verify, connectivity and
  policy suites on B, uninstalls, audits what the upstream uninstall left (against the known-leftovers
  baseline), completes the uninstall and audits again (must be clean).

  --from V --to V                 catalogued versions; B newer than A unless --allow-downgrade
  --install PATH                  manifest | operator | manifest-to-operator (default operator)
  --max-outage DURATION           longest outage allowed on an allowed pair (default 5s)
  --max-fail-open N               successes allowed on a denied pair (default 0)
  --probe-interval DURATION       time between probe rounds (default 250ms)
  --target-timeout DURATION       how long to wait for every component to run B (default 10m)
  --settle DURATION               probing after every component runs B (default 15s)
  --report-dir DIR                where the reports go (default ./results/upgrade-A-to-B)
  --manifests-dir DIR             read upstream Calico files from DIR/<version>/<file> (as render does)
  --allow-unpinned                accept upstream files the sha256 lock does not pin
  --no-goldmane-whisker           operator path (v3.30+): leave out the Goldmane and Whisker CRs that
                                  upstream's custom-resources.yaml creates (installed by default)
  --keep-cluster                  leave the cluster running
  --allow-downgrade               allow B older than A
  --allow RULE|NAME,...           leftovers that count in neither audit: audit rule ids, by-design, or
                                  finding-name patterns (as audit --allow); a mistyped rule is exit 2
  --no-complete-uninstall         audit only what the upstream uninstall leaves
  cell options (one value each): --encapsulation (default IPIP) --pod-cidr --service-cidr --ip-pool-cidr
  --block-size --nat-outgoing --workers --node-image --topology --image-registry --bgp --config FILE`;

export const UPGRADE_OPTIONS = {
  ...CELL_OPTIONS,
  from: { type: 'string' },
  to: { type: 'string' },
  'max-outage': { type: 'string' },
  'max-fail-open': { type: 'string' },
  'probe-interval': { type: 'string' },
  'target-timeout': { type: 'string' },
  settle: { type: 'string' },
  'report-dir': { type: 'string' },
  'manifests-dir': { type: 'string' },
  'allow-unpinned': { type: 'boolean' },
  'no-goldmane-whisker': { type: 'boolean' },
  'keep-cluster': { type: 'boolean' },
  'allow-downgrade': { type: 'boolean' },
  allow: { type: 'string' },
  'no-complete-uninstall': { type: 'boolean' },
} as const;

/** How the upstream files are read and rendered. */
export interface SourceFlags {
  manifestsDir?: string;
  allowUnpinned?: boolean;
  /** false: no Goldmane and Whisker CRs on the operator path (unset: as upstream's custom-resources.yaml) */
  goldmaneWhisker?: boolean;
}

/** What the command needs from the outside world; tests replace all of it. */
export interface UpgradeCommandEnv {
  runner: ProcessRunner;
  /** the live dependencies, built only after validation and preflight passed */
  deps: (flow: UpgradeFlowOptions, reportDir: string, io: CliIO, source: SourceFlags) => Promise<UpgradeDeps>;
  writeReports: (results: RunResults, dir: string, io: CliIO) => Promise<string[]>;
  toolVersion: string;
}

async function defaultEnv(): Promise<UpgradeCommandEnv> {
  return {
    runner: defaultRunner,
    deps: async (flow, reportDir, io, source) => {
      const { realUpgradeDeps } = await import('../../upgrade/real.js');
      return realUpgradeDeps({ flow, reportDir, log: (l) => io.err(l), env: io.env, ...source });
    },
    writeReports: async (results, dir, io) => {
      const { writeReports } = await import('../../report/write.js');
      const summary = io.env.GITHUB_STEP_SUMMARY;
      return writeReports(results, dir, summary ? { githubStepSummary: summary } : {});
    },
    toolVersion: toolVersion(),
  };
}

export async function upgradeCommand(argv: string[], io: CliIO): Promise<number> {
  return runUpgradeCommand(argv, io);
}

export async function runUpgradeCommand(
  argv: string[],
  io: CliIO,
  env?: Partial<UpgradeCommandEnv>,
): Promise<number> {
  const { values } = parseCommandArgs('upgrade', argv, UPGRADE_OPTIONS);
  // 1. every option, before anything is created
  const { allow: allowText, 'no-complete-uninstall': upstreamOnly, ...cellValues } = values;
  const auditAllow = parseAllowList(typeof allowText === 'string' ? allowText : undefined, 'upgrade --allow');
  const parsed = parseUpgradeOptions(cellValues as UpgradeCliValues);
  const flow = {
    ...parsed.flow,
    ...(auditAllow.length ? { auditAllow } : {}),
    ...(upstreamOnly ? { completeUninstall: false } : {}),
  };
  for (const w of parsed.warnings) io.err(`note: ${w}`);
  const reportDir =
    typeof values['report-dir'] === 'string'
      ? resolve(io.cwd, values['report-dir'])
      : join(io.cwd, 'results', `upgrade-${flow.from.calicoVersion}-to-${flow.to.calicoVersion}`);
  const full = { ...(await defaultEnv()), ...env };

  // 2. the machine: Docker and kind (exit 3), and the host kernel for IPIP cells
  const startedAt = new Date();
  const pre = await runPreflight({ runner: full.runner });
  assertUsable(pre);
  const skip = cellSkipReason(flow.to, pre) ?? cellSkipReason(flow.from, pre);
  if (skip) {
    throw new EnvironmentError(
      `upgrade ${flow.from.calicoVersion} → ${flow.to.calicoVersion} with --encapsulation ${flow.to.encapsulation} cannot run here: ${skip}`,
      ['ipip'],
    );
  }
  const preflight: PhaseResult = {
    name: 'preflight',
    outcome: 'passed',
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    evidence: pre.evidence,
    checks: [],
  };

  // 3. the flow
  io.err(
    `upgrade ${flow.from.calicoVersion} → ${flow.to.calicoVersion} (${flow.path}, ${flow.to.encapsulation}); reports in ${reportDir}`,
  );
  const source: SourceFlags = {
    ...(typeof values['manifests-dir'] === 'string'
      ? { manifestsDir: resolve(io.cwd, values['manifests-dir']) }
      : {}),
    ...(values['allow-unpinned'] ? { allowUnpinned: true } : {}),
    ...(values['no-goldmane-whisker'] ? { goldmaneWhisker: false } : {}),
  };
  const deps = await full.deps(flow, reportDir, io, source);
  const cell = await runUpgradeFlow(flow, deps);
  const withPreflight: CellResult = { ...cell, phases: [preflight, ...cell.phases] };
  const finished = new Date();
  const results: RunResults = {
    tool: { name: 'calico-conformance', version: full.toolVersion },
    startedAt: startedAt.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - startedAt.getTime(),
    host: {
      platform: `${process.platform}-${process.arch}`,
      node: process.version,
      ...(pre.kind.version ? { kindVersion: pre.kind.version } : {}),
      ...(pre.docker.version ? { dockerVersion: pre.docker.version } : {}),
    },
    cells: [withPreflight],
    leftBehind: withPreflight.phases.some((p) => p.name === 'teardown' && p.outcome === 'not-run')
      ? withPreflight.clusterName
        ? [`kind cluster ${withPreflight.clusterName}`]
        : []
      : [],
  };
  const written = await full.writeReports(results, reportDir, io);
  io.out(summaryText(withPreflight));
  for (const f of written) io.out(`  wrote ${f}`);
  return withPreflight.outcome === 'passed' ? ExitCode.Ok : ExitCode.Failed;
}

/** The few lines a person reads at the end of the command. */
export function summaryText(cell: CellResult): string {
  const lines = [`${cell.cell.id}: ${cell.outcome}`];
  const u = cell.upgrade;
  if (u) {
    lines.push(
      `  upgrade ${u.from} → ${u.to} (${u.path}): ${u.outcome}; ` +
        (u.timeToTargetMs !== undefined
          ? `every component on ${u.to} ${formatDuration(u.timeToTargetMs)} after the upgrade began`
          : `the components did not all reach ${u.to}`),
    );
    for (const p of u.pairs) {
      lines.push(
        p.expect === 'allowed'
          ? `  ${p.label ?? `${p.from} → ${p.to}`}: longest outage ${formatDuration(p.longestOutageMs)}, ${p.failures}/${p.probes} probes failed`
          : `  ${p.label ?? `${p.from} → ${p.to}`}: ${p.failOpenCount} fail-open probe${p.failOpenCount === 1 ? '' : 's'} of ${p.probes}`,
      );
    }
    for (const v of u.violations) lines.push(`  ✗ ${v}`);
  }
  for (const p of cell.phases)
    if (p.outcome !== 'passed') lines.push(`  ${p.name}: ${p.outcome}${p.reason ? `: ${p.reason}` : ''}`);
  return lines.join('\n');
}
