/**
 * The worker side of the relay's HTTP long-poll transport (iicp-dir.md §7.1) and of
 * the directory's bind-ticket route (§7.4). The spec names the routes but not their
 * bodies; these are the project's formats (spec/decisions.md D-044, "As built").
 * apps/relay declares the same bodies from the relay's side; both should move into
 * @iicp/wire (apps never import apps). Only what the worker reads is checked here.
 */
import { z } from 'zod';

/**
 * Intent under which relays register so that workers can discover them (D-044: the
 * spec defines `relay_capable` but no relay intent; custom namespace per
 * iicp-semantics.md §1.1).
 */
export const RELAY_INTENT = 'urn:iicp:intent:x.iicp:relay:v1';

/** "A consumer or browser worker that auto-selects a relay ... MUST NOT bind a relay whose `reputation_score` is below a floor (RECOMMENDED 0.1)" (§7.6). */
export const RELAY_MIN_REPUTATION = 0.1;

/** "long-poll ≤ 25 s" (§7.1); the relay announces its own value at bind. */
export const RELAY_PULL_MAX_WAIT_MS = 25_000;

/** "has pulled within the liveness window (RECOMMENDED 90 s)" (§7.2). */
export const RELAY_SESSION_LIVENESS_MS = 90_000;

/** Headers of `POST /v1/relay/result/stream`, the streamed-upload form of a result (D-044). */
export const RESULT_STREAM_HEADERS = {
  session: 'x-iicp-relay-session',
  requestId: 'x-iicp-relay-request-id',
  status: 'x-iicp-relay-status',
  /** JSON object of the response headers. */
  headers: 'x-iicp-relay-headers',
} as const;

/** `201` answer to `POST /v1/relay/bind {worker_id, ticket?}` (D-044). */
export const RelayBindResponseSchema = z.looseObject({
  /** The worker's credential for pull, result and unbind: a secret. */
  session_id: z.string().min(16).max(64),
  worker_id: z.string().min(1),
  /** `{relay}/v1/relay-for/{worker_id}`: what the worker registers as its endpoint. */
  relay_endpoint: z.url({ protocol: /^https?$/ }),
  liveness_ms: z.int().positive().optional(),
  pull_max_wait_ms: z.int().positive().optional(),
});
export type RelayBindResponse = z.infer<typeof RelayBindResponseSchema>;

/** `200` answer to `GET /v1/relay/pull`: one consumer request to serve (D-044). */
export const RelayPulledCallSchema = z.looseObject({
  request_id: z.string().regex(/^[0-9a-f]{32}$/),
  method: z.enum(['GET', 'POST']),
  /** Path on the worker (`/v1/task`, `/iicp/health`), with the consumer's query string. */
  path: z.string().regex(/^\/(v1\/task|iicp\/health)(\?.*)?$/),
  headers: z.record(z.string(), z.string()),
  body_b64: z.string(),
  timeout_ms: z.int().positive().optional(),
});
export type RelayPulledCall = z.infer<typeof RelayPulledCallSchema>;

/**
 * `201` answer to the directory's `POST /api/v1/relay/ticket` (Bearer node_token, body
 * `{node_id}`): the compact bind ticket of @iicp/crypto `issueRelayBindTicket`.
 */
export const RelayTicketResponseSchema = z.looseObject({
  ticket: z.string().min(1).max(8192),
});
export type RelayTicketResponse = z.infer<typeof RelayTicketResponseSchema>;

/** A relay as discover lists it (iicp-dir.md §3.4 NODELIST entry; only what election reads). */
export const RelayCandidateSchema = z.looseObject({
  node_id: z.string().min(1),
  endpoint: z.url({ protocol: /^https?$/ }),
  load: z.number().min(0).max(1).nullable().optional(),
  relay_capable: z.boolean().nullable().optional(),
  reputation_score: z.number().nullable().optional(),
  available: z.boolean().nullable().optional(),
});
export type RelayCandidate = z.infer<typeof RelayCandidateSchema>;
