/**
 * The directory's tables as Kysely sees them. One schema serves both dialects, so
 * the column types are the common subset: booleans are 0/1 integers, timestamps are
 * epoch milliseconds in `bigint` columns, JSON is text.
 */
/** Node lifecycle status (docs/architecture/directory-state-semantics.md, digest §2). */
export type NodeStatus = 'active' | 'dormant' | 'deregistered';

export interface NodesTable {
  node_id: string;
  /** bcrypt hash of the node token; the token itself is never stored. */
  token_hash: string;
  /**
   * First 16 hex digits of SHA-256(token): a non-secret lookup key so a Bearer token
   * alone (GET /me) finds its node without a bcrypt pass over every row. 64 bits of a
   * hash of a 256-bit random secret reveal nothing that helps guess the secret.
   */
  token_lookup: string;
  /** Incremented on every rotation: the compare-and-swap guard for refresh. */
  token_version: number;
  endpoint: string;
  region: string;
  /** The accepted REGISTER body (secrets removed) as JSON. */
  record: string;
  load: number;
  active_jobs: number;
  available: number;
  last_seen: number;
  dormant_since: number | null;
  reputation: number;
  completed_tasks_count: number;
  last_metrics_batch_id: string | null;
  observed_ip: string | null;
  status: NodeStatus;
  /** Round-trip time of the registration liveness probe (latency evidence, C15). */
  liveness_rtt_ms: number | null;
  registered_at: number;
  /** Bumped by every write: other instances refresh their discover index from it. */
  updated_at: number;
}

export interface AddressHistoryTable {
  node_id: string;
  ip: string;
  /** `register` or `heartbeat` (iicp-core.md §11 DIR-ADDR-06). */
  event: string;
  first_seen: number;
  last_seen: number;
  seen_count: number;
}

export interface RateLimitsTable {
  bucket: string;
  window_start: number;
  hits: number;
}

export interface DirectoryDatabase {
  nodes: NodesTable;
  address_history: AddressHistoryTable;
  rate_limits: RateLimitsTable;
  event_chains: EventChainsTable;
  events: EventsTable;
}

/** Head of one signed event chain (migration 0002_trust). `head_seq` 0 = empty. */
export interface EventChainsTable {
  chain: string;
  head_seq: number;
  head_sig: string | null;
  genesis_hash: string | null;
}

/** One signed, hash-chained event (iicp-federated-directory.md §5.1); never updated. */
export interface EventsTable {
  chain: string;
  seq: number;
  event_id: string;
  event_type: string;
  ts_ms: number;
  node_id: string | null;
  /** The signed payload as JSON. */
  payload: string;
  prev_hash: string;
  sig: string;
  signer_did: string;
}
