/**
 * Protocol limits and defaults, each beside the spec text it comes from.
 * Where the spec contradicts itself, the chosen value is recorded in spec/decisions.md.
 */

// ── Timers ────────────────────────────────────────────────────────────────────

/** "Nodes SHOULD send `POST /v1/heartbeat` every 30 seconds" (iicp-semantics.md §5; PONG `next_heartbeat_ms: 30000`, iicp-core.md §4.2). */
export const HEARTBEAT_INTERVAL_MS = 30_000;

/** "Directory MUST mark a node inactive after 90 seconds without a valid PING" (iicp-core.md §4.2); discover keeps only `last_seen` within 90 s (§5). */
export const LIVENESS_WINDOW_MS = 90_000;

/** "Consumer tokens … 300s TTL" (iicp-dir.md §3.12): `exp = iat + 300`. */
export const CONSUMER_TOKEN_TTL_S = 300;

/** "`exp` not elapsed (10s grace)" (iicp-core.md §3.1 errata v1.5.2; iicp-dir.md §3.12). */
export const CONSUMER_TOKEN_GRACE_S = 10;

// ── Discovery and bootstrap ──────────────────────────────────────────────────

/** "`limit` MAY — Default 10, max 50" (iicp-core.md §5). */
export const DISCOVER_DEFAULT_LIMIT = 10;
/** "`limit` MAY — Default 10, max 50" (iicp-core.md §5). */
export const DISCOVER_MAX_LIMIT = 50;

/** "Nodes with score < 0.1 MUST be excluded from results" (iicp-core.md §5, DIS-4). */
export const MIN_DISCOVER_SCORE = 0.1;

/** Discover response caching header (conformance-test-suite.md DIR-DISC-08). */
export const DISCOVER_CACHE_CONTROL = 'public, max-age=5, s-maxage=10, stale-while-revalidate=5';

/** `GET /v1/bootstrap?limit=` default 5 (iicp-dir.md, bootstrap). */
export const BOOTSTRAP_DEFAULT_LIMIT = 5;
/** `GET /v1/bootstrap?limit=` max 50 (iicp-dir.md, bootstrap). */
export const BOOTSTRAP_MAX_LIMIT = 50;

// ── Field bounds ─────────────────────────────────────────────────────────────

/** Intent URN length cap: the project's bound (spec/decisions.md, intent grammar). */
export const INTENT_URN_MAX_LENGTH = 256;

/** "`region` … IANA-style tag … max 64 chars" (iicp-core.md §2.1). */
export const REGION_MAX_LENGTH = 64;

/** "`limits.max_concurrent` MUST be in range 1–256" (iicp-core.md §2.1). */
export const MAX_CONCURRENT_MIN = 1;
/** "`limits.max_concurrent` MUST be in range 1–256" (iicp-core.md §2.1). */
export const MAX_CONCURRENT_MAX = 256;

/** `constraints.timeout_ms` minimum 100 (schemas/task.json; core only says > 0). */
export const TIMEOUT_MS_MIN = 100;
/** `constraints.timeout_ms` maximum 300000 (schemas/task.json). */
export const TIMEOUT_MS_MAX = 300_000;

/** "`node_token` MUST be ≥ 32 bytes cryptographically random" (iicp-core.md §2.2, DIR-REG-05); issued as hex. */
export const NODE_TOKEN_MIN_BYTES = 32;

/** Heartbeat `metrics_batch_id`: "1–64 printable ASCII" (iicp-dir.md §3.2). */
export const METRICS_BATCH_ID_MAX_LENGTH = 64;

// ── Enumerations ─────────────────────────────────────────────────────────────

/** QoS classes (iicp-core.md §3.1, iicp-semantics.md §2.1); all four accepted everywhere. */
export const QOS_VALUES = ['realtime', 'interactive', 'batch', 'best-effort'] as const;

/** CALL `constraints.priority` values, "`normal` (default)" (iicp-core.md §3.1). */
export const PRIORITY_VALUES = ['low', 'normal', 'high', 'critical'] as const;

/** CALL `constraints.consensus` values, "`none` (default)" (iicp-core.md §3.3). */
export const CONSENSUS_VALUES = [
  'none',
  'first_completed',
  'majority_of_3',
  'majority_of_5',
] as const;

/** RESPONSE `status` values (iicp-core.md §3.2). */
export const TASK_STATUS_VALUES = ['success', 'error', 'timeout'] as const;

/** Input/output modalities (iicp-dir.md §3.1, ADR-046); `["text"]` when absent. */
export const MODALITY_VALUES = ['text', 'image', 'audio', 'video'] as const;

/** Reputation start value "0.5" (iicp-semantics.md §11.3). */
export const REPUTATION_INITIAL = 0.5;

/** PONG `reputation_model` (iicp-dir.md §3.2, iicp-semantics.md §11). */
export const REPUTATION_MODEL = 'outcome-v2';

// ── Headers and signing domains ──────────────────────────────────────────────

/** Consumer token request header (iicp-core.md §3.1 errata v1.5.2). */
export const CONSUMER_TOKEN_HEADER = 'X-IICP-Consumer-Token';

/** Trace id header (iicp-semantics.md §10.1). */
export const TRACE_ID_HEADER = 'X-IICP-Trace-Id';

/** Signed bytes prefix for consumer tokens: `b"iicp:consumer-token:v1\n" + base64url_payload` (iicp-dir.md §3.12). */
export const CONSUMER_TOKEN_DOMAIN = 'iicp:consumer-token:v1\n';

/** Dispatch route tickets "use domain `iicp:dispatch-route-ticket:v1`" (iicp-dir.md §3.4, ticketed dispatch discovery); signed bytes add `\n` + payload. */
export const DISPATCH_ROUTE_TICKET_DOMAIN = 'iicp:dispatch-route-ticket:v1\n';

/** Dispatch route ticket "type `dispatch-route-ticket`" (iicp-dir.md §3.4, ticketed dispatch discovery). */
export const DISPATCH_ROUTE_TICKET_TYPE = 'dispatch-route-ticket';

/** Dispatch route ticket "audience `iicp.directory.dispatch`" (iicp-dir.md §3.4, ticketed dispatch discovery). */
export const DISPATCH_ROUTE_TICKET_AUDIENCE = 'iicp.directory.dispatch';

/**
 * Event-chain root: "`prev_hash = GENESIS_ROOT`, the fixed constant
 * c44802bedf3e63b5a3f1634c5d19263634f92f26dd15401b09b06dd53a80cf9d"
 * (= sha256_hex("iicp:dir:event-log:genesis:v1"), iicp-federated-directory.md §5.1).
 */
export const EVENT_CHAIN_GENESIS_ROOT =
  'c44802bedf3e63b5a3f1634c5d19263634f92f26dd15401b09b06dd53a80cf9d';

// ── Ports ────────────────────────────────────────────────────────────────────

/** "Native TCP implementations commonly listen on port 9484" (provisional, iicp-core.md §6). */
export const NATIVE_PORT = 9484;
