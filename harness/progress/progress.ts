/**
 * Live progress of a run. The pipeline reports cell and phase transitions to a ProgressSink; on a terminal
 * the sink redraws a table of cells × phases with elapsed times (after kind's status lines, which start a
 * step and end it ✓ or ✗), and in CI (not a TTY) it prints one line per phase start and end, with the
 * duration, so a log reads top to bottom.
 */
import type { Cell } from '../config/cell.js';
import { formatDuration } from '../errors.js';
import { type Outcome, PHASES, type PhaseName } from '../model/results.js';

export interface PhaseDetail {
  waitingFor?: string;
  timeoutMs?: number;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
/** quiet: only cell results, failures and warnings; normal: phases too; verbose: debug logs as well. */
export type Verbosity = 'quiet' | 'normal' | 'verbose';

export interface ProgressSink {
  cellStart(cell: Cell): void;
  /** detail: what the phase waits for and its timeout, shown on the status line */
  phaseStart(cellId: string, phase: PhaseName, detail?: PhaseDetail): void;
  phaseEnd(cellId: string, phase: PhaseName, outcome: Outcome, durationMs: number, reason?: string): void;
  cellEnd(cellId: string, outcome: Outcome): void;
  log(level: LogLevel, text: string): void;
  /** stops timers and leaves the final state on screen; safe to call twice */
  close?(): void;
}

/** `--quiet` / `--verbose` to a verbosity; both at once is a usage error for the caller to raise. */
export function verbosityFrom(flags: { quiet?: boolean; verbose?: boolean }): Verbosity {
  return flags.quiet ? 'quiet' : flags.verbose ? 'verbose' : 'normal';
}

const MARK: Record<Outcome, string> = { passed: '✓', failed: '✗', error: '!', skipped: '-', 'not-run': '·' };

function shows(level: LogLevel, verbosity: Verbosity): boolean {
  if (level === 'debug') return verbosity === 'verbose';
  if (level === 'info') return verbosity !== 'quiet';
  return true;
}

const oneLine = (t: string) => t.replace(/\s*\r?\n\s*/g, ' ⏎ ');

/** CI mode: one line per event, each with a timestamp, nothing redrawn. */
export class LineProgress implements ProgressSink {
  private readonly cellStarted = new Map<string, number>();
  /** per cell: the reason of the last phase skipped or not run, and how many after it said the same */
  private readonly repeated = new Map<string, { reason: string; outcome: Outcome; count: number }>();
  constructor(
    private readonly write: (line: string) => void,
    private readonly verbosity: Verbosity = 'normal',
    private readonly now: () => number = Date.now,
  ) {}

  private stamp(): string {
    return new Date(this.now()).toISOString().slice(11, 19);
  }

  cellStart(cell: Cell): void {
    this.cellStarted.set(cell.id, this.now());
    if (this.verbosity !== 'quiet')
      this.write(
        `${this.stamp()} ${cell.id} ▶ cell (${cell.install}, ${cell.encapsulation}, Calico ${cell.calicoVersion})`,
      );
  }
  phaseStart(cellId: string, phase: PhaseName, detail?: PhaseDetail): void {
    if (this.verbosity === 'quiet') return;
    this.flushRepeated(cellId);
    const waits =
      detail?.waitingFor && detail.timeoutMs
        ? ` (up to ${formatDuration(detail.timeoutMs)} for ${detail.waitingFor})`
        : detail?.waitingFor
          ? ` (${detail.waitingFor})`
          : '';
    this.write(`${this.stamp()} ${cellId} ▶ ${phase}${waits}`);
  }
  phaseEnd(cellId: string, phase: PhaseName, outcome: Outcome, durationMs: number, reason?: string): void {
    const bad = outcome === 'failed' || outcome === 'error';
    if (this.verbosity === 'quiet' && !bad) return;
    // a skipped cell (or what a failure leaves not run) gives every later phase the same reason: say it once
    const last = this.repeated.get(cellId);
    if ((outcome === 'skipped' || outcome === 'not-run') && reason !== undefined && durationMs === 0) {
      if (last && last.reason === reason && last.outcome === outcome) {
        last.count++;
        return;
      }
      this.flushRepeated(cellId);
      this.repeated.set(cellId, { reason, outcome, count: 0 });
    } else this.flushRepeated(cellId);
    this.write(
      `${this.stamp()} ${cellId} ${MARK[outcome]} ${phase} ${outcome} in ${formatDuration(durationMs)}${reason ? `: ${oneLine(reason)}` : ''}`,
    );
  }
  private flushRepeated(cellId: string): void {
    const last = this.repeated.get(cellId);
    this.repeated.delete(cellId);
    if (last && last.count > 0)
      this.write(
        `${this.stamp()} ${cellId} ${MARK[last.outcome]} ${last.count} more phase${last.count === 1 ? '' : 's'} ${last.outcome} for the same reason`,
      );
  }
  cellEnd(cellId: string, outcome: Outcome): void {
    if (this.verbosity !== 'quiet') this.flushRepeated(cellId);
    this.repeated.delete(cellId);
    const started = this.cellStarted.get(cellId);
    const took = started === undefined ? '' : ` in ${formatDuration(this.now() - started)}`;
    this.write(`${this.stamp()} ${cellId} ${MARK[outcome]} cell ${outcome}${took}`);
  }
  log(level: LogLevel, text: string): void {
    if (shows(level, this.verbosity)) this.write(`${this.stamp()} ${level.padEnd(5)} ${oneLine(text)}`);
  }
  close(): void {}
}

interface PhaseState {
  phase: PhaseName;
  startedAt: number;
  detail?: PhaseDetail;
  outcome?: Outcome;
  durationMs?: number;
}
interface CellState {
  id: string;
  startedAt: number;
  outcome?: Outcome;
  endedAt?: number;
  phases: PhaseState[];
}

export interface TtyOptions {
  verbosity?: Verbosity;
  now?: () => number;
  /** least time between two redraws (default 100 ms) */
  throttleMs?: number;
  /** redraw this often while anything runs so elapsed times move (default 1000 ms; 0 = never) */
  tickMs?: number;
  /** terminal width; rows are cut to it so a redraw never wraps (wrapped lines break cursor-up) */
  columns?: () => number;
}

const ANSI = {
  up: (n: number) => (n > 0 ? `\x1b[${n}A` : ''),
  clearDown: '\x1b[0J',
  clearLine: '\x1b[2K',
  green: (t: string) => `\x1b[32m${t}\x1b[39m`,
  red: (t: string) => `\x1b[31m${t}\x1b[39m`,
  yellow: (t: string) => `\x1b[33m${t}\x1b[39m`,
  dim: (t: string) => `\x1b[2m${t}\x1b[22m`,
  bold: (t: string) => `\x1b[1m${t}\x1b[22m`,
};

function colour(outcome: Outcome | undefined, text: string): string {
  if (outcome === undefined) return ANSI.yellow(text);
  if (outcome === 'passed') return ANSI.green(text);
  if (outcome === 'failed' || outcome === 'error') return ANSI.red(text);
  return ANSI.dim(text);
}

const ANSI_RE = /\x1b\[[0-9;]*[A-Za-z]/g;
export const stripAnsi = (t: string) => t.replace(ANSI_RE, '');

/** Cuts a line with ANSI colours to `width` visible characters. */
function fitWidth(line: string, width: number): string {
  if (stripAnsi(line).length <= width) return line;
  let visible = 0;
  let out = '';
  for (let i = 0; i < line.length; ) {
    const m = /^\x1b\[[0-9;]*[A-Za-z]/.exec(line.slice(i));
    if (m) {
      out += m[0];
      i += m[0].length;
      continue;
    }
    if (visible >= width - 1) break;
    out += line[i];
    visible++;
    i++;
  }
  return `${out}…\x1b[0m`;
}

/** Short column heads so a dozen phases fit a terminal line. */
const PHASE_HEAD: Record<PhaseName, string> = {
  preflight: 'prefl',
  'create-cluster': 'create',
  baseline: 'base',
  install: 'install',
  verify: 'verify',
  connectivity: 'connect',
  policy: 'policy',
  upgrade: 'upgrade',
  uninstall: 'uninst',
  audit: 'audit',
  'complete-uninstall': 'clean',
  'final-audit': 'audit2',
  teardown: 'tear',
};
const COL = 8;

/**
 * The live table as lines: a header of the phases any cell has reached, then one row per cell with each
 * phase's mark and duration (the running one with its elapsed time), the cell's elapsed time, and what the
 * running phase waits for. Pure, so it is tested without a terminal.
 */
export function renderProgressTable(cells: readonly CellState[], now: number, width = 120): string[] {
  const idWidth = Math.min(40, Math.max(4, ...cells.map((c) => c.id.length)));
  const seen = new Set(cells.flatMap((c) => c.phases.map((p) => p.phase)));
  const columns = PHASES.filter((p) => seen.has(p));
  const head = `${'cell'.padEnd(idWidth)} ${'time'.padStart(6)}  ${columns.map((p) => PHASE_HEAD[p].padEnd(COL)).join('')}`;
  const lines = [fitWidth(ANSI.dim(head.trimEnd()), width)];
  for (const c of cells) {
    const id = c.id.length > idWidth ? `${c.id.slice(0, idWidth - 1)}…` : c.id.padEnd(idWidth);
    const elapsed = formatDuration((c.endedAt ?? now) - c.startedAt).padStart(6);
    const cols = columns.map((phase) => {
      const p = [...c.phases].reverse().find((x) => x.phase === phase);
      if (!p) return ' '.repeat(COL);
      if (p.outcome === undefined) return ANSI.yellow(`… ${formatDuration(now - p.startedAt)}`.padEnd(COL));
      const text =
        p.outcome === 'not-run' ? MARK[p.outcome] : `${MARK[p.outcome]} ${formatDuration(p.durationMs ?? 0)}`;
      return colour(p.outcome, text.padEnd(COL));
    });
    let status = '';
    if (c.outcome) status = colour(c.outcome, `${MARK[c.outcome]} ${c.outcome}`);
    else {
      const running = [...c.phases].reverse().find((p) => p.outcome === undefined);
      if (running?.detail?.waitingFor)
        status = ANSI.dim(
          `${running.detail.waitingFor}${running.detail.timeoutMs ? ` (≤ ${formatDuration(running.detail.timeoutMs)})` : ''}`,
        );
      else if (!running && c.phases.length === 0) status = ANSI.dim('starting');
    }
    lines.push(fitWidth(`${ANSI.bold(id)} ${elapsed}  ${cols.join('')}${status}`.trimEnd(), width));
  }
  const done = cells.filter((c) => c.outcome).length;
  const failed = cells.filter((c) => c.outcome === 'failed' || c.outcome === 'error').length;
  lines.push(
    ANSI.dim(`${done}/${cells.length} cells done${failed ? `, ${failed} failed` : ''}`) +
      (failed ? ANSI.red(' ✗') : ''),
  );
  return lines;
}

/** Terminal mode: redraws the table in place (ANSI cursor-up + clear), at most once per throttle interval. */
export class TtyProgress implements ProgressSink {
  private readonly cells: CellState[] = [];
  private drawn = 0;
  private lastDraw = Number.NEGATIVE_INFINITY;
  private pending: ReturnType<typeof setTimeout> | undefined;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private readonly verbosity: Verbosity;
  private readonly now: () => number;
  private readonly throttleMs: number;
  private readonly columns: () => number;
  private closed = false;

  constructor(
    private readonly write: (text: string) => void,
    opts: TtyOptions = {},
  ) {
    this.verbosity = opts.verbosity ?? 'normal';
    this.now = opts.now ?? Date.now;
    this.throttleMs = opts.throttleMs ?? 100;
    this.columns = opts.columns ?? (() => 120);
    const tick = opts.tickMs ?? 1000;
    if (tick > 0) {
      this.ticker = setInterval(() => this.schedule(), tick);
      this.ticker.unref?.();
    }
  }

  private cell(id: string): CellState {
    let c = this.cells.find((x) => x.id === id);
    if (!c) {
      c = { id, startedAt: this.now(), phases: [] };
      this.cells.push(c);
    }
    return c;
  }

  /** Draws now if the last draw is old enough, otherwise once the interval has passed. */
  private schedule(): void {
    if (this.closed) return;
    const wait = this.lastDraw + this.throttleMs - this.now();
    if (wait <= 0) {
      this.draw();
      return;
    }
    if (!this.pending) {
      this.pending = setTimeout(() => {
        this.pending = undefined;
        this.draw();
      }, wait);
      this.pending.unref?.();
    }
  }

  private erase(): string {
    return this.drawn ? `${ANSI.up(this.drawn)}\r${ANSI.clearDown}` : '';
  }

  /** Redraws the whole table in one write (no flicker), with `above` printed where the table was. */
  draw(above = ''): void {
    const lines = renderProgressTable(this.cells, this.now(), this.columns());
    this.write(`${this.erase()}${above}${lines.join('\n')}\n`);
    this.drawn = lines.length;
    this.lastDraw = this.now();
  }

  cellStart(cell: Cell): void {
    const c = this.cell(cell.id);
    c.startedAt = this.now();
    this.schedule();
  }
  phaseStart(cellId: string, phase: PhaseName, detail?: PhaseDetail): void {
    this.cell(cellId).phases.push({ phase, startedAt: this.now(), ...(detail ? { detail } : {}) });
    this.schedule();
  }
  phaseEnd(cellId: string, phase: PhaseName, outcome: Outcome, durationMs: number, reason?: string): void {
    const c = this.cell(cellId);
    let p = [...c.phases].reverse().find((x) => x.phase === phase && x.outcome === undefined);
    if (!p) {
      p = { phase, startedAt: this.now() - durationMs };
      c.phases.push(p);
    }
    p.outcome = outcome;
    p.durationMs = durationMs;
    // A failure's reason must outlive the redraws: print it above the table.
    if ((outcome === 'failed' || outcome === 'error') && reason)
      this.log('error', `${cellId} ${phase} ${outcome}: ${reason}`);
    else this.schedule();
  }
  cellEnd(cellId: string, outcome: Outcome): void {
    const c = this.cell(cellId);
    c.outcome = outcome;
    c.endedAt = this.now();
    this.schedule();
  }
  /** Log lines scroll above the table: erase it, print the line, draw it again. */
  log(level: LogLevel, text: string): void {
    if (!shows(level, this.verbosity) || this.closed) return;
    const tag =
      level === 'error' ? ANSI.red('error') : level === 'warn' ? ANSI.yellow('warn ') : ANSI.dim(level);
    this.draw(`${tag} ${text}\n`);
  }
  close(): void {
    if (this.closed) return;
    if (this.pending) clearTimeout(this.pending);
    if (this.ticker) clearInterval(this.ticker);
    this.draw();
    this.closed = true;
  }
}

/** Discards everything (library use, tests). */
export const silentProgress: ProgressSink = {
  cellStart() {},
  phaseStart() {},
  phaseEnd() {},
  cellEnd() {},
  log() {},
};

/** The sink for a command: the live table on a terminal, lines otherwise (CI, pipes, files). */
export function createProgress(io: {
  isTTY: boolean;
  /** writes text as is (the TTY view needs writes without an added newline) */
  write: (text: string) => void;
  verbosity?: Verbosity;
  env?: NodeJS.ProcessEnv;
  columns?: () => number;
}): ProgressSink {
  const verbosity = io.verbosity ?? 'normal';
  // CI=true with a pseudo-terminal (some runners) still wants plain lines; TERM=dumb cannot move the cursor.
  const live = io.isTTY && io.env?.CI !== 'true' && io.env?.TERM !== 'dumb' && verbosity !== 'quiet';
  if (live) return new TtyProgress(io.write, { verbosity, ...(io.columns ? { columns: io.columns } : {}) });
  return new LineProgress((line) => io.write(`${line}\n`), verbosity);
}
