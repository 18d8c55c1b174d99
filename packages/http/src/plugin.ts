import swagger from '@fastify/swagger';
import { MEDIA_TYPES, iicpCborCodec, type Codec } from '@iicp/codec';
import { IicpProtocolError } from '@iicp/wire';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import { z } from 'zod';
import { toErrorReply } from './error-envelope.ts';
import {
  createHttpMetrics,
  UNMATCHED_ROUTE_LABEL,
  type HttpMetrics,
  type MetricsOptions,
} from './metrics.ts';
import { createResponseCodecMemo } from './negotiation.ts';
import { REQUEST_ID_HEADER } from './request-id.ts';
import { RouteTable } from './route-table.ts';

export interface OpenApiOptions {
  title: string;
  version: string;
  description?: string;
  /** Default `/openapi.json`. */
  path?: string;
}

export interface IicpHttpOptions {
  /**
   * CBOR bodies both ways (iicp-cbor-wire.md, Phase 3+). Default true; `false` makes
   * a JSON-only server, which answers CBOR requests with 415 `unsupported_media_type`
   * as §2.2 requires of servers without CBOR.
   */
  cbor?: boolean;
  /** Prometheus endpoint and request histogram; `false` turns both off. */
  metrics?: MetricsOptions | false;
  /** OpenAPI document from the routes' zod schemas; `false` serves none. */
  openapi?: OpenApiOptions | false;
  /** Send `Server-Timing: total;dur=<ms>`. Default true. */
  serverTiming?: boolean;
}

/** What the plugin exposes on the instance (`app.iicp`). */
export interface IicpHttpState {
  readonly metrics: HttpMetrics | undefined;
  /** True once close() has begun: new requests get 503 `service_unavailable`. */
  readonly closing: boolean;
  /**
   * Whether the reply to `request` is negotiated as JSON (not CBOR), exactly as the
   * plugin's own negotiation decides it: a route may then send JSON text it serialised
   * itself, with `content-type: application/json; charset=utf-8`, and get the same
   * bytes a returned object would. When false, return the object.
   */
  repliesWithJson(request: FastifyRequest): boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    iicp: IicpHttpState;
  }
}

/** Methods kept as metric labels; anything else is `OTHER`, so labels stay bounded. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** `String(status)` without a new string per reply. */
const STATUS_LABELS: string[] = [];
for (let s = 100; s < 600; s++) STATUS_LABELS[s] = String(s);
function statusLabel(status: number): string {
  return STATUS_LABELS[status] ?? String(status);
}

function responseSchemaFor(request: FastifyRequest, status: number): z.ZodType | undefined {
  const response = (
    request.routeOptions.schema as { response?: Record<string, unknown> } | undefined
  )?.response;
  if (!response) return undefined;
  const s = response[String(status)] ?? response[`${String(status)[0]}xx`] ?? response.default;
  return s instanceof z.ZodType ? s : undefined;
}

/** Encode a reply as CBOR, through the route's zod response schema when it has one. */
function binarySerializer(codec: Codec, request: FastifyRequest, reply: FastifyReply) {
  return (payload: unknown): Buffer => {
    let value = payload;
    const schema = responseSchemaFor(request, reply.statusCode);
    if (schema) {
      const r = z.safeEncode(schema, payload as never);
      if (!r.success) throw new Error('response does not match its schema');
      value = r.data;
    }
    const bytes = codec.encode(value);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

/**
 * The IICP HTTP edge as a fastify plugin. Register it first on the root instance
 * (it is not encapsulated) so that it sees every route: zod validation and
 * serialisation, JSON and CBOR bodies, the error envelope for every failure (404,
 * 405, 413, 415, 422, 500), `X-Request-Id` echo, `Server-Timing`, `/metrics` and
 * `/openapi.json`.
 */
async function iicpHttpPlugin(app: FastifyInstance, opts: IicpHttpOptions = {}): Promise<void> {
  const state = { metrics: undefined as HttpMetrics | undefined, closing: false };
  const cbor = opts.cbor !== false;
  const negotiate = createResponseCodecMemo(cbor);
  /** The reply codec for a request: the Accept header, then the request's own body type. */
  const responseCodec = (request: FastifyRequest): Codec =>
    negotiate(request.headers['content-type'], request.headers.accept);
  app.decorate('iicp', {
    get metrics() {
      return state.metrics;
    },
    get closing() {
      return state.closing;
    },
    repliesWithJson(request: FastifyRequest): boolean {
      if (!cbor) return true;
      try {
        return !responseCodec(request).binary;
      } catch {
        // Let the ordinary path meet (and report) whatever the negotiation refuses.
        return false;
      }
    },
  } satisfies IicpHttpState);

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  // Bodies: JSON (secure-json-parse refuses __proto__ / constructor poisoning) and
  // CBOR; nothing else, so text/plain, forms and the rest get 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    ['application/json', 'application/iicp+json'],
    { parseAs: 'string' },
    app.getDefaultJsonParser('error', 'error'),
  );
  const bodyLimit = app.initialConfig.bodyLimit;
  app.addContentTypeParser(
    [MEDIA_TYPES.iicpCbor, MEDIA_TYPES.cbor],
    { parseAs: 'buffer' },
    (_req, body, done) => {
      if (!cbor) {
        done(new IicpProtocolError('unsupported_media_type', 'CBOR encoding not supported'));
        return;
      }
      const bytes = body as Buffer;
      if (bytes.length === 0) {
        done(
          new IicpProtocolError('validation_error', 'request body is empty', {
            status: 400,
            details: { field: '(body)' },
          }),
        );
        return;
      }
      try {
        // Both CBOR spellings decode alike (strict deterministic CBOR).
        done(null, iicpCborCodec.decode(bytes, bodyLimit ? { maxBytes: bodyLimit } : {}));
      } catch (err) {
        done(err as Error);
      }
    },
  );

  const routes = new RouteTable();
  app.addHook('onRoute', (route) => {
    routes.add(route.url, route.method);
  });

  app.addHook('preClose', async () => {
    state.closing = true;
  });

  // The per-request hooks take callbacks, not promises: an async hook costs a promise
  // and a microtask turn on every request (a few percent of a small route's time).
  app.addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    if (state.closing) {
      done(new IicpProtocolError('service_unavailable', 'server is shutting down'));
      return;
    }
    done();
  });

  app.addHook('preSerialization', (request, reply, payload, done) => {
    if (cbor) {
      const codec = responseCodec(request);
      if (codec.binary) {
        reply.header('content-type', codec.mediaType);
        // fastify types the serializer as returning a string; a Buffer is sent as is.
        reply.serializer(
          binarySerializer(codec, request, reply) as unknown as (p: unknown) => string,
        );
      }
    }
    done(null, payload);
  });

  const serverTiming = opts.serverTiming !== false;
  app.addHook('onSend', (_request, reply, payload, done) => {
    // While draining, close kept-alive connections after their last reply: node's
    // server.close() reaps idle sockets only once, and busy ones would linger.
    if (state.closing) reply.header('connection', 'close');
    // Errors raised before onRequest (a malformed URL) skip that hook.
    if (!reply.hasHeader(REQUEST_ID_HEADER)) reply.header(REQUEST_ID_HEADER, reply.request.id);
    if (serverTiming) reply.header('server-timing', `total;dur=${reply.elapsedTime.toFixed(3)}`);
    done(null, payload);
  });

  app.setErrorHandler((err, request, reply) => {
    const r = toErrorReply(err);
    if (r.serverFault) request.log.error({ err }, 'request failed');
    else request.log.info({ code: r.error.code, status: r.status }, 'request rejected');
    // A handler may have set a streaming or text type before it threw.
    reply.removeHeader('content-type');
    reply.removeHeader('content-length');
    reply.serializer(null as never);
    return reply.code(r.status).send(r.body);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?', 1)[0] ?? '/';
    const allowed = routes.allowedMethods(path);
    if (allowed.length > 0 && !allowed.includes(request.method)) {
      reply.header('allow', allowed.join(', '));
      throw new IicpProtocolError(
        'method_not_allowed',
        `method ${request.method} not allowed here`,
        {
          details: { allow: allowed },
        },
      );
    }
    throw new IicpProtocolError('not_found', 'no such route');
  });

  if (opts.metrics !== false) {
    const metricsOpts = opts.metrics ?? {};
    const metrics = createHttpMetrics(metricsOpts);
    state.metrics = metrics;
    const duration = metrics.requestDuration;
    app.addHook('onResponse', (request, reply, done) => {
      // A cached child per (method, route, status): no label object or hash per request.
      duration
        .labels(
          KNOWN_METHODS.has(request.method) ? request.method : 'OTHER',
          request.routeOptions.url ?? UNMATCHED_ROUTE_LABEL,
          statusLabel(reply.statusCode),
        )
        .observe(reply.elapsedTime / 1000);
      done();
    });
    app.get(metricsOpts.path ?? '/metrics', { schema: { hide: true } }, async (_req, reply) => {
      const text = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    });
  }

  if (opts.openapi !== false) {
    const o = opts.openapi ?? { title: 'IICP', version: '0.0.0' };
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: o.title,
          version: o.version,
          ...(o.description ? { description: o.description } : {}),
        },
      },
      transform: jsonSchemaTransform,
      transformObject: jsonSchemaTransformObject,
    });
    app.get(o.path ?? '/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  }
}

// Not encapsulated (what fastify-plugin does): the hooks, parsers and handlers must
// apply to the routes of the app that registers it, not to a child context.
Object.assign(iicpHttpPlugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'iicp-http',
});

export const iicpHttp = iicpHttpPlugin;
