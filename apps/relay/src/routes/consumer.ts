/**
 * Consumer side of the relay (iicp-dir.md §7.1): `/v1/relay-for/{worker_id}/v1/task`
 * and `/v1/relay-for/{worker_id}/iicp/health` are queued for the bound worker and
 * answered with its response, unchanged (streamed as it arrives when the worker
 * streams). No live worker: 404 `IICP-E030` at once; the worker lost mid-call: 502
 * `IICP-E031`.
 */
import { PassThrough } from 'node:stream';
import type { FastifyReply } from '@iicp/http';
import type { IicpFastifyInstance } from '@iicp/http';
import { IicpProtocolError } from '@iicp/wire';
import { z } from 'zod';
import { RELAY_FORWARDED_ROUTES, RELAY_QUEUE_FULL_REASON } from '../constants.ts';
import type { RelayContext } from '../context.ts';
import { forwardableRequestHeaders } from '../headers.ts';
import type { CallSink } from '../hub.ts';
import { WorkerIdSchema } from '../wire.ts';

const ParamsSchema = z.object({ worker_id: WorkerIdSchema });

function replySink(reply: FastifyReply): CallSink {
  return {
    sendBuffered(status, headers, body) {
      if (reply.sent) return;
      void reply.code(status).headers(headers).send(body);
    },
    startStream(status, headers) {
      const pass = new PassThrough();
      if (reply.sent) {
        pass.destroy();
        return pass;
      }
      void reply.code(status).headers(headers).send(pass);
      return pass;
    },
    fail(err) {
      if (!reply.sent) void reply.send(err);
    },
  };
}

export function consumerRoutes(app: IicpFastifyInstance, ctx: RelayContext): void {
  const { hub, metrics, settings } = ctx;
  // Bodies are forwarded as bytes, whatever their type (JSON, CBOR, ...): a context
  // of its own whose catch-all parser keeps the raw buffer.
  void app.register(async (child) => {
    child.removeAllContentTypeParsers();
    child.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: settings.maxRequestBytes },
      (_req, body, done) => done(null, body),
    );
    for (const route of RELAY_FORWARDED_ROUTES) {
      const timeoutMs =
        route.path === '/iicp/health' ? settings.healthDeadlineMs : settings.taskDeadlineMs;
      child.route({
        method: route.method,
        url: `/v1/relay-for/:worker_id${route.path}`,
        schema: { params: ParamsSchema },
        bodyLimit: settings.maxRequestBytes,
        handler: async (request, reply) => {
          const url = request.raw.url ?? '';
          const q = url.indexOf('?');
          const body = Buffer.isBuffer(request.body) ? request.body : undefined;
          let call;
          try {
            call = hub.enqueue(
              (request.params as z.infer<typeof ParamsSchema>).worker_id,
              {
                method: request.method,
                path: q >= 0 ? `${route.path}${url.slice(q)}` : route.path,
                headers: forwardableRequestHeaders(request.headers),
                body: body && body.length > 0 ? body : undefined,
              },
              timeoutMs,
              replySink(reply),
            );
          } catch (err) {
            if (err instanceof IicpProtocolError) {
              if (err.code === 'IICP-E030') metrics.call('unbound');
              else if (err.details?.['reason'] === RELAY_QUEUE_FULL_REASON)
                metrics.call('queue_full');
            }
            throw err;
          }
          // A consumer that goes away cancels its call, queued or in progress.
          reply.raw.once('close', () => {
            if (call.state !== 'done') hub.cancel(call);
          });
          if (request.raw.socket?.destroyed) hub.cancel(call);
          return reply;
        },
      });
    }
  });
}
