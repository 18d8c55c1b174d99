/**
 * The directory's tables as Kysely sees them. One schema serves both dialects, so
 * the column types are the common subset: booleans are 0/1 integers, timestamps are
 * epoch milliseconds in `bigint` columns, JSON is text.
 */
import type { Generated } from 'kysely';

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
  // --- 003_accounting ---
  /** Public handle of a verified operator delegation (the key is never served). */
  operator_fingerprint: string | null;
  /** 1 once active probing confirmed the advertised route dead (iicp-dir.md §3.9c). */
  route_dead: Generated<number>;
  /** Positive reputation gained in the current hourly window (iicp-semantics.md §11.6). */
  rep_hourly_gain: Generated<number>;
  rep_hourly_window_start: number | null;
  /** Compare-and-swap guard of reputation updates. */
  rep_version: Generated<number>;
  /** Proxy-observed latency EMA (iicp-telemetry.md §T4.2); null until a quorum reported. */
  observed_latency_ms: number | null;
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

/** Node secrets and verification state (003_accounting). */
export interface NodeCredentialsTable {
  node_id: string;
  /** SHA-256 hex of the proxy_token (40 random bytes: a fast hash suffices). */
  proxy_token_hash: string;
  /** The node_hmac_key, sealed with the directory secret (or `plain:` without one). */
  hmac_key: string;
  challenge: string | null;
  challenge_issued_at: number | null;
  verified_liveness_at: number | null;
  /** Base64 operator key of a verified delegation: directory-private, never served. */
  operator_pubkey: string | null;
  operator_not_after: number | null;
  updated_at: number;
}

export interface TelemetryReportsTable {
  id: string;
  node_id: string;
  proxy_node_id: string;
  latency_ms: number;
  tokens: number;
  status: string;
  qos_met: number | null;
  /** 1 when the reporter met the age and reputation gate (iicp-semantics.md §11.7). */
  eligible: number;
  created_at: number;
}

export interface AuditReportsTable {
  id: string;
  reporter_node_id: string;
  target_node_id: string;
  finding: string;
  evidence_accepted: number;
  suppressed: number;
  created_at: number;
}

export interface AuditLimitsTable {
  reporter_node_id: string;
  target_node_id: string;
  last_at: number;
}

export interface AuditSlotsTable {
  target_node_id: string;
  slot: number;
  reporter_node_id: string;
  claimed_at: number;
}

export interface CreditAccountsTable {
  node_id: string;
  balance: number;
  total_earned: number;
  total_spent: number;
  tx_count: number;
  free_grant_at: number | null;
  hourly_awarded: number;
  hourly_window_start: number | null;
  updated_at: number;
}

export interface CreditTransactionsTable {
  id: string;
  node_id: string;
  /** `earn`, `spend` or `bootstrap` (iicp-billing-extension.md §11.1). */
  tx_type: string;
  amount: number;
  balance_after: number;
  reason: string;
  task_id: string | null;
  counterparty_node_id: string | null;
  created_at: number;
}

export interface CreditNoncesTable {
  node_id: string;
  nonce: string;
  keep_until: number;
}

export interface CreditGrantIpsTable {
  ip: string;
  granted_at: number;
}

export interface NodeProbesTable {
  node_id: string;
  next_probe_at: number;
  last_probe_at: number | null;
  last_ok: number | null;
  consecutive_failures: number;
  latency_ms: number | null;
}

export interface DirectoryDatabase {
  nodes: NodesTable;
  address_history: AddressHistoryTable;
  rate_limits: RateLimitsTable;
  node_credentials: NodeCredentialsTable;
  telemetry_reports: TelemetryReportsTable;
  audit_reports: AuditReportsTable;
  audit_limits: AuditLimitsTable;
  audit_slots: AuditSlotsTable;
  credit_accounts: CreditAccountsTable;
  credit_transactions: CreditTransactionsTable;
  credit_nonces: CreditNoncesTable;
  credit_grant_ips: CreditGrantIpsTable;
  node_probes: NodeProbesTable;
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
