/**
 * Relay limits and defaults. Each quotes its source: iicp-dir.md §7 (relay transport),
 * §3.14 (operational timers) or, where the spec is silent, the project decision
 * recorded in spec/decisions.md (D-044 and the relay decisions that extend it).
 */
import { TIMEOUT_MS_MAX } from '@iicp/wire';

// Shared with the node's relay-worker mode, so defined in @iicp/wire (D-044).
export { RELAY_INTENT, RELAY_PULL_MAX_WAIT_MS, RELAY_SESSION_LIVENESS_MS } from '@iicp/wire';

/** Default listening port of the relay (DESIGN.md: relay 9485). */
export const DEFAULT_RELAY_PORT = 9485;
export const DEFAULT_RELAY_HOST = '127.0.0.1';

/** "A relay MUST bound its concurrent sessions (RECOMMENDED default 256)" (§7.3). */
export const RELAY_MAX_SESSIONS = 256;
/** "RECOMMENDED default 30 per 60 seconds" new binds per source principal (§7.3). */
export const RELAY_BIND_RATE_LIMIT = 30;
export const RELAY_BIND_RATE_WINDOW_MS = 60_000;
/** Reason carried by the 429 `IICP-E039` of a rate-limited bind (§7.3). */
export const RELAY_BIND_RATE_LIMITED_REASON = 'relay_bind_rate_limited';
/** Reason of the 503 `IICP-E039` when the session cap is reached (project, D-044). */
export const RELAY_SESSION_CAP_REASON = 'relay_session_cap';
/** Reason of the 503 `IICP-E039` when a queue limit is reached (project, D-044). */
export const RELAY_QUEUE_FULL_REASON = 'relay_queue_full';

/** Project defaults for the call queues (the spec asks for bounds, not values). */
export const RELAY_MAX_QUEUED_CALLS_PER_SESSION = 64;
export const RELAY_MAX_QUEUED_BYTES_PER_SESSION = 16 * 1024 * 1024;
export const RELAY_MAX_QUEUED_CALLS = 4096;
export const RELAY_MAX_QUEUED_BYTES = 128 * 1024 * 1024;
/** Long-polls a worker may hold open at once (its concurrency through the relay). */
export const RELAY_MAX_PULLS_PER_SESSION = 64;
/** Largest consumer request body forwarded (a CALL is JSON; 4 MiB is ample). */
export const RELAY_MAX_REQUEST_BYTES = 4 * 1024 * 1024;
/** Largest worker response forwarded, buffered or streamed. */
export const RELAY_MAX_RESPONSE_BYTES = 32 * 1024 * 1024;
/**
 * How long a forwarded `/v1/task` may take end to end: the largest CALL
 * `constraints.timeout_ms` (iicp-core.md §3, 300 000) plus 10 s for the hops.
 */
export const RELAY_TASK_DEADLINE_MS = TIMEOUT_MS_MAX + 10_000;
/** How long a forwarded `/iicp/health` may take (the directory's probe budget is 5 s). */
export const RELAY_HEALTH_DEADLINE_MS = 10_000;
/** How often dead sessions, spent jtis and idle rate-limit buckets are swept. */
export const RELAY_SWEEP_INTERVAL_MS = 5_000;

/** Paths a consumer may reach through `/v1/relay-for/{worker_id}` (§7.1; digest §3). */
export const RELAY_FORWARDED_ROUTES = [
  { method: 'POST', path: '/v1/task' },
  { method: 'GET', path: '/iicp/health' },
] as const;

/** Headers that describe one hop, never forwarded either way (RFC 9110 §7.6.1). */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'expect',
]);
