/**
 * `calico-conformance run`: every selected cell through the pipeline (harness/pipeline/cell.ts), then every
 * report format into the results directory. Thin: parse and check the flags (exit 2 before anything is
 * created), preflight the machine (exit 3 with what is missing), then the session (../session.ts: teardown
 * registry, signals, the pipeline, the results) that `upgrade` shares.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllowList } from '../../audit/registry.js';
import { ExitCode, UsageError } from '../../errors.js';
import { defaultRunner } from '../../exec/process.js';
import { UNTIL_PHASES, type UntilPhase } from '../../model/results.js';
import { capacityWarning, parseCellsRegex, parseShard, selectCells } from '../../pipeline/select.js';
import { inotifyWarning, readInotify } from '../../preflight/inotify.js';
import type { KernelPaths } from '../../preflight/ipip.js';
import { assertUsable, cellSkipReason, runPreflight } from '../../preflight/preflight.js';
import { CELL_OPTIONS, cellsFromValues, goldmaneWhiskerOption, parseCommandArgs } from '../args.js';
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

export const runHelp = `calico-conformance run [cell options] [run options]
  Runs every selected cell: preflight → create cluster → baseline node dump → install → verify mode →
  connectivity suite → policy suite → uninstall → audit (against the known-leftovers baseline) → complete
  uninstall → final audit (must be clean) → teardown, and writes results.json, probes.jsonl, junit.xml,
  summary.md, report.html and cells/<cell-id>/ into the report dir.

run options:
  --report-dir DIR        where results go (default results/<UTC timestamp>)
  --cells REGEX           only the cells whose id matches
  --shard i/n             the i-th of n deterministic round-robin slices of the selected cells (CI)
  --parallel N            N clusters at once (default 1; ~2 CPUs and ~4 GiB per 3-node cluster)
  --reuse-cluster         cells with the same cluster shape share one cluster, uninstalling in between
  --fail-fast             start no new cell after one failed
  --keep-cluster          leave the clusters up (prints how to reach them)
  --until PHASE           stop after PHASE (create-cluster, baseline, install, verify, connectivity or
                          policy): later phases are skipped and the cluster is kept with Calico on it
                          (implies --keep-cluster); e.g. --until install for a cluster to experiment on
  --allow RULE|NAME,...   leftovers that count in neither audit: audit rule ids, by-design, or finding-name
                          patterns (* matches anything; name:PATTERN); a mistyped rule is exit 2
  --no-complete-uninstall audit only what the upstream uninstall leaves (no complete uninstall and no final
                          audit: a --reuse-cluster cell then installs over those leftovers)
  --manifests-dir DIR     read upstream Calico files from DIR/<version>/<file> instead of downloading
  --allow-unpinned        accept manifests the sha256 lock does not pin (master)
  --preload-images        kind load the cell's Calico images from this host's docker before installing
  --lab                   run on this machine's lab (npm run lab:build): its kind, node image, Calico and
                          agnhost images, loaded into each cluster; never a registry (exit 3 if not built)
  --no-goldmane-whisker   operator cells (v3.30+): leave out the Goldmane and Whisker that upstream's
                          custom-resources.yaml creates (installed and waited for by default)
  --kubeconfig FILE       run against this existing cluster instead of creating one (implies --skip-create)
  --skip-create           with --kubeconfig: do not create a cluster
  --skip-install          use the Calico already installed (no baseline, uninstall or audit)
  --calicoctl PATH        calicoctl for Calico policy scenarios on the manifest path (--lab: the lab's)
  --tests REGEX           only the suite tests whose name matches (vitest -t)
  --policy-select REGEX   only the NetworkPolicy scenarios whose name or tag matches
  --policy-concurrency K  NetworkPolicy scenarios run K at a time, each in its own namespace set (1-16;
                          default 2 per node and at most 1 per CPU, at most 8); cluster-scoped Calico
                          policy always runs alone
  --assume-ipip           run IPIP cells even when the host kernel check finds no ipip
  --quiet | --verbose     less / more progress output

exit codes: 0 every cell passed or was skipped, 1 a cell failed, 2 bad usage, 3 environment not usable,
130 interrupted (SIGINT; 143 for SIGTERM): clusters are deleted and the partial results written`;

const RUN_OPTIONS = {
  ...CELL_OPTIONS,
  ...SESSION_OPTIONS,
  cells: { type: 'string' },
  shard: { type: 'string' },
  parallel: { type: 'string' },
  'reuse-cluster': { type: 'boolean' },
  'fail-fast': { type: 'boolean' },
  until: { type: 'string' },
  'policy-concurrency': { type: 'string' },
  'preload-images': { type: 'boolean' },
  kubeconfig: { type: 'string' },
  'skip-create': { type: 'boolean' },
  'skip-install': { type: 'boolean' },
  calicoctl: { type: 'string' },
  tests: { type: 'string' },
  'policy-select': { type: 'string' },
  'assume-ipip': { type: 'boolean' },
} as const;

/** What tests (and the e2e child) replace; production uses the defaults. */
export interface RunInjection extends SessionInjection {
  kernelPaths?: KernelPaths;
}

export async function runCommand(argv: string[], io: CliIO, inject: RunInjection = {}): Promise<number> {
  const { values: raw } = parseCommandArgs('run', argv, RUN_OPTIONS);
  const { str, on } = flagReader(raw);

  // ---- everything the user typed is checked before anything is created (exit 2)
  const progress = commandProgress('run', io, { quiet: on('quiet'), verbose: on('verbose') }, inject);
  const goldmaneWhisker = goldmaneWhiskerOption('run', raw);
  const auditAllow = parseAllowList(str('allow'), 'run --allow');
  const parallel = parsePositiveInt(str('parallel'), '--parallel');
  const shard = parseShard(str('shard'));
  const cellsRe = parseCellsRegex(str('cells'));
  const path = (k: keyof typeof RUN_OPTIONS) => {
    const v = str(k);
    return v === undefined ? undefined : resolve(io.cwd, v);
  };
  const kubeconfig = path('kubeconfig');
  if (on('skip-create') && !kubeconfig)
    throw new UsageError(
      'run --skip-create: needs --kubeconfig FILE (the cluster to run against)',
      'skip-create',
    );
  if (on('skip-install') && !kubeconfig)
    throw new UsageError(
      'run --skip-install: needs --kubeconfig FILE (a cluster this run creates has no Calico to test)',
      'skip-install',
    );
  if (kubeconfig && !existsSync(kubeconfig))
    throw new UsageError(`run --kubeconfig: ${kubeconfig} does not exist`, 'kubeconfig');
  if (kubeconfig && (on('reuse-cluster') || parallel > 1))
    throw new UsageError(
      'run --kubeconfig: every cell runs on the one existing cluster, so --reuse-cluster and --parallel do not apply',
      'kubeconfig',
    );
  // --lab: the lab's Calico version and node image unless given (another version is refused: it is not built)
  const labGiven = on('lab') ? (await import('../../lab/lock.js')).readLabLock().calico.version : undefined;
  const given = str('calico-version');
  if (labGiven && given?.split(',').some((v) => v.trim() !== labGiven))
    throw new UsageError(
      `run --lab: --calico-version ${given}: the lab provides ${labGiven} only`,
      'calico-version',
    );
  const labFlags = await labOption('run', raw);
  if (labFlags) (raw as Record<string, unknown>)['calico-version'] = labFlags.lock.calico.version;
  const manifestsDir = labFlags?.manifestsDir ?? path('manifests-dir');
  // the lab's manifests are part of the lab: a lab without them is the environment (exit 3, below)
  if (manifestsDir && !labFlags && !existsSync(manifestsDir))
    throw new UsageError(`run --manifests-dir: ${manifestsDir} does not exist`, 'manifests-dir');
  const tests = str('tests');
  if (tests !== undefined) parseCellsRegex(tests, '--tests');
  const policySelect = str('policy-select');
  if (policySelect !== undefined) parseCellsRegex(policySelect, '--policy-select');
  const until = parseUntil(str('until'));
  const policyConcurrency = parsePolicyConcurrency(str('policy-concurrency'));
  const planned = cellsFromValues(raw);
  const cells = selectCells(planned, { ...(cellsRe ? { cells: cellsRe } : {}), ...(shard ? { shard } : {}) });
  const now = inject.now ?? (() => new Date());
  const reportDir = path('report-dir') ?? join(io.cwd, 'results', now().toISOString().replace(/[:.]/g, '-'));

  if (cells.length === 0) {
    io.out(
      `run: shard ${shard?.index}/${shard?.count} holds none of the ${planned.length} selected cells; nothing to do`,
    );
    return ExitCode.Ok;
  }

  // ---- the machine (exit 3)
  const runner = inject.runner ?? defaultRunner;
  const lab = await enterLabFor(labFlags, runner, cells, progress);
  const needKind = !kubeconfig;
  const preflight = inject.preflight
    ? await inject.preflight(needKind)
    : await runPreflight({
        runner,
        needKind,
        assumeIpip: on('assume-ipip'),
        ...(inject.kernelPaths ? { kernelPaths: inject.kernelPaths } : {}),
      });
  assertUsable(preflight);
  if (lab?.unavailablePaths.operator) {
    preflight.unavailablePaths = { ...preflight.unavailablePaths, ...lab.unavailablePaths };
    preflight.evidence.push(`lab: operator cells skipped: ${lab.unavailablePaths.operator}`);
    progress.log('warn', `operator cells will be skipped: ${lab.unavailablePaths.operator}`);
  }
  for (const line of preflight.evidence) progress.log('debug', `preflight: ${line}`);
  if (!preflight.ipip.available && cells.some((c) => c.encapsulation.startsWith('IPIP')))
    progress.log('warn', `IPIP cells will be skipped: ${preflight.ipip.reason}`);
  // the lab builds calicoctl: the Calico policy scenarios of manifest cells run with it unless one is given
  const calicoctl = path('calicoctl') ?? lab?.calicoctl;
  const warning = capacityWarning(parallel, cells);
  if (warning) progress.log('warn', warning);
  if (needKind) {
    // the clusters that exist at once: the --parallel largest of the cells that will run
    const runnable = cells.filter((c) => !cellSkipReason(c, preflight)).sort((a, b) => b.workers - a.workers);
    const inotify = readInotify();
    if (inotify.limit !== undefined)
      preflight.evidence.push(
        `inotify: ${inotify.inUse} of ${inotify.limit} instances in use (fs.inotify.max_user_instances)`,
      );
    const tight = inotifyWarning(inotify, runnable.slice(0, parallel));
    if (tight) progress.log('warn', tight);
  }

  // ---- run
  const session = await sessionDeps(
    inject,
    runner,
    progress,
    realPipelineDeps(runner, progress, {
      ...(manifestsDir ? { manifestsDir } : {}),
      allowUnpinned: on('allow-unpinned'),
      preloadImages: on('preload-images'),
      ...(lab ? { lab } : {}),
      ...goldmaneWhisker,
      verbose: on('verbose'),
      ...(tests ? { testNamePattern: tests } : {}),
    }),
  );
  await renderBeforeCreating(
    'run',
    cells.filter((cell) => !cellSkipReason(cell, preflight)),
    session.deps,
  );

  const results = await runSession({
    cells,
    ...session,
    io,
    inject,
    matrix: {
      reportDir,
      preflight,
      progress,
      parallel,
      reuseCluster: on('reuse-cluster'),
      failFast: on('fail-fast'),
      keepCluster: on('keep-cluster') || until !== undefined,
      ...(until ? { until } : {}),
      ...(policyConcurrency !== undefined ? { policyConcurrency } : {}),
      completeUninstall: !on('no-complete-uninstall'),
      ...(auditAllow.length ? { auditAllow } : {}),
      ...(kubeconfig ? { kubeconfig } : {}),
      skipInstall: on('skip-install'),
      ...(calicoctl ? { calicoctl } : {}),
      ...(policySelect ? { policySelect } : {}),
      ...(inject.limits ? { limits: inject.limits } : {}),
    },
  });
  printSummary(results, reportDir, io);
  return exitCodeOf(results);
}

function parsePositiveInt(value: string | undefined, flag: string): number {
  if (value === undefined) return 1;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > 64)
    throw new UsageError(
      `${flag}: ${JSON.stringify(value)} is not allowed; allowed: a whole number from 1 to 64`,
      flag.slice(2),
    );
  return n;
}

function parseUntil(v: string | undefined): UntilPhase | undefined {
  if (v === undefined) return undefined;
  if (!(UNTIL_PHASES as readonly string[]).includes(v))
    throw new UsageError(
      `run --until: ${JSON.stringify(v)} is not one of ${UNTIL_PHASES.join(', ')}`,
      'until',
    );
  return v as UntilPhase;
}

function parsePolicyConcurrency(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 16)
    throw new UsageError(
      `run --policy-concurrency: ${JSON.stringify(v)} is not a whole number from 1 (serial) to 16`,
      'policy-concurrency',
    );
  return n;
}
