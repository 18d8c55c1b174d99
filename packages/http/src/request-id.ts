import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Header that carries the request ID in both directions. */
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * An incoming ID is reused only when it is short and made of token characters, so
 * that a client cannot inject log lines, header splits or megabytes into our logs.
 */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

export function isSaneRequestId(value: unknown): value is string {
  return typeof value === 'string' && SANE_REQUEST_ID.test(value);
}

/** fastify `genReqId`: the caller's sane `X-Request-Id`, else a fresh UUID v4. */
export function genRequestId(req: Pick<IncomingMessage, 'headers'>): string {
  const incoming = req.headers[REQUEST_ID_HEADER];
  return isSaneRequestId(incoming) ? incoming : randomUUID();
}
