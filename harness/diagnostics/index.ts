export { clientNodeDiagnosticsKube, RESOURCE_KINDS } from './client-node.js';
export {
  COMPONENTS,
  collectDiagnostics,
  type DiagnosticsContext,
  type DiagnosticsKube,
  type DiagnosticsResult,
  kubectlDiagnosticsKube,
  OBJECT_DUMPS,
  type PodRef,
} from './collect.js';
