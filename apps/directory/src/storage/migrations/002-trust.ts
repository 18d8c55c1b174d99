/**
 * Migration `0002_trust`: the signed event log (iicp-federated-directory.md §5.1;
 * spec/decisions.md D-037..D-039). Two chains share one table: `events` is the
 * published chain served at `GET /v1/events` (the DIR-FED-16 set), `local` is the
 * seed-local chain for EVICT/REACTIVATE and other audit events (D-038). Each chain has
 * one head row; an append locks it, so two instances on one PostgreSQL never fork a
 * chain. Append-only: no statement updates or deletes an event row.
 */
import { sql, type Kysely, type Migration } from 'kysely';

export const trustMigration: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('event_chains')
      .addColumn('chain', 'text', (c) => c.primaryKey())
      // 0 = empty: the first event gets seq 1 (so `since_seq=0`, the default, includes it).
      .addColumn('head_seq', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('head_sig', 'text')
      // D-039: SHA-256 hex of the first event's signature, fixed when the chain starts.
      .addColumn('genesis_hash', 'text')
      .execute();
    await sql`insert into event_chains (chain, head_seq) values ('events', 0), ('local', 0)`.execute(
      db,
    );

    await db.schema
      .createTable('events')
      .addColumn('chain', 'text', (c) => c.notNull())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('event_id', 'text', (c) => c.notNull())
      .addColumn('event_type', 'text', (c) => c.notNull())
      .addColumn('ts_ms', 'bigint', (c) => c.notNull())
      // Also inside the signed payload (D-038); this copy is only an index.
      .addColumn('node_id', 'text')
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('prev_hash', 'text', (c) => c.notNull())
      .addColumn('sig', 'text', (c) => c.notNull())
      .addColumn('signer_did', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('events_pk', ['chain', 'seq'])
      .execute();
    await db.schema
      .createIndex('events_node')
      .on('events')
      .columns(['chain', 'node_id', 'seq'])
      .execute();
    await db.schema
      .createIndex('events_type')
      .on('events')
      .columns(['chain', 'event_type', 'seq'])
      .execute();
  },
};
