/**
 * The relay's HTTP long-poll worker transport (iicp-dir.md §7.1) and the directory's
 * bind-ticket route (§7.4). The spec names the routes but not their bodies
 * (digest-directory.md C26); these are the project's formats, spec/decisions.md D-044
 * ("As built"). The relay (server side) and the node's relay-worker mode (client side)
 * both read them from here.
 */
import { z } from 'zod';

/**
 * Intent under which relays register so that workers can discover them: discover needs
 * an intent, and the spec defines `relay_capable` but no relay intent (D-044; custom
 * namespace per iicp-semantics.md §1.1).
 */
export const RELAY_INTENT = 'urn:iicp:intent:x.iicp:relay:v1';

/** Auto-selection never binds a relay whose reputation is below 0.1 (§7.6, RECOMMENDED). */
export const RELAY_MIN_REPUTATION = 0.1;

/** "`GET /v1/relay/pull` (long-poll ≤ 25 s)" (§7.1, §3.14). */
export const RELAY_PULL_MAX_WAIT_MS = 25_000;

/** A session lives while its worker pulled within the liveness window, 90 s (§7.2). */
export const RELAY_SESSION_LIVENESS_MS = 90_000;

/**
 * A worker id is the worker's `node_id` (§7.4: the ticket's `node_id` equals the
 * `worker_id`). It appears in `/v1/relay-for/{worker_id}/...`, so it is limited to
 * URL-safe characters; directory node ids are UUIDs, which fit.
 */
export const RelayWorkerIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, {
  message: 'worker_id must be 1-128 URL-safe characters',
});

/** Opaque session credential returned by bind: 128 random bits, base64url. */
export const RelaySessionIdSchema = z.string().regex(/^[A-Za-z0-9_-]{16,64}$/, {
  message: 'session_id is malformed',
});

/** Request id the relay assigns to each forwarded call: 128 random bits, hex. */
export const RelayRequestIdSchema = z.string().regex(/^[0-9a-f]{32}$/, {
  message: 'request_id must be 32 lowercase hex characters',
});

/** Header map as carried in relay bodies: lowercase names, string values. */
export const RelayHeadersSchema = z.record(z.string(), z.string());
export type RelayHeaders = z.infer<typeof RelayHeadersSchema>;

/** `POST /v1/relay/bind` body: the worker's id and its directory-signed bind ticket. */
export const RelayBindRequestSchema = z.looseObject({
  worker_id: RelayWorkerIdSchema,
  /** Compact bind ticket (§7.4; @iicp/crypto `issueRelayBindTicket`). */
  ticket: z.string().min(1).max(8192).optional(),
});
export type RelayBindRequest = z.infer<typeof RelayBindRequestSchema>;

/** `201` answer to a bind. */
export const RelayBindResponseSchema = z.looseObject({
  session_id: RelaySessionIdSchema,
  worker_id: RelayWorkerIdSchema,
  /** Where consumers reach this worker: `{relay}/v1/relay-for/{worker_id}`. */
  relay_endpoint: z.url({ protocol: /^https?$/ }),
  /** The session dies this long after the worker's last pull or call (§7.2). */
  liveness_ms: z.int().positive(),
  /** Longest wait a pull may ask for (§7.1). */
  pull_max_wait_ms: z.int().positive(),
});
export type RelayBindResponse = z.infer<typeof RelayBindResponseSchema>;

/** `GET /v1/relay/pull` query. The session may also come as `Authorization: Bearer`. */
export const RelayPullQuerySchema = z.looseObject({
  session_id: RelaySessionIdSchema.optional(),
  wait_ms: z.coerce.number().int().min(0).max(RELAY_PULL_MAX_WAIT_MS).optional(),
});
export type RelayPullQuery = z.infer<typeof RelayPullQuerySchema>;

/** `200` answer to a pull: one forwarded consumer request. `204` when none came. */
export const RelayPulledCallSchema = z.looseObject({
  request_id: RelayRequestIdSchema,
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
 * `POST /v1/relay/result` body, with chunking for streamed results: a result is one
 * post, or a series of posts with `more: true` and consecutive `seq` from 0 (`status`
 * and `headers` on the first); the post without `more` ends it.
 */
export const RelayResultRequestSchema = z
  .looseObject({
    session_id: RelaySessionIdSchema,
    request_id: RelayRequestIdSchema,
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
  session_id: RelaySessionIdSchema,
});
export type RelayUnbindRequest = z.infer<typeof RelayUnbindRequestSchema>;

/**
 * Headers of `POST /v1/relay/result/stream`, the streamed-upload form of a result: the
 * request body is the response body, forwarded to the consumer as it arrives.
 */
export const RELAY_RESULT_STREAM_HEADERS = {
  session: 'x-iicp-relay-session',
  requestId: 'x-iicp-relay-request-id',
  status: 'x-iicp-relay-status',
  /** JSON object of the response headers. */
  headers: 'x-iicp-relay-headers',
} as const;

/** `POST /api/v1/relay/ticket` body (Bearer node_token): the node asking for a ticket. */
export const RelayTicketRequestSchema = z.looseObject({
  node_id: z.string().min(1).max(128),
});
export type RelayTicketRequest = z.infer<typeof RelayTicketRequestSchema>;

/** `201` answer to `POST /api/v1/relay/ticket`: the compact bind ticket. */
export const RelayTicketResponseSchema = z.looseObject({
  ticket: z.string().min(1).max(8192),
});
export type RelayTicketResponse = z.infer<typeof RelayTicketResponseSchema>;

/** A relay as discover lists it (only what relay election reads). */
export const RelayCandidateSchema = z.looseObject({
  node_id: z.string().min(1),
  endpoint: z.url({ protocol: /^https?$/ }),
  load: z.number().min(0).max(1).nullable().optional(),
  relay_capable: z.boolean().nullable().optional(),
  reputation_score: z.number().nullable().optional(),
  available: z.boolean().nullable().optional(),
});
export type RelayCandidate = z.infer<typeof RelayCandidateSchema>;
