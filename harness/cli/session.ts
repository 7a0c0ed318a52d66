/**
 * What `run` and `upgrade` share once their input is checked and the machine is usable: the teardown
 * registry (every cluster and temp kubeconfig recorded in the state file before it exists), the rendering
 * of every cell before anything is created, SIGINT/SIGTERM (stop the current phase, delete the clusters,
 * write partial results, exit 130/143), the cells through the pipeline (harness/pipeline/matrix.ts), the
 * results directory, the summary and the exit code. The commands differ only in how they read their
 * flags and which cells (and phases) they hand over.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { Cell } from '../config/cell.js';
import { EnvironmentError, ExitCode, UsageError } from '../errors.js';
import type { ProcessRunner } from '../exec/process.js';
import type { Lab } from '../lab/env.js';
import type { LabLock } from '../lab/lock.js';
import { type RunResults, runOutcome } from '../model/results.js';
import type { PipelineDeps, ProgressSink } from '../pipeline/deps.js';
import { type MatrixOptions, runMatrix } from '../pipeline/matrix.js';
import type { PreflightReport } from '../preflight/preflight.js';
import { createProgress, verbosityFrom } from '../progress/progress.js';
import type { Teardown } from '../state/teardown.js';
import type { CliIO } from './io.js';
import { toolVersion } from './version.js';

/** The flags `run` and `upgrade` share, meaning the same on both. */
export const SESSION_OPTIONS = {
  'report-dir': { type: 'string' },
  'keep-cluster': { type: 'boolean' },
  allow: { type: 'string' },
  'no-complete-uninstall': { type: 'boolean' },
  'manifests-dir': { type: 'string' },
  'allow-unpinned': { type: 'boolean' },
  lab: { type: 'boolean' },
  'no-goldmane-whisker': { type: 'boolean' },
  quiet: { type: 'boolean' },
  verbose: { type: 'boolean' },
} as const;

/** What tests (and the e2e children) replace in `run` and `upgrade`; production uses the defaults. */
export interface SessionInjection {
  runner?: ProcessRunner;
  /** replaces the machine checks entirely */
  preflight?: (needKind: boolean) => Promise<PreflightReport>;
  /**
   * replaces realDeps(): an object (no teardown registry: the doubles create nothing outside the process),
   * or a function that gets the run's registry, for doubles that create what a crash must not leave behind
   */
  deps?: PipelineDeps | ((teardown: Teardown) => PipelineDeps | Promise<PipelineDeps>);
  progress?: ProgressSink;
  /** install SIGINT/SIGTERM handlers (default true) */
  handleSignals?: boolean;
  /** per-phase time limits (tests shorten them) */
  limits?: MatrixOptions['limits'];
  /** aborts the run like a signal would (tests) */
  signal?: AbortSignal;
  now?: () => Date;
}

/** String and boolean flags of a parsed command line, by name. */
export function flagReader<K extends string>(values: Partial<Record<K, unknown>>) {
  return {
    str: (k: K): string | undefined => (typeof values[k] === 'string' ? (values[k] as string) : undefined),
    on: (k: K): boolean => values[k] === true,
  };
}

/** `--quiet` / `--verbose` (one or the other: exit 2) and the progress sink they choose. */
export function commandProgress(
  command: string,
  io: CliIO,
  flags: { quiet: boolean; verbose: boolean },
  inject: SessionInjection,
): ProgressSink {
  if (flags.quiet && flags.verbose)
    throw new UsageError(`${command}: --quiet and --verbose exclude each other; pick one`, 'quiet');
  return (
    inject.progress ??
    createProgress({
      isTTY: io.isTTY,
      write: (t) => (io.isTTY ? process.stdout.write(t) : io.out(t)),
      verbosity: verbosityFrom(flags),
      env: io.env,
    })
  );
}

/**
 * `--lab` (harness/lab): the lab's lock, its node image unless `--node-image` is given (written into the
 * flag values the cells are built from), its manifests; `--manifests-dir` does not apply (exit 2).
 */
export async function labOption(
  command: string,
  values: Record<string, unknown>,
): Promise<{ lock: LabLock; manifestsDir: string } | undefined> {
  if (values.lab !== true) return undefined;
  const { labNodeImage, labPaths, readLabLock } = await import('../lab/lock.js');
  if (typeof values['manifests-dir'] === 'string')
    throw new UsageError(
      `${command} --lab: --manifests-dir does not apply (the lab brings its own manifests)`,
      'manifests-dir',
    );
  const lock = readLabLock();
  values['node-image'] ??= labNodeImage(lock);
  return { lock, manifestsDir: labPaths().manifests };
}

/** Enters the lab for these cells (exit 3 when it is not built, or lacks a part they need). */
export async function enterLabFor(
  lab: { lock: LabLock } | undefined,
  runner: ProcessRunner,
  cells: readonly Cell[],
  progress: ProgressSink,
): Promise<Lab | undefined> {
  if (!lab) return undefined;
  const { enterLab } = await import('../lab/env.js');
  return enterLab({ runner, cells, log: (l) => progress.log('info', `lab: ${l}`) });
}

/** How a command binds the pipeline to the live modules (realDeps), from its flags. */
export interface RealDepsFlags {
  manifestsDir?: string;
  allowUnpinned: boolean;
  /** `kind load` each cell's images (always on the lab) */
  preloadImages: boolean;
  lab?: Lab;
  goldmaneWhisker?: boolean;
  verbose: boolean;
  testNamePattern?: string;
}

/** realDeps() for a command's flags, with the run's teardown registry. */
export function realPipelineDeps(
  runner: ProcessRunner,
  progress: ProgressSink,
  f: RealDepsFlags,
): (teardown: Teardown) => Promise<PipelineDeps> {
  return async (teardown) => {
    const { realDeps } = await import('../pipeline/real.js');
    return realDeps({
      runner,
      teardown,
      ...(f.manifestsDir ? { manifestsDir: f.manifestsDir } : {}),
      allowUnpinned: f.allowUnpinned,
      preloadImages: f.preloadImages || f.lab !== undefined,
      ...(f.lab ? { extraImages: f.lab.extraImages } : {}),
      ...(f.goldmaneWhisker !== undefined ? { goldmaneWhisker: f.goldmaneWhisker } : {}),
      warn: (l) => progress.log('warn', l),
      log: (l) => progress.log('debug', l),
      verbose: f.verbose,
      ...(f.testNamePattern ? { testNamePattern: f.testNamePattern } : {}),
    });
  };
}

/**
 * The pipeline's deps and the registry that removes what they create: the injected object as it is, or
 * a fresh registry (recorded in the state file) handed to the injected function or to `real`.
 */
export async function sessionDeps(
  inject: SessionInjection,
  runner: ProcessRunner,
  progress: ProgressSink,
  real: (teardown: Teardown) => Promise<PipelineDeps>,
): Promise<{ deps: PipelineDeps; teardown?: Teardown }> {
  if (inject.deps !== undefined && typeof inject.deps !== 'function') return { deps: inject.deps };
  const { Teardown } = await import('../state/teardown.js');
  const { RunState } = await import('../state/run-state.js');
  const teardown = new Teardown({ state: new RunState(), runner, log: (l) => progress.log('info', l) });
  const deps = typeof inject.deps === 'function' ? await inject.deps(teardown) : await real(teardown);
  return { deps, teardown };
}

/**
 * Every cell rendered before any cluster exists: a version the lock does not pin, a manifest that cannot be
 * fetched or fails validation is bad input (exit 2), not a failed cell an hour later. A download that cannot
 * be made is the environment (exit 3), like `render`.
 */
export async function renderBeforeCreating(
  command: string,
  cells: readonly Cell[],
  deps: Pick<PipelineDeps, 'render'>,
): Promise<void> {
  for (const cell of cells) {
    try {
      await deps.render(cell);
    } catch (err) {
      if (err instanceof UsageError || err instanceof EnvironmentError) throw err;
      throw new UsageError(
        `${command}: cell ${cell.id} cannot be rendered: ${(err as Error).message}`,
        'cells',
      );
    }
  }
}

export interface Session {
  cells: Cell[];
  deps: PipelineDeps;
  teardown?: Teardown;
  /** everything runMatrix takes but the signal and the tool version, which the session owns */
  matrix: Omit<MatrixOptions, 'signal' | 'toolVersion'>;
  io: CliIO;
  inject: SessionInjection;
}

/** The exit code of finished results: 130/143 when interrupted, 1 when a cell failed, else 0. */
export function exitCodeOf(results: RunResults): number {
  if (results.interrupted) return results.interrupted === 'SIGTERM' ? 143 : 130;
  return runOutcome(results) === 'failed' ? ExitCode.Failed : ExitCode.Ok;
}

/**
 * While a run owns SIGINT/SIGTERM, a handler some library adds for them is taken off again as soon as it
 * is added, so only the run's handler decides what a signal does. vitest's Node API adds one with every
 * suite run (its Logger: `process.once('SIGINT', …)` that calls `process.exit()` a millisecond later): a
 * Ctrl-C during a real cell's connectivity suite exited the run in the middle of its teardown, with the
 * cluster left behind, no results and nothing said (lab, 2026-12-06). Returns the function that disarms.
 */
export function ownSignals(
  own: (signal: NodeJS.Signals) => void,
  signals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'],
): () => void {
  const onNew = (event: string | symbol, listener: (...args: unknown[]) => void) => {
    if (!(signals as readonly (string | symbol)[]).includes(event) || listener === own) return;
    // 'newListener' is emitted before the listener is added
    queueMicrotask(() => process.removeListener(event, listener));
  };
  process.on('newListener', onNew);
  return () => process.off('newListener', onNew);
}

/** Runs the cells with the teardown registry and the signal handlers armed, and writes the results. */
export async function runSession(s: Session): Promise<RunResults> {
  const { progress, reportDir } = s.matrix;
  const { inject, teardown } = s;
  const controller = new AbortController();
  inject.signal?.addEventListener(
    'abort',
    () => controller.abort(String(inject.signal?.reason ?? 'SIGINT')),
    { once: true },
  );

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
  let disown = () => {};
  if (handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    disown = ownSignals(onSignal);
  }

  let results: RunResults | undefined;
  try {
    results = await runMatrix(s.cells, s.deps, {
      ...s.matrix,
      signal: controller.signal,
      toolVersion: toolVersion(),
    });
    // anything still registered (a cluster whose teardown phase never got to run) goes now
    if (teardown) results.leftBehind.push(...(await teardown.run('end of run')));
  } finally {
    // a harness bug that escaped the pipeline must still not leave clusters behind
    if (!results && teardown) await teardown.run('unexpected error');
    if (handleSignals) {
      disown();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    progress.close?.();
  }

  await writeResults(results, reportDir, s.io);
  return results;
}

async function writeResults(results: RunResults, reportDir: string, io: CliIO): Promise<void> {
  // results.json first and on its own: it is what `report --from` reads, even if a renderer fails
  writeFileSync(join(reportDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  try {
    const { writeReports } = await import('../report/write.js');
    await writeReports(results, reportDir, {
      ...(io.env.GITHUB_STEP_SUMMARY ? { githubStepSummary: io.env.GITHUB_STEP_SUMMARY } : {}),
    });
  } catch (err) {
    io.err(
      `the report formats could not all be written (${(err as Error).message}); results.json is complete`,
    );
  }
}

/** The lines a person reads at the end: counts, the cells that did not pass, kept clusters, leftovers. */
export function printSummary(results: RunResults, reportDir: string, io: CliIO): void {
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
