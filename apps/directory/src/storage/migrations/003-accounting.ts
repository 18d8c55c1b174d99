/**
 * Migration `003_accounting` (issue 6, second half): the tables behind telemetry,
 * audit reports, reputation velocity, the credits extension, the heartbeat challenge,
 * operator delegation and active probing. Column types are the subset SQLite and
 * PostgreSQL share (epoch-ms `bigint`, 0/1 `integer`, `double precision`, `text`), and
 * SQLite takes one `add column` per `alter table`, hence one statement per column.
 */
import type { Kysely, Migration } from 'kysely';

async function addNodeColumns(db: Kysely<unknown>): Promise<void> {
  const add = (
    name: string,
    type: 'text' | 'integer' | 'bigint' | 'double precision',
    dflt?: number,
  ) =>
    db.schema
      .alterTable('nodes')
      .addColumn(name, type, (c) => (dflt === undefined ? c : c.notNull().defaultTo(dflt)))
      .execute();
  // Public handle of a verified operator delegation; the key itself lives in node_credentials.
  await add('operator_fingerprint', 'text');
  // 1 once active probing confirmed the advertised route dead (iicp-dir.md §3.9c).
  await add('route_dead', 'integer', 0);
  // Hourly reputation velocity ceiling (iicp-semantics.md §11.6) and its compare-and-swap guard.
  await add('rep_hourly_gain', 'double precision', 0);
  await add('rep_hourly_window_start', 'bigint');
  await add('rep_version', 'integer', 0);
  // Proxy-observed latency EMA (iicp-telemetry.md §T4.2); null until a quorum reported.
  await add('observed_latency_ms', 'double precision');
}

export const accountingMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await addNodeColumns(db);

    await db.schema
      .createTable('node_credentials')
      .addColumn('node_id', 'text', (c) => c.primaryKey())
      .addColumn('proxy_token_hash', 'text', (c) => c.notNull())
      .addColumn('hmac_key', 'text', (c) => c.notNull())
      .addColumn('challenge', 'text')
      .addColumn('challenge_issued_at', 'bigint')
      .addColumn('verified_liveness_at', 'bigint')
      .addColumn('operator_pubkey', 'text')
      .addColumn('operator_not_after', 'bigint')
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('node_credentials_proxy_token')
      .on('node_credentials')
      .column('proxy_token_hash')
      .unique()
      .execute();

    await db.schema
      .createTable('telemetry_reports')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('node_id', 'text', (c) => c.notNull())
      .addColumn('proxy_node_id', 'text', (c) => c.notNull())
      .addColumn('latency_ms', 'double precision', (c) => c.notNull())
      .addColumn('tokens', 'integer', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('qos_met', 'integer')
      .addColumn('eligible', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('telemetry_reports_node')
      .on('telemetry_reports')
      .columns(['node_id', 'created_at'])
      .execute();

    await db.schema
      .createTable('audit_reports')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('reporter_node_id', 'text', (c) => c.notNull())
      .addColumn('target_node_id', 'text', (c) => c.notNull())
      .addColumn('finding', 'text', (c) => c.notNull())
      .addColumn('evidence_accepted', 'integer', (c) => c.notNull())
      .addColumn('suppressed', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('audit_reports_target')
      .on('audit_reports')
      .columns(['target_node_id', 'created_at'])
      .execute();
    // One accepted report per (reporter, target) per 24 h, claimed atomically.
    await db.schema
      .createTable('audit_limits')
      .addColumn('reporter_node_id', 'text', (c) => c.notNull())
      .addColumn('target_node_id', 'text', (c) => c.notNull())
      .addColumn('last_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('audit_limits_pk', ['reporter_node_id', 'target_node_id'])
      .execute();
    // The griefing cap: two evidence slots per target per 24 h (iicp-semantics.md §11.5).
    await db.schema
      .createTable('audit_slots')
      .addColumn('target_node_id', 'text', (c) => c.notNull())
      .addColumn('slot', 'integer', (c) => c.notNull())
      .addColumn('reporter_node_id', 'text', (c) => c.notNull())
      .addColumn('claimed_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('audit_slots_pk', ['target_node_id', 'slot'])
      .execute();

    // Credits survive deregistration (iicp-dir.md §3.10 RT-02): no foreign keys to nodes.
    await db.schema
      .createTable('credit_accounts')
      .addColumn('node_id', 'text', (c) => c.primaryKey())
      .addColumn('balance', 'double precision', (c) => c.notNull().defaultTo(0))
      .addColumn('total_earned', 'double precision', (c) => c.notNull().defaultTo(0))
      .addColumn('total_spent', 'double precision', (c) => c.notNull().defaultTo(0))
      .addColumn('tx_count', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('free_grant_at', 'bigint')
      .addColumn('hourly_awarded', 'double precision', (c) => c.notNull().defaultTo(0))
      .addColumn('hourly_window_start', 'bigint')
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('credit_transactions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('node_id', 'text', (c) => c.notNull())
      .addColumn('tx_type', 'text', (c) => c.notNull())
      .addColumn('amount', 'double precision', (c) => c.notNull())
      .addColumn('balance_after', 'double precision', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('task_id', 'text')
      .addColumn('counterparty_node_id', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('credit_transactions_node')
      .on('credit_transactions')
      .columns(['node_id', 'created_at'])
      .execute();
    // Receipt nonces, kept ≥ 24 h past the receipt's expiry (iicp-cooperative-inference.md §10.3).
    await db.schema
      .createTable('credit_nonces')
      .addColumn('node_id', 'text', (c) => c.notNull())
      .addColumn('nonce', 'text', (c) => c.notNull())
      .addColumn('keep_until', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('credit_nonces_pk', ['node_id', 'nonce'])
      .execute();
    // Free grants per source IP (REP-05): the per-node gate alone is bypassed by new ids.
    await db.schema
      .createTable('credit_grant_ips')
      .addColumn('ip', 'text', (c) => c.primaryKey())
      .addColumn('granted_at', 'bigint', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('node_probes')
      .addColumn('node_id', 'text', (c) => c.primaryKey())
      .addColumn('next_probe_at', 'bigint', (c) => c.notNull())
      .addColumn('last_probe_at', 'bigint')
      .addColumn('last_ok', 'integer')
      .addColumn('consecutive_failures', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('latency_ms', 'double precision')
      .execute();
    await db.schema
      .createIndex('node_probes_next')
      .on('node_probes')
      .column('next_probe_at')
      .execute();
  },
};
