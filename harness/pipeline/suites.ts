/**
 * Runs conformance suites (suites/*.test.ts) against one live cell through vitest's Node API: the cell's
 * SuiteContext is provided under `cellContext` (suites/context.ts reads it with inject), the JUnit and
 * JSON reporters write their files into the cell's directory, and the JSON report (Jest-compatible
 * `testResults[].assertionResults[]`) becomes the phase's CheckResults.
 * (vitest `docs/config/provide.md`, `docs/guide/reporters.md` in vitest-dev/vitest.)
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { TestModule } from 'vitest/node';
import type { CheckResult, Outcome } from '../model/results.js';
import type { SuiteRun } from './deps.js';
import type { SuiteContext } from './suite-context.js';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SUITES_CONFIG = join(PROJECT_ROOT, 'suites', 'vitest.config.ts');

export interface VitestSuiteOptions {
  /** suite files, relative to the project root (e.g. `suites/connectivity.test.ts`) */
  files: string[];
  ctx: SuiteContext;
  /** reporter files go here: `<label>.junit.xml`, `<label>.json` */
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

interface JestAssertion {
  fullName?: string;
  title?: string;
  ancestorTitles?: string[];
  status?: string;
  duration?: number | null;
  failureMessages?: string[];
}
interface JestReport {
  testResults?: { name?: string; status?: string; message?: string; assertionResults?: JestAssertion[] }[];
}

const STATUS: Record<string, Outcome> = {
  passed: 'passed',
  failed: 'failed',
  skipped: 'skipped',
  pending: 'skipped',
  todo: 'skipped',
  disabled: 'skipped',
};

/**
 * An error vitest reports on a suite or a test file rather than on a test: a failed beforeAll/afterAll hook,
 * or an error while the file was collected. vitest then reports the file's tests as skipped, and its JSON
 * report carries the error nowhere (the file's `message` is empty); the runner reads these from the run's
 * test modules (TestSuite.errors(), TestModule.errors()).
 */
export interface SuiteError {
  /** absolute path of the test file, as the JSON report names it */
  file: string;
  /** the suite's full name; absent for the file itself */
  suite?: string;
  message: string;
  stack?: string;
}

const relativeTo = (root: string, name: string) =>
  name.startsWith(root) ? name.slice(root.length + 1) : name;

/**
 * The JSON reporter's file → CheckResults; a file that failed to load (syntax, import) is one failed check,
 * and so is each error outside the tests (`suiteErrors`). A file vitest marks failed although none of its
 * tests failed is a failed check even when no error was handed in: a suite whose beforeAll failed has only
 * skipped tests, which must never read as "every check skipped".
 */
export function checksFromJsonReport(
  report: JestReport,
  root = PROJECT_ROOT,
  suiteErrors: readonly SuiteError[] = [],
): CheckResult[] {
  const checks: CheckResult[] = [];
  for (const file of report.testResults ?? []) {
    const fileName = relativeTo(root, file.name ?? '');
    const assertions = file.assertionResults ?? [];
    if (assertions.length === 0 && file.status === 'failed') {
      checks.push({
        name: fileName,
        outcome: 'failed',
        durationMs: 0,
        message: (file.message ?? 'the suite file failed to load').split('\n')[0]!,
        ...(file.message ? { details: file.message } : {}),
      });
      continue;
    }
    const ofFile: CheckResult[] = [];
    for (const a of assertions) {
      const name = a.fullName || [...(a.ancestorTitles ?? []), a.title ?? ''].join(' > ');
      const failures = a.failureMessages ?? [];
      const outcome = STATUS[a.status ?? ''] ?? 'error';
      ofFile.push({
        name,
        outcome,
        durationMs: Math.round(a.duration ?? 0),
        ...(failures.length ? { message: failures[0]!.split('\n')[0]!, details: failures.join('\n\n') } : {}),
      });
    }
    const errors = suiteErrors.filter((e) => e.file === file.name);
    const testFailed = ofFile.some((c) => c.outcome === 'failed' || c.outcome === 'error');
    for (const e of errors)
      ofFile.push({
        name: `${fileName}${e.suite ? ` > ${e.suite}` : ''}: failed outside its tests`,
        outcome: 'failed',
        durationMs: 0,
        message: e.message.split('\n')[0]!,
        details: [e.message, e.stack].filter(Boolean).join('\n'),
      });
    if (file.status === 'failed' && errors.length === 0 && !testFailed)
      ofFile.push({
        name: `${fileName}: failed outside its tests`,
        outcome: 'failed',
        durationMs: 0,
        message:
          file.message?.split('\n')[0] ||
          'vitest marked the file failed but none of its tests (a beforeAll/afterAll hook?); its JUnit report has the error',
        ...(file.message ? { details: file.message } : {}),
      });
    checks.push(...ofFile);
  }
  return checks;
}

/** Every error vitest put on a test file or suite instead of a test (hooks, collection). */
export function suiteErrorsOf(modules: readonly TestModule[]): SuiteError[] {
  const out: SuiteError[] = [];
  const add = (
    file: string,
    suite: string | undefined,
    errors: readonly { message?: string; stack?: string }[],
  ) => {
    for (const e of errors)
      out.push({
        file,
        ...(suite ? { suite } : {}),
        message: e.message || 'an error without a message',
        ...(e.stack ? { stack: e.stack } : {}),
      });
  };
  for (const m of modules) {
    add(m.moduleId, undefined, m.errors());
    for (const s of m.children.allSuites()) add(m.moduleId, s.fullName, s.errors());
  }
  return out;
}

export async function runVitestSuite(opts: VitestSuiteOptions): Promise<SuiteRun> {
  mkdirSync(opts.outDir, { recursive: true });
  const jsonFile = join(opts.outDir, `${opts.label}.json`);
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
      reporters: [...(opts.verbose ? ['default'] : []), 'json', 'junit'],
      outputFile: { json: jsonFile, junit: junitFile },
      provide: { cellContext: opts.ctx },
      ...(opts.include ? { include: opts.include } : {}),
      ...(opts.testNamePattern ? { testNamePattern: opts.testNamePattern } : {}),
      ...(opts.testTimeoutMs ? { testTimeout: opts.testTimeoutMs } : {}),
    },
    {},
    // without --verbose vitest's own lines ("JSON report written to …") stay out of the run's output
    opts.verbose ? {} : { stdout: discard(), stderr: discard() },
  );
  const onAbort = () => void vitest.cancelCurrentRun('keyboard-input');
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let unhandled = 0;
  let suiteErrors: SuiteError[] = [];
  try {
    const result = await vitest.start(opts.files);
    unhandled = result.unhandledErrors.length;
    suiteErrors = suiteErrorsOf(result.testModules);
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await vitest.close();
    process.exitCode = exitCodeBefore;
  }
  if (!existsSync(jsonFile))
    throw new Error(`vitest wrote no JSON report (${jsonFile}) for ${opts.files.join(', ')}`);
  const checks = checksFromJsonReport(
    JSON.parse(readFileSync(jsonFile, 'utf8')) as JestReport,
    PROJECT_ROOT,
    suiteErrors,
  );
  if (unhandled > 0)
    checks.push({
      name: `${opts.label}: unhandled errors`,
      outcome: 'failed',
      durationMs: 0,
      message: `${unhandled} unhandled error(s) during the suite run (see ${junitFile})`,
    });
  const rel = (p: string) => join(basename(opts.outDir), basename(p));
  return {
    checks,
    evidence: [
      `vitest ${opts.files.join(', ')}: ${checks.filter((c) => c.outcome === 'passed').length} passed, ` +
        `${checks.filter((c) => c.outcome === 'failed' || c.outcome === 'error').length} failed, ` +
        `${checks.filter((c) => c.outcome === 'skipped').length} skipped`,
      `reports: ${rel(junitFile)}, ${rel(jsonFile)}`,
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
