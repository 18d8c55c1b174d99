/**
 * The directory's migrations: versioned, append-only. A published migration is never
 * edited; a change is a new entry with the next number. They run on every start
 * (and via `iicp-directory migrate`), on SQLite and PostgreSQL alike, so each uses only
 * column types both dialects understand.
 */
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { IicpLocalError } from '@iicp/wire';
import { trustMigration } from './migrations/002-trust.ts';
import { accountingMigration } from './migrations/003-accounting.ts';

const initial: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('nodes')
      .addColumn('node_id', 'text', (c) => c.primaryKey())
      .addColumn('token_hash', 'text', (c) => c.notNull())
      .addColumn('token_lookup', 'text', (c) => c.notNull())
      .addColumn('token_version', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('endpoint', 'text', (c) => c.notNull())
      .addColumn('region', 'text', (c) => c.notNull())
      .addColumn('record', 'text', (c) => c.notNull())
      .addColumn('load', 'double precision', (c) => c.notNull().defaultTo(0))
      .addColumn('active_jobs', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('available', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('last_seen', 'bigint', (c) => c.notNull())
      .addColumn('dormant_since', 'bigint')
      .addColumn('reputation', 'double precision', (c) => c.notNull().defaultTo(0.5))
      .addColumn('completed_tasks_count', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('last_metrics_batch_id', 'text')
      .addColumn('observed_ip', 'text')
      .addColumn('status', 'text', (c) => c.notNull().defaultTo('active'))
      .addColumn('liveness_rtt_ms', 'double precision')
      .addColumn('registered_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('nodes_token_lookup').on('nodes').column('token_lookup').execute();
    await db.schema.createIndex('nodes_updated_at').on('nodes').column('updated_at').execute();
    await db.schema
      .createIndex('nodes_status_last_seen')
      .on('nodes')
      .columns(['status', 'last_seen'])
      .execute();

    await db.schema
      .createTable('address_history')
      .addColumn('node_id', 'text', (c) => c.notNull())
      .addColumn('ip', 'text', (c) => c.notNull())
      .addColumn('event', 'text', (c) => c.notNull())
      .addColumn('first_seen', 'bigint', (c) => c.notNull())
      .addColumn('last_seen', 'bigint', (c) => c.notNull())
      .addColumn('seen_count', 'integer', (c) => c.notNull().defaultTo(1))
      .addPrimaryKeyConstraint('address_history_pk', ['node_id', 'ip', 'event'])
      .execute();
    await db.schema
      .createIndex('address_history_last_seen')
      .on('address_history')
      .column('last_seen')
      .execute();

    await db.schema
      .createTable('rate_limits')
      .addColumn('bucket', 'text', (c) => c.primaryKey())
      .addColumn('window_start', 'bigint', (c) => c.notNull())
      .addColumn('hits', 'integer', (c) => c.notNull())
      .execute();
  },
};

/**
 * Every migration, in order. Names sort lexically, which is the order Kysely applies
 * them. The signed event log (issue 6) arrives as `0002_...`, never as an edit here.
 */
export const MIGRATIONS: Readonly<Record<string, Migration>> = Object.freeze({
  '0001_control_plane': initial,
  '0002_trust': trustMigration,
  '0003_accounting': accountingMigration,
});

class StaticProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return { ...MIGRATIONS };
  }
}

export interface MigrationReport {
  /** Names applied by this run (empty when the database was already current). */
  readonly applied: readonly string[];
  /** The newest migration now in the database. */
  readonly current: string | undefined;
}

/** Bring the database to the latest migration; a failure throws and changes nothing further. */
export async function migrateToLatest(db: Kysely<unknown>): Promise<MigrationReport> {
  const migrator = new Migrator({
    db,
    provider: new StaticProvider(),
    migrationTableName: 'iicp_migrations',
    migrationLockTableName: 'iicp_migrations_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    throw new IicpLocalError(
      'migration_failed',
      `database migration failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const applied = (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  const all = await migrator.getMigrations();
  const done = all.filter((m) => m.executedAt !== undefined).map((m) => m.name);
  return { applied, current: done.at(-1) };
}

/** Cheap liveness query for the readiness route. */
export async function pingDatabase(db: Kysely<unknown>): Promise<void> {
  await sql`select 1`.execute(db);
}
