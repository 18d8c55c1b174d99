// @iicp/proxy: the consumer gateway. See README.md. Curated named exports.

export { PROXY_VERSION, buildApp, buildProxy } from './app.ts';
export type { ProxyAppOptions, ProxyHandle } from './app.ts';
export {
  DEFAULT_PROXY_HOST,
  DEFAULT_PROXY_PORT,
  DEFAULT_PROXY_SHUTDOWN_MS,
  ProxyConfigSchema,
  SETTINGS,
  resolveProxyConfig,
} from './config.ts';
export type { ProxyConfig, SettingSpec } from './config.ts';
export { IICP_ERROR_CODE_HEADER, errorBody, toProxyFailure } from './errors.ts';
export type { ClientProtocol, ProxyFailure } from './errors.ts';
export { GENERATED_BY_AI_HEADER, NODE_ID_HEADER, TASK_ID_HEADER } from './routes/common.ts';
export { OLLAMA_API_VERSION } from './routes/ollama.ts';
export { HELP_MAIN, HELP_SERVE, runCli } from './cli.ts';
export type { CliIo } from './cli.ts';
export { clientOptionsFrom, startProxy } from './main.ts';
export type { RunningProxy, StartProxyOptions } from './main.ts';
