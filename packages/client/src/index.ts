// @iicp/client: see README.md. The public API is a curated list of named exports.
// The default entry runs on global fetch only (Node and browsers): no node: imports, no
// @iicp/http, and of @iicp/crypto only the browser-safe subpath @iicp/crypto/cx
// (test/browser-safe.test.ts walks the import graph to keep it so).

export {
  LLM_CHAT_INTENT,
  LLM_COMPLETION_INTENT,
  LLM_EMBEDDING_INTENT,
  createClient,
} from './client.ts';
export type {
  CallConstraints,
  CallOptions,
  ChatCompletion,
  EmbeddingList,
  HelperOptions,
  IicpClient,
  IicpResponse,
  StreamDelta,
  TextCompletion,
} from './client.ts';
export {
  CONSUMER_TOKEN_REFRESH_MARGIN_MS,
  DISCOVER_MAX_CACHE_MS,
  discoverCacheMs,
} from './directory.ts';
export type { DiscoverOptions } from './directory.ts';
export { ALLOW_PLAINTEXT_OPTION, nodeCxKey } from './cx.ts';
export type { CxRecipient } from './cx.ts';
export { isIicpError } from './errors.ts';
export type { IicpError } from './errors.ts';
export {
  LIFECYCLE_EVENTS,
  SERVICE_LIFECYCLE_PROFILE,
  asLifecycleEvent,
  textOfChunk,
} from './lifecycle.ts';
export type { LifecycleEvent, LifecycleEventName } from './lifecycle.ts';
export {
  DEFAULT_ATTEMPT_GRACE_MS,
  DEFAULT_TIMEOUT_MS,
  ROUTING_PROFILES,
  SDK_TIMEOUT_MS_MAX,
} from './options.ts';
export type { ClientOptions, LocalFallback, NodeIdentity, RoutingProfile } from './options.ts';
export type { AttemptInfo } from './router.ts';
export { applyRoutingProfile, isKeyReady } from './routing-profile.ts';
export { readSse } from './sse.ts';
export type { SseMessage } from './sse.ts';
export { newTraceId, traceparentFor } from './trace.ts';
export { fetchTransport } from './transport.ts';
export type {
  BodyReader,
  TaskTransport,
  TaskTransportRequest,
  TaskTransportResponse,
} from './transport.ts';
// Re-exported so callers can test `instanceof` without depending on @iicp/wire directly.
export { IicpLocalError, IicpProtocolError } from '@iicp/wire';
