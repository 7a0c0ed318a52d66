/**
 * The process runner: every subprocess of the harness goes through this interface, with an argument
 * array (never a shell string built from input) and a timeout. Tests replace it with a double.
 */
import { execa } from 'execa';

export interface RunOptions {
  /** kill the process after this many milliseconds (default 5 minutes) */
  timeoutMs?: number;
  /** text written to stdin */
  input?: string;
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** abort the process when this signal fires */
  signal?: AbortSignal;
  /** stream each output line as it arrives (progress of long commands) */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

export interface RunResult {
  command: string;
  args: readonly string[];
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

export interface ProcessRunner {
  /** Runs the command and resolves with its result whatever the exit code (timeouts set timedOut). */
  run(command: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>;
}

/** A command that failed, carrying what it ran, its exit code and the tail of its output (execa-style). */
export class CommandError extends Error {
  constructor(
    readonly doing: string,
    readonly result: RunResult,
    readonly hint?: string,
  ) {
    super(
      `${doing}: \`${formatCommand(result.command, result.args)}\` ${
        result.timedOut ? `timed out after ${result.durationMs}ms` : `exited ${result.exitCode}`
      }${tailOf(result.stderr || result.stdout)}${hint ? `\n${hint}` : ''}`,
    );
    this.name = 'CommandError';
  }
}

/**
 * One word as a POSIX shell reads it back: left bare when it holds only characters no shell treats
 * specially, else single-quoted (inside single quotes nothing is special; a quote itself becomes `'\''`).
 */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A command line a person can paste into a POSIX shell: every word through shellWord. */
export function formatCommand(command: string, args: readonly string[]): string {
  return [command, ...args].map(shellWord).join(' ');
}

export function tailOf(text: string, lines = 12): string {
  const t = text.trim();
  if (!t) return '';
  const all = t.split('\n');
  return `\n  ${all.slice(-lines).join('\n  ')}`;
}

/** Runs and throws a CommandError unless the exit code is 0. */
export async function runChecked(
  runner: ProcessRunner,
  doing: string,
  command: string,
  args: readonly string[],
  opts?: RunOptions & { hint?: string },
): Promise<RunResult> {
  const result = await runner.run(command, args, opts);
  if (result.exitCode !== 0 || result.timedOut) throw new CommandError(doing, result, opts?.hint);
  return result;
}

export const DEFAULT_TIMEOUT_MS = 5 * 60_000;

export class ExecaRunner implements ProcessRunner {
  async run(command: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const started = performance.now();
    const child = execa(command, [...args], {
      reject: false,
      timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      input: opts.input,
      env: opts.env,
      cwd: opts.cwd,
      cancelSignal: opts.signal,
      stripFinalNewline: false,
      forceKillAfterDelay: 2000,
      ...(opts.onLine
        ? {
            stdout: [
              function* (line: unknown) {
                opts.onLine?.(String(line), 'stdout');
                yield line;
              },
            ],
            stderr: [
              function* (line: unknown) {
                opts.onLine?.(String(line), 'stderr');
                yield line;
              },
            ],
          }
        : {}),
    });
    const r = await child;
    const notFound = (r as { code?: string }).code === 'ENOENT';
    return {
      command,
      args,
      exitCode: notFound ? 127 : (r.exitCode ?? (r.timedOut ? 124 : 1)),
      stdout: typeof r.stdout === 'string' ? r.stdout : String(r.stdout ?? ''),
      stderr: notFound
        ? `${command}: command not found`
        : typeof r.stderr === 'string'
          ? r.stderr
          : String(r.stderr ?? ''),
      timedOut: Boolean(r.timedOut),
      durationMs: performance.now() - started,
    };
  }
}

export const defaultRunner: ProcessRunner = new ExecaRunner();
