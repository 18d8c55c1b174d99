// @iicp/node: the provider runtime. Public API (used by tools/e2e and embedders).

export { buildApp, DEFAULT_MAX_CONCURRENT, nodeRuntime } from './app.ts';
export type { NodeAppOptions, NodeRuntime, OpenMeshOptions } from './app.ts';
export { AUTH_MODES, authorizeTask } from './auth.ts';
export type { AuthMode, Principal } from './auth.ts';
export { Admission, DEFAULT_QOS } from './admission.ts';
export { createBackend, createBackendHttpClient, DEFAULT_BACKEND_URLS } from './backends/index.ts';
export type { BackendOptions } from './backends/index.ts';
export {
  BACKEND_TYPES,
  BackendError,
  OPERATION_INTENTS,
  operationForIntent,
} from './backends/types.ts';
export type {
  Backend,
  BackendOperation,
  BackendResult,
  BackendType,
  StreamSummary,
} from './backends/types.ts';
export {
  DEFAULT_NODE_HOST,
  DEFAULT_NODE_PORT,
  NodeConfigSchema,
  iicpHome,
  resolveConfig,
} from './config.ts';
export type { NodeConfig } from './config.ts';
export { DirectoryClient } from './directory/client.ts';
export { NodeLifecycle } from './directory/lifecycle.ts';
export { NodeStateStore, PersistedNodeStateSchema } from './directory/store.ts';
export { LIFECYCLE_PROFILE, SUPPORTED_PROFILES } from './lifecycle.ts';
export type { LifecycleEvent } from './lifecycle.ts';
export { startNode } from './main.ts';
export type { RunningNode } from './main.ts';
export { runCli } from './cli.ts';
export { NodeRuntimeState } from './state.ts';
