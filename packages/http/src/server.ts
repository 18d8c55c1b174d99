import type { Socket } from 'node:net';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type RawServerDefault,
} from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DestinationStream, LoggerOptions } from 'pino';
import { iicpHttp, type IicpHttpOptions } from './plugin.ts';
import { toErrorReply } from './error-envelope.ts';
import { genRequestId, REQUEST_ID_HEADER } from './request-id.ts';

/** Default request body cap: 1 MiB. Apps raise it per route where the spec allows more. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

export type IicpFastifyInstance = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>;

export interface IicpLoggerOptions {
  level?: LoggerOptions['level'];
  /** Where JSON log lines go (tests pass a capture stream). Default stdout. */
  stream?: DestinationStream;
}

export interface CreateIicpServerOptions extends IicpHttpOptions {
  /** `false` (default in tests) for no logging, or pino level and stream. */
  logger?: boolean | IicpLoggerOptions;
  bodyLimit?: number;
  /** Max request header bytes (node's `maxHeaderSize`; default node's 16 KiB). */
  maxHeaderSize?: number;
  /** Trust `X-Forwarded-*` from a proxy in front (fastify `trustProxy`). */
  trustProxy?: boolean | string | string[];
  /** Keep-alive idle timeout of the listener, ms. */
  keepAliveTimeout?: number;
}

/**
 * Log serialisers that carry no bodies, no headers (so no Authorization, consumer
 * token or node token) and no query string (it can carry tokens): only method,
 * path and peer for requests, status for replies.
 */
export const SAFE_LOG_SERIALIZERS = {
  req(req: { method?: string; url?: string; ip?: string }) {
    return {
      method: req.method,
      url: typeof req.url === 'string' ? req.url.split('?', 1)[0] : undefined,
      remoteAddress: req.ip,
    };
  },
  res(res: { statusCode?: number }) {
    return { statusCode: res.statusCode };
  },
};

const CLIENT_ERROR_BODIES: Record<string, { status: number; line: string; body: string }> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    line: 'Request Header Fields Too Large',
    body: '{"error":{"code":"validation_error","message":"request headers too large"}}',
  },
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    line: 'Request Timeout',
    body: '{"error":{"code":"validation_error","message":"request not received in time"}}',
  },
};
const MALFORMED = {
  status: 400,
  line: 'Bad Request',
  body: '{"error":{"code":"validation_error","message":"malformed HTTP request"}}',
};

/**
 * Answer requests node's HTTP parser rejects before fastify sees them, in the
 * envelope. The status is the transport's (400/408/431) since the HTTP message
 * itself is broken; the code is `validation_error`.
 */
function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const r = CLIENT_ERROR_BODIES[err.code ?? ''] ?? MALFORMED;
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${r.status} ${r.line}\r\nContent-Length: ${Buffer.byteLength(r.body)}\r\n` +
        `Content-Type: application/json\r\nConnection: close\r\n\r\n${r.body}`,
    );
  }
  socket.destroy();
}

function loggerConfig(logger: CreateIicpServerOptions['logger']): false | Record<string, unknown> {
  if (!logger) return false;
  const o = logger === true ? {} : logger;
  return {
    level: o.level ?? 'info',
    ...(o.stream ? { stream: o.stream } : {}),
    serializers: SAFE_LOG_SERIALIZERS,
  };
}

/**
 * An unstarted Fastify instance with the zod type provider and the IICP plugin
 * loaded: what every app's `buildApp()` starts from. Async because the plugin must
 * be loaded before the first route is declared (its onRoute hooks feed the OpenAPI
 * document and the 405 table).
 */
export async function createIicpServer(
  opts: CreateIicpServerOptions = {},
): Promise<IicpFastifyInstance> {
  const app = Fastify({
    logger: loggerConfig(opts.logger),
    bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT,
    genReqId: genRequestId,
    requestIdHeader: false,
    // The plugin answers 503 in the envelope while closing; fastify's own is not.
    return503OnClosing: false,
    clientErrorHandler,
    // Router-level failures (malformed URL, overlong parameter) bypass hooks and the
    // error handler; answer them in the envelope too.
    frameworkErrors(err, request, reply) {
      const r = toErrorReply(err);
      void (reply as unknown as FastifyReply)
        .code(r.status)
        .header(REQUEST_ID_HEADER, request.id)
        .header('content-type', 'application/json; charset=utf-8')
        .send(JSON.stringify(r.body));
    },
    ...(opts.maxHeaderSize !== undefined ? { http: { maxHeaderSize: opts.maxHeaderSize } } : {}),
    ...(opts.trustProxy !== undefined ? { trustProxy: opts.trustProxy } : {}),
    ...(opts.keepAliveTimeout !== undefined ? { keepAliveTimeout: opts.keepAliveTimeout } : {}),
  }).withTypeProvider<ZodTypeProvider>();
  const {
    logger: _l,
    bodyLimit: _b,
    maxHeaderSize: _m,
    trustProxy: _t,
    keepAliveTimeout: _k,
    ...plugin
  } = opts;
  await app.register(iicpHttp, plugin);
  return app;
}
