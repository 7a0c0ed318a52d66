export { type PipelineProgress, pipelineProgress } from './pipeline.js';
export {
  createProgress,
  LineProgress,
  type LogLevel,
  type PhaseDetail,
  type ProgressSink,
  renderProgressTable,
  silentProgress,
  stripAnsi,
  type TtyOptions,
  TtyProgress,
  type Verbosity,
  verbosityFrom,
} from './progress.js';
