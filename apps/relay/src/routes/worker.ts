/**
 * The HTTP long-poll worker transport (iicp-dir.md §7.1): bind, pull, result (whole
 * or chunked JSON, D-044), result/stream (streamed upload) and unbind.
 */
import { once } from 'node:events';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyReply, FastifyRequest } from '@iicp/http';
import type { IicpFastifyInstance } from '@iicp/http';
import { IicpProtocolError } from '@iicp/wire';
import { z } from 'zod';
import type { RelayContext } from '../context.ts';
import { forwardableResponseHeaders } from '../headers.ts';
import type { PullWaiter, RelayCall, Session } from '../hub.ts';
import type { BindResult } from '../metrics.ts';
import {
  RESULT_STREAM_HEADERS,
  RelayBindRequestSchema,
  RelayBindResponseSchema,
  RelayHeadersSchema,
  RelayPullQuerySchema,
  RelayResultQuerySchema,
  RelayResultRequestSchema,
  RelayUnbindRequestSchema,
  RequestIdSchema,
  SessionIdSchema,
} from '../wire.ts';

const EMPTY = Buffer.alloc(0);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function bindResultOf(err: unknown): BindResult {
  if (!(err instanceof IicpProtocolError)) return 'invalid';
  if (err.code === 'conflict') return 'conflict';
  if (err.code === 'unauthorized') return 'ticket_refused';
  if (err.code === 'service_unavailable') return 'unavailable';
  if (err.code === 'IICP-E039') return err.status === 429 ? 'rate_limited' : 'session_cap';
  return 'invalid';
}

/** The session credential: `Authorization: Bearer <session_id>` or `?session_id=`. */
function sessionIdOf(request: FastifyRequest, fromQuery: string | undefined): string | undefined {
  const auth = request.headers.authorization;
  if (typeof auth === 'string' && /^Bearer\s+/i.test(auth)) {
    const v = auth.replace(/^Bearer\s+/i, '').trim();
    return SessionIdSchema.safeParse(v).success ? v : undefined;
  }
  return fromQuery;
}

function decodeBase64(s: string | undefined): Buffer {
  if (!s) return EMPTY;
  if (s.length % 4 !== 0 || !BASE64.test(s)) {
    throw new IicpProtocolError('validation_error', 'body_b64 is not valid base64', {
      details: { field: 'body_b64' },
    });
  }
  return Buffer.from(s, 'base64');
}

/** Resolve once the stream drains or closes (a destroyed consumer stream never drains). */
async function writeWithBackpressure(stream: Writable, chunk: Buffer): Promise<void> {
  if (chunk.length === 0 || stream.destroyed) return;
  if (stream.write(chunk)) return;
  await Promise.race([once(stream, 'drain'), once(stream, 'close')]).catch(() => {});
}

export function workerRoutes(app: IicpFastifyInstance, ctx: RelayContext): void {
  const { hub, metrics, settings } = ctx;

  /** Added latency: arrival to hand-over, plus result arrival to reply (seconds). */
  const recordLatency = (call: RelayCall, resultAt: bigint) => {
    const handover = call.deliveredAt > 0n ? call.deliveredAt - call.receivedAt : 0n;
    const tail = process.hrtime.bigint() - resultAt;
    metrics.addedLatency(Number(handover + tail) / 1e9);
  };

  app.post(
    '/v1/relay/bind',
    {
      schema: { body: RelayBindRequestSchema, response: { 201: RelayBindResponseSchema } },
    },
    async (request, reply) => {
      let session: Session;
      try {
        session = hub.bind({
          workerId: request.body.worker_id,
          ticket: request.body.ticket,
          principal: request.ip,
        });
      } catch (err) {
        metrics.bind(bindResultOf(err));
        throw err;
      }
      metrics.bind('ok');
      request.log.info({ worker_id: session.workerId }, 'relay session bound');
      reply.code(201);
      return {
        session_id: session.sessionId,
        worker_id: session.workerId,
        relay_endpoint: `${ctx.publicEndpoint()}/v1/relay-for/${session.workerId}`,
        liveness_ms: hub.limits.livenessMs,
        pull_max_wait_ms: settings.pullMaxWaitMs,
      };
    },
  );

  /**
   * Park a long-poll on `reply`: it answers 200 with the next call for the session, or
   * 204 when none came within `waitMs` (or, with `errors`, the error that ended the
   * session). Returns the reply for the handler to return.
   */
  const park = (
    request: FastifyRequest,
    reply: FastifyReply,
    session: Session,
    waitMs: number,
    errors: boolean,
  ): FastifyReply => {
    let settled = false;
    const socket = request.raw.socket;
    const waiter: PullWaiter = {
      deliver(call) {
        if (settled || socket.destroyed) return false;
        settled = true;
        metrics.bytesToWorker.value += Buffer.byteLength(call.body_b64, 'base64');
        void reply
          .code(200)
          .header('content-type', 'application/json; charset=utf-8')
          .header('cache-control', 'no-store')
          .send(JSON.stringify(call));
        return true;
      },
      end(err) {
        if (settled) return;
        settled = true;
        if (err && errors) void reply.send(err);
        else void reply.code(204).header('cache-control', 'no-store').send();
      },
    };
    const cancel = hub.pull(session, waiter, waitMs);
    if (!settled) {
      reply.raw.once('close', () => {
        if (!settled) {
          settled = true;
          cancel();
        }
      });
    }
    return reply;
  };

  app.get(
    '/v1/relay/pull',
    { schema: { querystring: RelayPullQuerySchema } },
    async (request, reply) => {
      const session = hub.sessionFor(sessionIdOf(request, request.query.session_id));
      const waitMs = Math.min(
        request.query.wait_ms ?? settings.pullMaxWaitMs,
        settings.pullMaxWaitMs,
      );
      return park(request, reply, session, waitMs, true);
    },
  );

  app.post(
    '/v1/relay/result',
    {
      schema: { body: RelayResultRequestSchema, querystring: RelayResultQuerySchema },
      // base64 grows bytes by 4/3; leave room for the JSON around it.
      bodyLimit: Math.ceil((settings.maxResponseBytes * 4) / 3) + 64 * 1024,
    },
    async (request, reply) => {
      const resultAt = process.hrtime.bigint();
      const b = request.body;
      const session = hub.sessionFor(b.session_id);
      const call = hub.callFor(session, b.request_id);
      const chunk = decodeBase64(b.body_b64);
      const seq = b.seq ?? 0;
      if (call.state === 'delivered') {
        if (seq !== 0) throw outOfOrder(0, seq);
        const headers = forwardableResponseHeaders(b.headers);
        const status = b.status!;
        metrics.bytesToConsumer.value += chunk.length;
        if (!b.more) {
          call.sink.sendBuffered(status, headers, chunk);
          hub.complete(call);
          recordLatency(call, resultAt);
          // `?next_wait_ms=`: the worker takes its next call in this reply (D-044 "as
          // built", issue 11), one exchange per call instead of a result and a pull.
          const nextWait = request.query.next_wait_ms;
          if (nextWait === undefined) return reply.code(204).send();
          try {
            return park(request, reply, session, Math.min(nextWait, settings.pullMaxWaitMs), false);
          } catch {
            // Too many parked pulls: the result is in; the worker pulls the usual way.
            return reply.code(204).send();
          }
        }
        call.stream = call.sink.startStream(status, headers);
        call.state = 'streaming';
        call.nextSeq = 1;
        recordLatency(call, resultAt);
        await writeWithBackpressure(call.stream, chunk);
        return reply.code(204).send();
      }
      // Later chunks of a streamed result.
      if (call.state !== 'streaming' || call.nextSeq === 0) {
        throw new IicpProtocolError('conflict', 'this result is being streamed another way');
      }
      if (seq !== call.nextSeq) throw outOfOrder(call.nextSeq, seq);
      call.nextSeq += 1;
      metrics.bytesToConsumer.value += chunk.length;
      const stream = call.stream!;
      if (b.more) {
        await writeWithBackpressure(stream, chunk);
      } else {
        stream.end(chunk);
        hub.complete(call);
      }
      return reply.code(204).send();
    },
  );

  app.post('/v1/relay/unbind', { schema: { body: RelayUnbindRequestSchema } }, async (request) => {
    const session = hub.sessionFor(request.body.session_id);
    hub.unbind(session);
    request.log.info({ worker_id: session.workerId }, 'relay session unbound');
    return { unbound: true };
  });

  // The streamed-upload form of a result: the request body is the response body and
  // is forwarded to the consumer as it arrives. It needs the raw request stream, so it
  // lives in its own context whose catch-all parser leaves the body unread.
  void app.register(async (raw) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser('*', (_req, _payload, done) => done(null));
    raw.post('/v1/relay/result/stream', async (request, reply) => {
      const resultAt = process.hrtime.bigint();
      const h = request.headers;
      const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
      const sessionId = SessionIdSchema.safeParse(one(h[RESULT_STREAM_HEADERS.session]));
      const requestId = RequestIdSchema.safeParse(one(h[RESULT_STREAM_HEADERS.requestId]));
      const status = z.coerce
        .number()
        .int()
        .min(100)
        .max(599)
        .safeParse(one(h[RESULT_STREAM_HEADERS.status]));
      let headers: Record<string, string> = {};
      const rawHeaders = one(h[RESULT_STREAM_HEADERS.headers]);
      if (rawHeaders !== undefined) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(rawHeaders);
        } catch {
          parsed = undefined;
        }
        const ok = RelayHeadersSchema.safeParse(parsed);
        if (!ok.success) throw badHeader(RESULT_STREAM_HEADERS.headers);
        headers = ok.data;
      }
      if (!sessionId.success) throw badHeader(RESULT_STREAM_HEADERS.session);
      if (!requestId.success) throw badHeader(RESULT_STREAM_HEADERS.requestId);
      if (!status.success) throw badHeader(RESULT_STREAM_HEADERS.status);
      const session = hub.sessionFor(sessionId.data);
      const call = hub.callFor(session, requestId.data);
      if (call.state !== 'delivered') {
        throw new IicpProtocolError('conflict', 'this result is already being answered');
      }
      const out = call.sink.startStream(status.data, forwardableResponseHeaders(headers));
      call.stream = out;
      call.state = 'streaming';
      recordLatency(call, resultAt);
      session.activeUploads += 1;
      let total = 0;
      const limit = settings.maxResponseBytes;
      const counter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          total += chunk.length;
          if (total > limit) {
            cb(new IicpProtocolError('payload_too_large', `result exceeds ${limit} bytes`));
            return;
          }
          metrics.bytesToConsumer.value += chunk.length;
          cb(null, chunk);
        },
      });
      try {
        await pipeline(request.raw, counter, out);
        hub.complete(call);
        return reply.code(204).send();
      } catch (err) {
        hub.cancel(call);
        if (err instanceof IicpProtocolError) throw err;
        throw new IicpProtocolError('not_found', 'the consumer of this call went away');
      } finally {
        session.activeUploads -= 1;
        session.lastSeen = Math.max(session.lastSeen, hub.now());
      }
    });
  });
}

function outOfOrder(expected: number, got: number): IicpProtocolError {
  return new IicpProtocolError(
    'conflict',
    `result chunk out of order: expected seq ${expected}, got ${got}`,
    {
      details: { expected_seq: expected },
    },
  );
}

function badHeader(name: string): IicpProtocolError {
  return new IicpProtocolError('validation_error', `header ${name} is missing or malformed`, {
    status: 400,
    details: { field: name },
  });
}
