/**
 * Bodies of the HTTP long-poll worker transport (iicp-dir.md §7.1). The spec names the
 * routes but not their bodies (digest-directory.md C26); these are the project's
 * formats of spec/decisions.md D-044, extended where D-044 is silent (streamed
 * results, see README.md "Wire format"). Until they move into @iicp/wire (so that
 * apps/node can share them) they live here.
 */
import { z } from 'zod';
import { RELAY_PULL_MAX_WAIT_MS } from './constants.ts';

/**
 * A worker id is the worker's `node_id` (§7.4: "the ticket's `node_id` equals the
 * `worker_id`"). It appears in `/v1/relay-for/{worker_id}/...`, so it is limited to
 * URL-safe characters: directory node ids are UUIDs, which fit.
 */
export const WorkerIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, {
  message: 'worker_id must be 1-128 URL-safe characters',
});

/** Opaque session credential returned by bind: 128 random bits, base64url. */
export const SessionIdSchema = z.string().regex(/^[A-Za-z0-9_-]{16,64}$/, {
  message: 'session_id is malformed',
});

/** Request id the relay assigns to each forwarded call: 128 random bits, hex. */
export const RequestIdSchema = z.string().regex(/^[0-9a-f]{32}$/, {
  message: 'request_id must be 32 lowercase hex characters',
});

/** Header map as carried in relay bodies: lowercase names, string values. */
export const RelayHeadersSchema = z.record(z.string(), z.string());
export type RelayHeaders = z.infer<typeof RelayHeadersSchema>;

/** `POST /v1/relay/bind` body (D-044): the worker's id and its directory-signed bind ticket. */
export const RelayBindRequestSchema = z.looseObject({
  worker_id: WorkerIdSchema,
  /** Compact bind ticket (iicp-dir.md §7.4; @iicp/crypto `issueRelayBindTicket`). */
  ticket: z.string().min(1).max(8192).optional(),
});
export type RelayBindRequest = z.infer<typeof RelayBindRequestSchema>;

/** `201` answer to a bind. */
export const RelayBindResponseSchema = z.object({
  session_id: SessionIdSchema,
  worker_id: WorkerIdSchema,
  /** Where consumers reach this worker: `{relay}/v1/relay-for/{worker_id}` (D-044). */
  relay_endpoint: z.string(),
  /** The session dies this long after the worker's last pull or call (§7.2). */
  liveness_ms: z.int().positive(),
  /** Longest wait a pull may ask for (§7.1). */
  pull_max_wait_ms: z.int().positive(),
});
export type RelayBindResponse = z.infer<typeof RelayBindResponseSchema>;

/** `GET /v1/relay/pull` query. The session may also come as `Authorization: Bearer`. */
export const RelayPullQuerySchema = z.looseObject({
  session_id: SessionIdSchema.optional(),
  wait_ms: z.coerce.number().int().min(0).max(RELAY_PULL_MAX_WAIT_MS).optional(),
});
export type RelayPullQuery = z.infer<typeof RelayPullQuerySchema>;

/** `200` answer to a pull: one forwarded consumer request (D-044). `204` when none came. */
export const RelayPulledCallSchema = z.object({
  request_id: RequestIdSchema,
  method: z.string(),
  /** Path on the worker, e.g. `/v1/task` (the `/v1/relay-for/{id}` prefix removed). */
  path: z.string(),
  headers: RelayHeadersSchema,
  /** The consumer's request body, base64; empty string for none. */
  body_b64: z.string(),
  /** How long the relay keeps the consumer waiting for this call's result. */
  timeout_ms: z.int().positive(),
});
export type RelayPulledCall = z.infer<typeof RelayPulledCallSchema>;

/**
 * `POST /v1/relay/result` body (D-044), with chunking for streamed results: a result
 * is one post, or a series of posts with `more: true` and consecutive `seq` from 0
 * (`status` and `headers` on the first); the post without `more` ends it.
 */
export const RelayResultRequestSchema = z
  .looseObject({
    session_id: SessionIdSchema,
    request_id: RequestIdSchema,
    status: z.int().min(100).max(599).optional(),
    headers: RelayHeadersSchema.optional(),
    body_b64: z.string().optional(),
    seq: z.int().min(0).optional(),
    more: z.boolean().optional(),
  })
  .refine((r) => (r.seq ?? 0) > 0 || r.status !== undefined, {
    message: 'status is required on the first post of a result',
    path: ['status'],
  });
export type RelayResultRequest = z.infer<typeof RelayResultRequestSchema>;

/** `POST /v1/relay/unbind` body. */
export const RelayUnbindRequestSchema = z.looseObject({
  session_id: SessionIdSchema,
});
export type RelayUnbindRequest = z.infer<typeof RelayUnbindRequestSchema>;

/**
 * Headers of `POST /v1/relay/result/stream`, the streamed-upload form of a result:
 * the request body is the response body, forwarded to the consumer as it arrives.
 */
export const RESULT_STREAM_HEADERS = {
  session: 'x-iicp-relay-session',
  requestId: 'x-iicp-relay-request-id',
  status: 'x-iicp-relay-status',
  /** JSON object of the response headers. */
  headers: 'x-iicp-relay-headers',
} as const;
