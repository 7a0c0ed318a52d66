/**
 * `calico-conformance upgrade --from A --to B`: validates every option before anything is created, checks
 * the machine (Docker, kind: exit 3 when missing), then runs the upgrade as the run pipeline with one phase
 * more (harness/pipeline/cell.ts with harness/upgrade/phase.ts) in the session `run` uses
 * (../session.ts: teardown registry, SIGINT/SIGTERM, results, exit codes). Exit 0 when the upgrade and
 * the suites on B passed, 1 otherwise, 130/143 when interrupted.
 */
import { join, resolve } from 'node:path';
import { parseAllowList } from '../../audit/registry.js';
import { EnvironmentError, formatDuration } from '../../errors.js';
import { defaultRunner } from '../../exec/process.js';
import type { LabLock } from '../../lab/lock.js';
import { type LabStatus, missingForCalicoVersion } from '../../lab/status.js';
import { type CellResult, upgradePairFailed, upgradePairLabel } from '../../model/results.js';
import { assertUsable, cellSkipReason, runPreflight } from '../../preflight/preflight.js';
import type { UpgradeDeps } from '../../upgrade/deps.js';
import { parseUpgradeOptions, type UpgradeCliValues } from '../../upgrade/options.js';
import { type UpgradeOptions, upgradeCell, upgradeStage } from '../../upgrade/phase.js';
import { CELL_OPTIONS, goldmaneWhiskerOption, parseCommandArgs } from '../args.js';
import type { CliIO } from '../io.js';
import {
  commandProgress,
  enterLabFor,
  exitCodeOf,
  flagReader,
  labOption,
  printSummary,
  realPipelineDeps,
  renderBeforeCreating,
  runSession,
  SESSION_OPTIONS,
  type SessionInjection,
  sessionDeps,
} from '../session.js';

export const upgradeHelp = `calico-conformance upgrade --from A --to B [options]
  Installs Calico A, keeps probing pairs that must stay allowed and pairs a policy must keep denied while
  it takes the cluster to B, waits until every component runs B, then runs the verify, connectivity and
  policy suites on B, uninstalls, audits what the upstream uninstall left (against the known-leftovers
  baseline), completes the uninstall and audits again (must be clean): run's pipeline with the upgrade
  between install and verify, with run's time limits, teardown and results.

  --from V --to V                 catalogued versions; B newer than A unless --allow-downgrade
  --install PATH                  manifest | operator | manifest-to-operator (default operator)
  --max-outage DURATION           longest outage allowed on an allowed pair (default 5s)
  --max-fail-open N               successes allowed on a denied pair (default 0)
  --probe-interval DURATION       time between probe rounds (default 250ms)
  --target-timeout DURATION       how long to wait for every component to run B (default 10m)
  --settle DURATION               probing after every component runs B (default 15s)
  --report-dir DIR                where the reports go (default ./results/upgrade-A-to-B)
  --manifests-dir DIR             read upstream Calico files from DIR/<version>/<file> (as render does)
  --allow-unpinned                accept upstream files the sha256 lock does not pin (master)
  --lab                           run on this machine's lab (npm run lab:build), as run --lab: --from and
                                  --to must be a pair the lab builds (--from v3.30.1, its optional part,
                                  --to v3.31.0), exit 3 otherwise
  --no-goldmane-whisker           operator path (v3.30+): leave out the Goldmane and Whisker CRs that
                                  upstream's custom-resources.yaml creates (installed by default)
  --keep-cluster                  leave the cluster running
  --allow-downgrade               allow B older than A
  --allow RULE|NAME,...           leftovers that count in neither audit: audit rule ids, by-design, or
                                  finding-name patterns (as audit --allow); a mistyped rule is exit 2
  --no-complete-uninstall         audit only what the upstream uninstall leaves
  --quiet | --verbose             less / more progress output
  cell options (one value each): --encapsulation (default IPIP) --pod-cidr --service-cidr --ip-pool-cidr
  --block-size --nat-outgoing --workers --node-image --topology --image-registry --bgp --config FILE

exit codes: 0 the upgrade and everything on B passed, 1 something failed, 2 bad usage, 3 environment not
usable, 130 interrupted (SIGINT; 143 for SIGTERM): the cluster is deleted and the partial results written`;

export const UPGRADE_OPTIONS = {
  ...CELL_OPTIONS,
  ...SESSION_OPTIONS,
  from: { type: 'string' },
  to: { type: 'string' },
  'max-outage': { type: 'string' },
  'max-fail-open': { type: 'string' },
  'probe-interval': { type: 'string' },
  'target-timeout': { type: 'string' },
  settle: { type: 'string' },
  'allow-downgrade': { type: 'boolean' },
} as const;

/** What tests (and the e2e child) replace; production uses the defaults. */
export interface UpgradeInjection extends SessionInjection {
  /** replaces realUpgradeDeps(): the upgrade phase's traffic, steps and reads */
  upgradeDeps?: UpgradeDeps;
}

/**
 * The `--from`/`--to` pairs `upgrade --lab` can run: the lab's optional older Calico (lab/lab.lock.json
 * "calicoUpgradeFrom") to the lab's Calico, and the lab's Calico to itself (the install path changes:
 * --install manifest-to-operator, which needs the lab's operator part).
 */
export function labUpgradePairs(
  lock: Pick<LabLock, 'calico' | 'calicoUpgradeFrom'>,
): Array<[string, string]> {
  const to = lock.calico.version;
  return [
    ...(lock.calicoUpgradeFrom ? [[lock.calicoUpgradeFrom.version, to] as [string, string]] : []),
    [to, to],
  ];
}

/**
 * `--lab`: the pair must be one the lab builds (labUpgradePairs), and the parts of its optional older
 * Calico built when the upgrade starts from it (given the lab's status). Exit 3 naming the pairs or the
 * missing parts and how to build them, before anything is created.
 */
export function assertLabVersions(
  flow: Pick<UpgradeOptions, 'from' | 'to'>,
  lock: Pick<LabLock, 'calico' | 'calicoUpgradeFrom'>,
  status?: LabStatus,
): void {
  const from = flow.from.calicoVersion;
  const to = flow.to.calicoVersion;
  const pairs = labUpgradePairs(lock);
  if (!pairs.some(([f, t]) => f === from && t === to)) {
    const built = [
      `${lock.calico.version} (every cell; lab/lab.lock.json "calico")`,
      ...(lock.calicoUpgradeFrom
        ? [`${lock.calicoUpgradeFrom.version} (optional, where an upgrade starts; "calicoUpgradeFrom")`]
        : []),
    ];
    throw new EnvironmentError(
      `upgrade --lab: --from ${from} --to ${to} is not a pair this lab builds: it builds Calico ${built.join(' and ')}; ` +
        `the pairs it can run are ${pairs.map(([f, t]) => `--from ${f} --to ${t}`).join(', ')} ` +
        `(--from ${lock.calico.version} --to ${lock.calico.version} only with --install manifest-to-operator, which needs the lab's operator part). ` +
        "To have another version, pin it in lab/lab.lock.json (its version and the pseudo-versions of its tag's commit and of projectcalico/api, which the Go module proxy must serve), catalogue it (harness/config/catalogue.ts, harness/calico/manifests.lock.json) and run `npm run lab:build`",
      ['lab calico version'],
    );
  }
  const missing = status ? missingForCalicoVersion(status, from) : [];
  if (missing.length > 0)
    throw new EnvironmentError(
      `upgrade --lab: --from ${from} needs the lab's optional Calico ${from}, which is not built: ${missing.join(', ')}. ` +
        'Build it with `npm run lab:build` (README "The lab")',
      ['lab calico version'],
    );
}

export async function upgradeCommand(
  argv: string[],
  io: CliIO,
  inject: UpgradeInjection = {},
): Promise<number> {
  const { values } = parseCommandArgs('upgrade', argv, UPGRADE_OPTIONS);
  const { str, on } = flagReader(values);

  // ---- every option, before anything is created (exit 2)
  const progress = commandProgress('upgrade', io, { quiet: on('quiet'), verbose: on('verbose') }, inject);
  const goldmaneWhisker = goldmaneWhiskerOption('upgrade', values);
  const auditAllow = parseAllowList(str('allow'), 'upgrade --allow');
  const { allow: _allow, 'no-complete-uninstall': _upstreamOnly, ...cellValues } = values as UpgradeCliValues;
  // --lab: the lab's node image unless given; its own manifests
  const labFlags = await labOption('upgrade', cellValues);
  const parsed = parseUpgradeOptions(cellValues);
  const { flow } = parsed;
  // ---- the lab's versions (exit 3), still before anything is created
  if (labFlags) {
    assertLabVersions(flow, labFlags.lock);
    const { labStatus } = await import('../../lab/status.js');
    assertLabVersions(flow, labFlags.lock, await labStatus());
  }
  const reportDir =
    str('report-dir') !== undefined
      ? resolve(io.cwd, str('report-dir') as string)
      : join(io.cwd, 'results', `upgrade-${flow.from.calicoVersion}-to-${flow.to.calicoVersion}`);
  const manifestsDir =
    labFlags?.manifestsDir ??
    (str('manifests-dir') !== undefined ? resolve(io.cwd, str('manifests-dir') as string) : undefined);
  for (const w of parsed.warnings) progress.log('warn', w);

  // ---- the machine (exit 3): the lab, Docker and kind, and the host kernel for IPIP
  const runner = inject.runner ?? defaultRunner;
  const lab = await enterLabFor(labFlags, runner, [flow.from, flow.to], progress);
  const preflight = inject.preflight ? await inject.preflight(true) : await runPreflight({ runner });
  assertUsable(preflight);
  for (const line of preflight.evidence) progress.log('debug', `preflight: ${line}`);
  const skip = cellSkipReason(flow.to, preflight) ?? cellSkipReason(flow.from, preflight);
  if (skip)
    throw new EnvironmentError(
      `upgrade ${flow.from.calicoVersion} → ${flow.to.calicoVersion} with --encapsulation ${flow.to.encapsulation} cannot run here: ${skip}`,
      ['ipip'],
    );

  // ---- the upgrade: run's session with the upgrade phase
  const session = await sessionDeps(
    inject,
    runner,
    progress,
    realPipelineDeps(runner, progress, {
      ...(manifestsDir ? { manifestsDir } : {}),
      allowUnpinned: on('allow-unpinned'),
      preloadImages: false,
      ...(lab ? { lab } : {}),
      ...goldmaneWhisker,
      verbose: on('verbose'),
    }),
  );
  // A's and B's files, before any cluster exists (an unpinned master without --allow-unpinned is exit 2)
  await renderBeforeCreating('upgrade', [flow.from, flow.to], session.deps);
  const upgradeDeps =
    inject.upgradeDeps ??
    (await import('../../upgrade/real.js')).realUpgradeDeps({
      runner,
      preloadImages: lab !== undefined,
      ...(lab ? { extraImages: lab.extraImages, probeImage: lab.agnhostImage } : {}),
    });
  progress.log(
    'info',
    `upgrade ${flow.from.calicoVersion} → ${flow.to.calicoVersion} (${flow.path}, ${flow.to.encapsulation}); reports in ${reportDir}`,
  );
  const results = await runSession({
    cells: [upgradeCell(flow)],
    ...session,
    io,
    inject,
    matrix: {
      reportDir,
      preflight,
      progress,
      keepCluster: parsed.keepCluster,
      completeUninstall: !on('no-complete-uninstall'),
      ...(auditAllow.length ? { auditAllow } : {}),
      ...(inject.limits ? { limits: inject.limits } : {}),
      // --lab: every pair ends on the lab's Calico, whose calicoctl the lab builds: the Calico policy
      // scenarios on B run with it, as run --lab's do
      ...(lab ? { calicoctl: lab.calicoctl } : {}),
      upgrade: upgradeStage(flow, upgradeDeps),
    },
  });
  const cell = results.cells[0];
  if (cell) io.out(summaryText(cell));
  printSummary(results, reportDir, io);
  return exitCodeOf(results);
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
          ? `  ${upgradePairLabel(p)}: longest outage ${formatDuration(p.longestOutageMs)}, ${p.failures}/${p.probes} probes failed`
          : `  ${upgradePairLabel(p)}: ${p.failOpenCount} fail-open probe${p.failOpenCount === 1 ? '' : 's'} of ${p.probes}`,
      );
      if (p.command && upgradePairFailed(p, u.thresholds)) lines.push(`    repeat: ${p.command}`);
    }
    for (const v of u.violations) lines.push(`  ✗ ${v}`);
  }
  for (const p of cell.phases)
    if (p.outcome !== 'passed') lines.push(`  ${p.name}: ${p.outcome}${p.reason ? `: ${p.reason}` : ''}`);
  return lines.join('\n');
}
