/**
 * The pipeline's progress interface (harness/pipeline/deps.ts: cellStart(cell, index, total),
 * phaseStart(cell, phase, waitingFor, timeoutMs), phaseEnd(cell, PhaseResult), cellEnd(CellResult),
 * log(cell, line)) over a ProgressSink. Declared here structurally, so this module needs nothing from the
 * pipeline and the pipeline can pass `pipelineProgress(createProgress(...))` where it wants its sink.
 */
import type { Cell } from '../config/cell.js';
import type { CellResult, PhaseName, PhaseResult } from '../model/results.js';
import type { LogLevel, ProgressSink } from './progress.js';

export interface PipelineProgress {
  cellStart(cell: Cell, index: number, total: number): void;
  phaseStart(cell: Cell, phase: PhaseName, waitingFor: string, timeoutMs: number): void;
  phaseEnd(cell: Cell, result: PhaseResult): void;
  cellEnd(result: CellResult): void;
  log(cell: Cell | undefined, line: string): void;
}

/** Lines that start with "warn:"/"error:"/"debug:" keep that level; anything else is info. */
function levelOf(line: string): { level: LogLevel; text: string } {
  const m = /^(debug|info|warn|warning|error):\s*/i.exec(line);
  if (!m) return { level: 'info', text: line };
  const word = m[1]!.toLowerCase();
  return { level: word === 'warning' ? 'warn' : (word as LogLevel), text: line.slice(m[0].length) };
}

export function pipelineProgress(sink: ProgressSink): PipelineProgress {
  return {
    cellStart: (cell) => sink.cellStart(cell),
    phaseStart: (cell, phase, waitingFor, timeoutMs) =>
      sink.phaseStart(cell.id, phase, { waitingFor, timeoutMs }),
    phaseEnd: (cell, r) => sink.phaseEnd(cell.id, r.name, r.outcome, r.durationMs, r.reason),
    cellEnd: (r) => sink.cellEnd(r.cell.id, r.outcome),
    log: (cell, line) => {
      const { level, text } = levelOf(line);
      sink.log(level, cell ? `${cell.id}: ${text}` : text);
    },
  };
}
