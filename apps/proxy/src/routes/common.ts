import type { FastifyReply, FastifyRequest } from '@iicp/http';
import type { ClientProtocol } from '../errors.ts';
import type { Gateway, RouteRequest } from '../gateway.ts';

/** iicp-core.md §3.2 `generated_by_ai`: compatibility proxies expose it as this header. */
export const GENERATED_BY_AI_HEADER = 'x-iicp-generated-by-ai';
/** The node that produced the answer. */
export const NODE_ID_HEADER = 'x-iicp-node-id';
/** The IICP task id (the same across retries). */
export const TASK_ID_HEADER = 'x-iicp-task-id';

/** What every route module needs. */
export interface RouteDeps {
  readonly gateway: Gateway;
  readonly now: () => number;
}

/** One client-gone signal per client connection (see {@link clientGone}). */
const connectionSignals = new WeakMap<object, AbortSignal>();

/**
 * A signal that fires when the HTTP client goes away before its answer is complete,
 * so the node's connection is closed too (the node treats that as cancellation).
 *
 * The signal belongs to the client's connection, made on its first request and shared
 * by the requests that follow on it (keep-alive): every request of a connection is gone
 * when it closes, and an answer that is complete no longer reads its signal. That saves
 * an AbortController and a `close` listener per request. Without a live socket (an
 * injected request), the signal is the response's own, as before.
 */
export function clientGone(reply: FastifyReply): AbortSignal {
  const raw = reply.raw;
  const socket = raw.socket;
  if (socket && !socket.destroyed) {
    let signal = connectionSignals.get(socket);
    if (!signal) {
      const ctl = new AbortController();
      signal = ctl.signal;
      socket.once('close', () => ctl.abort(new Error('client closed the connection')));
      connectionSignals.set(socket, signal);
    }
    return signal;
  }
  const ctl = new AbortController();
  const onClose = () => {
    if (!raw.writableFinished) ctl.abort(new Error('client closed the connection'));
  };
  raw.once('close', onClose);
  return ctl.signal;
}

/** Headers of a model-produced answer (iicp-core.md §3.2, compatibility-proxy rule). */
export function markAnswer(
  reply: FastifyReply,
  nodeId: string | undefined,
  taskId: string | undefined,
): void {
  reply.header(GENERATED_BY_AI_HEADER, 'true');
  if (nodeId !== undefined) reply.header(NODE_ID_HEADER, nodeId);
  if (taskId !== undefined) reply.header(TASK_ID_HEADER, taskId);
}

/** The caller's W3C `traceparent`, propagated into the CALL's trace (first value only). */
export function traceparentOf(request: FastifyRequest): string | undefined {
  const t = request.headers.traceparent;
  return typeof t === 'string' ? t : undefined;
}

/**
 * The gateway request of one client request: its intent and protocol, the caller's
 * model and `traceparent`, the request logger, and a signal that fires when the client
 * goes away.
 */
export function routeRequestOf(
  request: FastifyRequest,
  reply: FastifyReply,
  intent: string,
  protocol: ClientProtocol,
  model: string | undefined,
): RouteRequest {
  return {
    intent,
    protocol,
    signal: clientGone(reply),
    model,
    traceparent: traceparentOf(request),
    log: request.log,
  };
}
