/**
 * Runs conformance suites (suites/*.test.ts) against one live cell through vitest's Node API: the cell's
 * SuiteContext is provided under `cellContext` (suites/context.ts reads it with inject), the JUnit reporter
 * writes its file into the cell's directory, and the phase's results are read, typed, from the run's test
 * modules: each test's state, and the SuiteRecord a suite attached to a test, a suite or its file as task
 * metadata (`task.meta.record`: checks with their evidence, grids, probe records, policy scenario results).
 * (vitest `docs/config/provide.md`, `docs/advanced/api/test-case.md` meta(), `docs/guide/reporters.md`.)
 */
import { mkdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { TestModule } from 'vitest/node';
import type { CheckResult, Outcome } from '../model/results.js';
import type { SuiteRun } from './deps.js';
import type { SuiteContext, SuiteRecord } from './suite-context.js';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SUITES_CONFIG = join(PROJECT_ROOT, 'suites', 'vitest.config.ts');

export interface VitestSuiteOptions {
  /** suite files, relative to the project root (e.g. `suites/connectivity.test.ts`) */
  files: string[];
  ctx: SuiteContext;
  /** the reporter file goes here: `<label>.junit.xml` */
  outDir: string;
  label: string;
  signal?: AbortSignal;
  /** a test name pattern (vitest -t) */
  testNamePattern?: string;
  /** stream vitest's own progress to the terminal */
  verbose?: boolean;
  /** tests: a config file and include globs other than suites/ */
  configFile?: string;
  include?: string[];
  testTimeoutMs?: number;
}

interface ErrorView {
  message: string;
  stack?: string;
}

/** One test as the run left it (vitest's TestCase, as plain data). */
export interface TestView {
  fullName: string;
  state: 'passed' | 'failed' | 'skipped' | 'pending';
  durationMs: number;
  errors: ErrorView[];
  /** the note of `context.skip(note)` */
  note?: string;
  record?: SuiteRecord;
}

/**
 * One test file as the run left it (vitest's TestModule, as plain data): its tests, the errors vitest put on
 * the file or a suite instead of a test (a failed beforeAll/afterAll hook, an error while the file was
 * collected), and the records attached to the file and its suites rather than to a test.
 */
export interface ModuleView {
  /** relative to the project root */
  file: string;
  state: 'passed' | 'failed' | 'skipped' | 'pending' | 'queued';
  tests: TestView[];
  errors: (ErrorView & { suite?: string })[];
  records: SuiteRecord[];
}

const firstLine = (s: string) => s.split('\n')[0]!;

/** An error's text for a check's details: its stack, which begins with the message, or message and stack. */
const errorText = (e: ErrorView) =>
  e.stack?.includes(e.message) ? e.stack : [e.message, e.stack].filter(Boolean).join('\n');

function errorView(e: { message?: string; stack?: string }): ErrorView {
  return { message: e.message || 'an error without a message', ...(e.stack ? { stack: e.stack } : {}) };
}

/** vitest's test modules → plain data (everything the results need, nothing vitest-specific). */
export function viewModules(modules: readonly TestModule[], root = PROJECT_ROOT): ModuleView[] {
  return modules.map((m) => {
    const file = m.moduleId.startsWith(root) ? m.moduleId.slice(root.length + 1) : m.moduleId;
    const tests: TestView[] = [...m.children.allTests()].map((t) => {
      const r = t.result();
      const meta = t.meta();
      return {
        fullName: t.fullName,
        state: r.state,
        durationMs: Math.round(t.diagnostic()?.duration ?? 0),
        errors: (r.errors ?? []).map(errorView),
        ...(r.state === 'skipped' && r.note ? { note: r.note } : {}),
        ...(meta.record ? { record: meta.record } : {}),
      };
    });
    const suites = [...m.children.allSuites()];
    return {
      file,
      state: m.state(),
      tests,
      errors: [
        ...m.errors().map(errorView),
        ...suites.flatMap((s) => s.errors().map((e) => ({ ...errorView(e), suite: s.fullName }))),
      ],
      records: [m.meta().record, ...suites.map((s) => s.meta().record)].filter(
        (r): r is SuiteRecord => r !== undefined,
      ),
    };
  });
}

const STATE: Record<TestView['state'], Outcome> = {
  passed: 'passed',
  failed: 'failed',
  skipped: 'skipped',
  // a test that never finished (the run was cancelled): as vitest's JUnit report counts it
  pending: 'skipped',
};

const isBad = (o: Outcome) => o === 'failed' || o === 'error';

/**
 * A test's check: the suite's own record of it when there is one (its name, outcome and evidence), vitest's
 * line otherwise. A test vitest failed stays failed whatever its record says (an assertion after the
 * record, a timeout).
 */
function checkOfTest(t: TestView): CheckResult {
  const outcome = STATE[t.state];
  const failures = t.errors.map(errorText);
  const line: CheckResult = {
    name: t.fullName,
    outcome,
    durationMs: t.durationMs,
    ...(failures.length
      ? { message: firstLine(t.errors[0]!.message), details: failures.join('\n\n') }
      : t.note
        ? { message: t.note }
        : t.state === 'pending'
          ? { message: 'the run ended before this test finished' }
          : {}),
  };
  const own = t.record?.check;
  if (!own) return line;
  if (isBad(outcome) && !isBad(own.outcome))
    return {
      ...own,
      outcome,
      ...(line.message ? { message: line.message } : {}),
      ...(line.details ? { details: line.details } : {}),
    };
  return own;
}

/** What a suite run produced, typed: the checks and everything the suites recorded for the results model. */
export type SuiteResults = Omit<SuiteRun, 'evidence'>;

/**
 * The run's modules → the phase's results. A file that failed to load (syntax, import) is one failed check,
 * and so is each error outside the tests. A file vitest marks failed although none of its tests failed is
 * a failed check even when no error was handed in: a suite whose beforeAll failed has only skipped tests,
 * which must never read as "every check skipped".
 */
export function suiteResults(modules: readonly ModuleView[]): Required<SuiteResults> {
  const out: Required<SuiteResults> = { checks: [], grids: [], probes: [], policy: [] };
  const collect = (r: SuiteRecord | undefined) => {
    if (!r) return;
    out.grids.push(...(r.grids ?? []));
    out.probes.push(...(r.probes ?? []));
    out.policy.push(...(r.policy ?? []));
  };
  for (const m of modules) {
    if (m.tests.length === 0 && m.state === 'failed') {
      const e = m.errors[0];
      const details = m.errors.map(errorText).join('\n\n');
      out.checks.push({
        name: m.file,
        outcome: 'failed',
        durationMs: 0,
        message: e ? firstLine(e.message) : 'the suite file failed to load',
        ...(details ? { details } : {}),
      });
      continue;
    }
    const ofFile: CheckResult[] = [];
    for (const r of m.records) {
      collect(r);
      ofFile.push(...(r.checks ?? []));
    }
    for (const t of m.tests) {
      collect(t.record);
      ofFile.push(checkOfTest(t), ...(t.record?.checks ?? []));
    }
    const testFailed = ofFile.some((c) => isBad(c.outcome));
    for (const e of m.errors)
      ofFile.push({
        name: `${m.file}${e.suite ? ` > ${e.suite}` : ''}: failed outside its tests`,
        outcome: 'failed',
        durationMs: 0,
        message: firstLine(e.message),
        details: errorText(e),
      });
    if (m.state === 'failed' && m.errors.length === 0 && !testFailed)
      ofFile.push({
        name: `${m.file}: failed outside its tests`,
        outcome: 'failed',
        durationMs: 0,
        message:
          'vitest marked the file failed but none of its tests (a beforeAll/afterAll hook?); its JUnit report has the error',
      });
    out.checks.push(...ofFile);
  }
  return out;
}

export async function runVitestSuite(opts: VitestSuiteOptions): Promise<SuiteRun> {
  mkdirSync(opts.outDir, { recursive: true });
  const junitFile = join(opts.outDir, `${opts.label}.junit.xml`);
  const { createVitest } = await import('vitest/node');
  // vitest sets process.exitCode when tests fail; the run command decides the exit code itself
  const exitCodeBefore = process.exitCode;
  const vitest = await createVitest(
    'test',
    {
      root: PROJECT_ROOT,
      config: opts.configFile ?? SUITES_CONFIG,
      watch: false,
      run: true,
      reporters: [...(opts.verbose ? ['default'] : []), 'junit'],
      outputFile: { junit: junitFile },
      provide: { cellContext: opts.ctx },
      ...(opts.include ? { include: opts.include } : {}),
      ...(opts.testNamePattern ? { testNamePattern: opts.testNamePattern } : {}),
      ...(opts.testTimeoutMs ? { testTimeout: opts.testTimeoutMs } : {}),
    },
    {},
    // without --verbose vitest's own lines ("JUNIT report written to …") stay out of the run's output
    opts.verbose ? {} : { stdout: discard(), stderr: discard() },
  );
  const onAbort = () => void vitest.cancelCurrentRun('keyboard-input');
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let unhandled = 0;
  let modules: ModuleView[] = [];
  try {
    const result = await vitest.start(opts.files);
    unhandled = result.unhandledErrors.length;
    modules = viewModules(result.testModules);
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await vitest.close();
    process.exitCode = exitCodeBefore;
  }
  if (modules.length === 0) throw new Error(`vitest ran no test file of ${opts.files.join(', ')}`);
  const results = suiteResults(modules);
  const { checks } = results;
  if (unhandled > 0)
    checks.push({
      name: `${opts.label}: unhandled errors`,
      outcome: 'failed',
      durationMs: 0,
      message: `${unhandled} unhandled error(s) during the suite run (see ${junitFile})`,
    });
  const rel = (p: string) => join(basename(opts.outDir), basename(p));
  const recorded = [
    [results.grids.length, 'grid'],
    [results.probes.length, 'probe record'],
    [results.policy.length, 'policy scenario result'],
  ]
    .filter(([n]) => Number(n) > 0)
    .map(([n, what]) => `${n} ${what}${n === 1 ? '' : 's'}`);
  return {
    ...results,
    evidence: [
      `vitest ${opts.files.join(', ')}: ${checks.filter((c) => c.outcome === 'passed').length} passed, ` +
        `${checks.filter((c) => isBad(c.outcome)).length} failed, ` +
        `${checks.filter((c) => c.outcome === 'skipped').length} skipped`,
      ...(recorded.length ? [`recorded by the suite: ${recorded.join(', ')}`] : []),
      `report: ${rel(junitFile)}`,
    ],
  };
}

function discard(): NodeJS.WriteStream {
  return new Writable({
    write(_chunk, _enc, done) {
      done();
    },
  }) as unknown as NodeJS.WriteStream;
}
