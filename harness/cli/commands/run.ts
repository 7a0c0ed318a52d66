/**
 * `calico-conformance run`: every selected cell through the pipeline (harness/pipeline/cell.ts), then every
 * report format into the results directory. Thin: parse and check the flags (exit 2 before anything is
 * created), preflight the machine (exit 3 with what is missing), run, write, pick the exit code.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { parseAllowList } from '../../audit/registry.js';
import { EnvironmentError, ExitCode, UsageError } from '../../errors.js';
import { defaultRunner, type ProcessRunner } from '../../exec/process.js';
import type { PipelineDeps, ProgressSink } from '../../pipeline/deps.js';
import { runMatrix } from '../../pipeline/matrix.js';
import { capacityWarning, parseCellsRegex, parseShard, selectCells } from '../../pipeline/select.js';
import { PROJECT_ROOT } from '../../pipeline/suites.js';
import type { KernelPaths } from '../../preflight/ipip.js';
import {
  assertUsable,
  cellSkipReason,
  type PreflightReport,
  runPreflight,
} from '../../preflight/preflight.js';
import { createProgress, verbosityFrom } from '../../progress/progress.js';
import { type RunResults, runOutcome } from '../../report/model.js';
import { CELL_OPTIONS, cellsFromValues, goldmaneWhiskerOption, parseCommandArgs } from '../args.js';
import type { CliIO } from '../io.js';

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
  --calicoctl PATH        calicoctl for Calico policy scenarios on the manifest path
  --tests REGEX           only the suite tests whose name matches (vitest -t)
  --policy-select REGEX   only the NetworkPolicy scenarios whose name or tag matches
  --assume-ipip           run IPIP cells even when the host kernel check finds no ipip
  --quiet | --verbose     less / more progress output

exit codes: 0 every cell passed or was skipped, 1 a cell failed, 2 bad usage, 3 environment not usable,
130 interrupted (SIGINT; 143 for SIGTERM): clusters are deleted and the partial results written`;

const RUN_OPTIONS = {
  ...CELL_OPTIONS,
  'report-dir': { type: 'string' },
  cells: { type: 'string' },
  shard: { type: 'string' },
  parallel: { type: 'string' },
  'reuse-cluster': { type: 'boolean' },
  'fail-fast': { type: 'boolean' },
  'keep-cluster': { type: 'boolean' },
  allow: { type: 'string' },
  'no-complete-uninstall': { type: 'boolean' },
  'manifests-dir': { type: 'string' },
  'allow-unpinned': { type: 'boolean' },
  'preload-images': { type: 'boolean' },
  lab: { type: 'boolean' },
  'no-goldmane-whisker': { type: 'boolean' },
  kubeconfig: { type: 'string' },
  'skip-create': { type: 'boolean' },
  'skip-install': { type: 'boolean' },
  calicoctl: { type: 'string' },
  tests: { type: 'string' },
  'policy-select': { type: 'string' },
  'assume-ipip': { type: 'boolean' },
  quiet: { type: 'boolean' },
  verbose: { type: 'boolean' },
} as const;

/** What tests (and the e2e child) replace; production uses the defaults. */
export interface RunInjection {
  runner?: ProcessRunner;
  kernelPaths?: KernelPaths;
  /** replaces the machine checks entirely */
  preflight?: (needKind: boolean) => Promise<PreflightReport>;
  /** replaces realDeps() */
  deps?: PipelineDeps;
  progress?: ProgressSink;
  /** install SIGINT/SIGTERM handlers (default true) */
  handleSignals?: boolean;
  /** per-phase time limits (tests shorten them) */
  limits?: Parameters<typeof runMatrix>[2]['limits'];
  /** aborts the run like a signal would (tests) */
  signal?: AbortSignal;
  now?: () => Date;
}

export async function runCommand(argv: string[], io: CliIO, inject: RunInjection = {}): Promise<number> {
  const { values: raw } = parseCommandArgs('run', argv, RUN_OPTIONS);
  const str = (k: keyof typeof RUN_OPTIONS): string | undefined =>
    typeof raw[k] === 'string' ? (raw[k] as string) : undefined;
  const on = (k: keyof typeof RUN_OPTIONS): boolean => raw[k] === true;

  // ---- everything the user typed is checked before anything is created (exit 2)
  if (on('quiet') && on('verbose'))
    throw new UsageError('run: --quiet and --verbose exclude each other; pick one', 'quiet');
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
  const labLock = on('lab') ? (await import('../../lab/lock.js')).readLabLock() : undefined;
  if (labLock) {
    const given = raw['calico-version'];
    if (typeof given === 'string' && given.split(',').some((v) => v.trim() !== labLock.calico.version))
      throw new UsageError(
        `run --lab: --calico-version ${given}: the lab provides ${labLock.calico.version} only`,
        'calico-version',
      );
    if (str('manifests-dir') !== undefined)
      throw new UsageError(
        'run --lab: --manifests-dir does not apply (the lab brings its own manifests)',
        'manifests-dir',
      );
    (raw as Record<string, unknown>)['calico-version'] = labLock.calico.version;
    (raw as Record<string, unknown>)['node-image'] ??= (await import('../../lab/lock.js')).labNodeImage(
      labLock,
    );
  }
  const manifestsDir = labLock
    ? (await import('../../lab/lock.js')).labPaths().manifests
    : path('manifests-dir');
  // the lab's manifests are part of the lab: a lab without them is the environment (exit 3, below)
  if (manifestsDir && !labLock && !existsSync(manifestsDir))
    throw new UsageError(`run --manifests-dir: ${manifestsDir} does not exist`, 'manifests-dir');
  const tests = str('tests');
  if (tests !== undefined) parseCellsRegex(tests, '--tests');
  const policySelect = str('policy-select');
  if (policySelect !== undefined) parseCellsRegex(policySelect, '--policy-select');
  const planned = cellsFromValues(raw);
  const cells = selectCells(planned, { ...(cellsRe ? { cells: cellsRe } : {}), ...(shard ? { shard } : {}) });
  const now = inject.now ?? (() => new Date());
  const reportDir = path('report-dir') ?? join(io.cwd, 'results', now().toISOString().replace(/[:.]/g, '-'));

  const verbosity = verbosityFrom({ quiet: on('quiet'), verbose: on('verbose') });
  const progress =
    inject.progress ??
    createProgress({
      isTTY: io.isTTY,
      write: (t) => (io.isTTY ? process.stdout.write(t) : io.out(t)),
      verbosity,
      env: io.env,
    });

  if (cells.length === 0) {
    io.out(
      `run: shard ${shard?.index}/${shard?.count} holds none of the ${planned.length} selected cells; nothing to do`,
    );
    return ExitCode.Ok;
  }

  // ---- the machine (exit 3)
  const runner = inject.runner ?? defaultRunner;
  const lab = labLock
    ? await (await import('../../lab/env.js')).enterLab({
        runner,
        cells,
        log: (l) => progress.log('info', `lab: ${l}`),
      })
    : undefined;
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
  for (const line of preflight.evidence) progress.log('debug', `preflight: ${line}`);
  if (!preflight.ipip.available && cells.some((c) => c.encapsulation.startsWith('IPIP')))
    progress.log('warn', `IPIP cells will be skipped: ${preflight.ipip.reason}`);
  const warning = capacityWarning(parallel, cells);
  if (warning) progress.log('warn', warning);

  // ---- run
  const controller = new AbortController();
  inject.signal?.addEventListener(
    'abort',
    () => controller.abort(String(inject.signal?.reason ?? 'SIGINT')),
    {
      once: true,
    },
  );
  const { Teardown } = await import('../../state/teardown.js');
  let teardown: InstanceType<typeof Teardown> | undefined;
  let deps = inject.deps;
  if (!deps) {
    const { RunState } = await import('../../state/run-state.js');
    teardown = new Teardown({ state: new RunState(), runner, log: (l) => progress.log('info', l) });
    const { realDeps } = await import('../../pipeline/real.js');
    deps = await realDeps({
      runner,
      teardown,
      ...(manifestsDir ? { manifestsDir } : {}),
      allowUnpinned: on('allow-unpinned'),
      preloadImages: on('preload-images') || lab !== undefined,
      ...(lab ? { extraImages: lab.extraImages } : {}),
      ...goldmaneWhisker,
      warn: (l) => progress.log('warn', l),
      log: (l) => progress.log('debug', l),
      verbose: on('verbose'),
      ...(tests ? { testNamePattern: tests } : {}),
    });
  }

  // every runnable cell is rendered before any cluster exists: a version the lock does not pin, a manifest
  // that cannot be fetched or fails validation is bad input (exit 2), not a failed cell an hour later
  for (const cell of cells) {
    if (cellSkipReason(cell, preflight)) continue;
    try {
      await deps.render(cell);
    } catch (err) {
      // a download that cannot be made is the environment (exit 3), like `render`; the rest is input (2)
      if (err instanceof UsageError || err instanceof EnvironmentError) throw err;
      throw new UsageError(`run: cell ${cell.id} cannot be rendered: ${(err as Error).message}`, 'cells');
    }
  }

  mkdirSync(reportDir, { recursive: true });
  let signalled = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signalled++;
    if (signalled === 1) {
      progress.log(
        'warn',
        `${sig}: stopping the current phase, deleting the clusters and writing partial results (${sig} again exits at once)`,
      );
      controller.abort(sig);
      return;
    }
    progress.log('error', `${sig} again: exiting now; \`calico-conformance cleanup\` removes what is left`);
    void (teardown?.run(`${sig} twice`) ?? Promise.resolve([])).finally(() =>
      process.exit(sig === 'SIGINT' ? 130 : 143),
    );
  };
  const handleSignals = inject.handleSignals ?? true;
  if (handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  let results: RunResults | undefined;
  try {
    results = await runMatrix(cells, deps, {
      reportDir,
      preflight,
      progress,
      signal: controller.signal,
      parallel,
      reuseCluster: on('reuse-cluster'),
      failFast: on('fail-fast'),
      keepCluster: on('keep-cluster'),
      completeUninstall: !on('no-complete-uninstall'),
      ...(auditAllow.length ? { auditAllow } : {}),
      ...(kubeconfig ? { kubeconfig } : {}),
      skipInstall: on('skip-install'),
      ...(path('calicoctl') ? { calicoctl: path('calicoctl') as string } : {}),
      ...(policySelect ? { policySelect } : {}),
      ...(inject.limits ? { limits: inject.limits } : {}),
      toolVersion: toolVersion(),
    });
    // anything still registered (a cluster whose teardown phase never got to run) goes now
    if (teardown) results.leftBehind.push(...(await teardown.run('end of run')));
  } finally {
    // a harness bug that escaped the pipeline must still not leave clusters behind
    if (!results && teardown) await teardown.run('unexpected error');
    if (handleSignals) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    progress.close?.();
  }

  await writeResults(results, reportDir, io);
  printSummary(results, reportDir, io);
  if (results.interrupted) return results.interrupted === 'SIGTERM' ? 143 : 130;
  return runOutcome(results) === 'failed' ? ExitCode.Failed : ExitCode.Ok;
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

function toolVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string })
      .version;
  } catch {
    return '0.0.0';
  }
}

async function writeResults(results: RunResults, reportDir: string, io: CliIO): Promise<void> {
  // results.json first and on its own: it is what `report --from` reads, even if a renderer fails
  writeFileSync(join(reportDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  try {
    const { writeReports } = await import('../../report/write.js');
    await writeReports(results, reportDir, {
      ...(io.env.GITHUB_STEP_SUMMARY ? { githubStepSummary: io.env.GITHUB_STEP_SUMMARY } : {}),
    });
  } catch (err) {
    io.err(
      `run: the report formats could not all be written (${(err as Error).message}); results.json is complete`,
    );
  }
}

function printSummary(results: RunResults, reportDir: string, io: CliIO): void {
  const count = (o: string) => results.cells.filter((c) => c.outcome === o).length;
  const rel =
    isAbsolute(reportDir) && reportDir.startsWith(`${io.cwd}/`)
      ? reportDir.slice(io.cwd.length + 1)
      : reportDir;
  io.out(
    `${results.cells.length} cell(s): ${count('passed')} passed, ${count('failed') + count('error')} failed, ` +
      `${count('skipped')} skipped, ${count('not-run')} not run${results.interrupted ? ` (interrupted by ${results.interrupted})` : ''}`,
  );
  for (const c of results.cells.filter((x) => x.outcome !== 'passed'))
    io.out(`  ${c.outcome.padEnd(7)} ${c.cell.id}${c.reason ? `: ${c.reason.split('\n')[0]}` : ''}`);
  for (const c of results.cells) {
    const kept = c.phases.find((p) => p.name === 'teardown')?.evidence.find((e) => e.startsWith('kept '));
    if (kept) io.out(`  ${c.cell.id}: ${kept} (remove: kind delete cluster --name ${c.clusterName})`);
  }
  if (results.leftBehind.length)
    io.err(`left behind (remove with \`calico-conformance cleanup\`):\n  ${results.leftBehind.join('\n  ')}`);
  io.out(`results: ${rel}/ (summary.md, report.html, junit.xml, results.json)`);
}
