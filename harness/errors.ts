/**
 * Errors that carry the exit code of the command-line contract (docs/contracts.md):
 * 0 passed/clean, 1 tests failed or leftovers found, 2 bad usage or config, 3 environment not usable.
 */
export const ExitCode = {
  Ok: 0,
  Failed: 1,
  Usage: 2,
  Environment: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Bad input: a flag, a config field, a model or policy document. Always names the field. */
export class UsageError extends Error {
  readonly exitCode = ExitCode.Usage;
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A config value that is not allowed: names the field, the bad value and what is allowed. */
export class ConfigError extends UsageError {
  constructor(
    field: string,
    readonly value: unknown,
    readonly allowed: string,
  ) {
    super(`${field}: ${formatValue(value)} is not allowed; ${allowed}`, field);
    this.name = 'ConfigError';
  }
}

/** The machine cannot run the requested work (no Docker daemon, no kind, …): says what is missing and how to get it. */
export class EnvironmentError extends Error {
  readonly exitCode = ExitCode.Environment;
  constructor(
    message: string,
    readonly missing: string[] = [],
  ) {
    super(message);
    this.name = 'EnvironmentError';
  }
}

/** A wait that ran out of time: says what it waited for, for how long, and what it saw last. */
export class WaitTimeoutError extends Error {
  constructor(
    readonly waitingFor: string,
    readonly timeoutMs: number,
    readonly lastSeen: string,
  ) {
    super(`timed out after ${formatDuration(timeoutMs)} waiting for ${waitingFor}; last seen: ${lastSeen}`);
    this.name = 'WaitTimeoutError';
  }
}

export function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${Number.isInteger(s) ? s : s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  const rest = Math.round(s - m * 60);
  return rest === 0 ? `${m}m` : `${m}m${rest}s`;
}

export function exitCodeOf(err: unknown): ExitCode {
  if (err instanceof UsageError) return ExitCode.Usage;
  if (err instanceof EnvironmentError) return ExitCode.Environment;
  return ExitCode.Failed;
}
