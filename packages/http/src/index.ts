// @iicp/http: the shared HTTP edge of every IICP app. See README.md.

export { INTERNAL_ERROR_MESSAGE, toErrorReply } from './error-envelope.ts';
export type { ErrorReply } from './error-envelope.ts';
export { DEFAULT_LATENCY_BUCKETS, UNMATCHED_ROUTE_LABEL, createHttpMetrics } from './metrics.ts';
export type { HttpMetrics, MetricsOptions } from './metrics.ts';
export { FastCounter, FastHistogram } from './fast-metrics.ts';
export type {
  FastCounterChild,
  FastCounterConfig,
  FastHistogramChild,
  FastHistogramConfig,
} from './fast-metrics.ts';
export { iicpHttp } from './plugin.ts';
export type { IicpHttpOptions, IicpHttpState, OpenApiOptions } from './plugin.ts';
export { REQUEST_ID_HEADER, genRequestId, isSaneRequestId } from './request-id.ts';
export { patternToRegExp } from './route-table.ts';
export { DEFAULT_BODY_LIMIT, SAFE_LOG_SERIALIZERS, createIicpServer } from './server.ts';
export type { CreateIicpServerOptions, IicpFastifyInstance, IicpLoggerOptions } from './server.ts';
export { DEFAULT_SHUTDOWN_TIMEOUT_MS, installGracefulShutdown } from './shutdown.ts';
export type {
  GracefulShutdown,
  GracefulShutdownOptions,
  ShutdownResult,
  SignalSource,
} from './shutdown.ts';
export {
  RESERVED_NAME_SUFFIXES,
  SsrfBlockedError,
  createSsrfGuard,
  isPublicAddress,
  nonPublicAddressReason,
  normalizeHost,
  reservedNameReason,
  splitHostPort,
  systemResolver,
} from './ssrf.ts';
export type {
  ConnectToMap,
  ResolvedAddress,
  Resolver,
  SsrfBlockReason,
  SsrfGuard,
  SsrfGuardOptions,
} from './ssrf.ts';
export {
  DEFAULT_CLIENT_TIMEOUT_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_MAX_RESPONSE_BYTES,
  HttpClientError,
  createHttpClient,
} from './client.ts';
export type {
  HttpClient,
  HttpClientErrorCode,
  HttpClientOptions,
  HttpRequestOptions,
  HttpResponse,
} from './client.ts';
// The fastify types apps need, so that no app imports fastify itself (DESIGN.md).
export type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
export { createUndiciTaskTransport } from './task-transport.ts';
export type {
  UndiciBodyReader,
  UndiciTaskTransport,
  UndiciTaskTransportOptions,
  UndiciTaskTransportRequest,
  UndiciTaskTransportResponse,
} from './task-transport.ts';
