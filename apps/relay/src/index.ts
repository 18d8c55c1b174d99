// @iicp/relay: the relay app (iicp-dir.md §7). Curated named exports.

export { buildApp } from './app.ts';
export type { RelayApp, RelayAppOptions } from './app.ts';
export {
  DEFAULT_RELAY_HOST,
  DEFAULT_RELAY_PORT,
  RELAY_BIND_RATE_LIMIT,
  RELAY_BIND_RATE_LIMITED_REASON,
  RELAY_BIND_RATE_WINDOW_MS,
  RELAY_FORWARDED_ROUTES,
  RELAY_INTENT,
  RELAY_MAX_SESSIONS,
  RELAY_PULL_MAX_WAIT_MS,
  RELAY_QUEUE_FULL_REASON,
  RELAY_SESSION_CAP_REASON,
  RELAY_SESSION_LIVENESS_MS,
} from './constants.ts';
export type { RelayContext, RelaySettings } from './context.ts';
export { DEFAULT_RELAY_LIMITS, RelayHub } from './hub.ts';
export type { RelayLimits } from './hub.ts';
export {
  RESULT_STREAM_HEADERS,
  RelayBindRequestSchema,
  RelayBindResponseSchema,
  RelayPullQuerySchema,
  RelayPulledCallSchema,
  RelayResultRequestSchema,
  RelayUnbindRequestSchema,
  WorkerIdSchema,
} from './wire.ts';
export type {
  RelayBindRequest,
  RelayBindResponse,
  RelayPulledCall,
  RelayResultRequest,
  RelayUnbindRequest,
} from './wire.ts';
