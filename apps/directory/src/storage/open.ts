/**
 * Opening the directory database: SQLite (better-sqlite3, the embedded default) or
 * PostgreSQL (pg) behind one Kysely instance.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { IicpLocalError } from '@iicp/wire';
import type { DirectoryDatabase } from './schema.ts';
import { withStatementCache } from './statement-cache.ts';

export type StorageKind = 'sqlite' | 'postgres';

export interface StorageConfig {
  /** `postgres://…` selects PostgreSQL; otherwise SQLite under `dataDir`. */
  readonly databaseUrl?: string | undefined;
  /** Directory holding `directory.sqlite` (default `./.iicp/directory`). */
  readonly dataDir?: string | undefined;
  /** SQLite only: `:memory:` for throwaway tests. */
  readonly sqliteFile?: string | undefined;
  /** PostgreSQL pool size (default 10). */
  readonly poolSize?: number | undefined;
}

export interface OpenedDatabase {
  readonly db: Kysely<DirectoryDatabase>;
  readonly kind: StorageKind;
  /** Human description without credentials, for the startup line. */
  readonly description: string;
  close(): Promise<void>;
}

export const DEFAULT_DATA_DIR = './.iicp/directory';
export const SQLITE_FILE_NAME = 'directory.sqlite';

const PG_INT8 = 20;

/**
 * `bigint` columns hold epoch milliseconds, well inside 2^53; node-postgres returns
 * int8 as strings unless told otherwise. Scoped to this pool, not set globally.
 */
const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === PG_INT8) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

/** The database URL with any password replaced, safe to print. */
export function redactDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable url)';
  }
}

export function isPostgresUrl(url: string | undefined): url is string {
  return url !== undefined && /^postgres(ql)?:\/\//i.test(url);
}

export async function openDatabase(cfg: StorageConfig): Promise<OpenedDatabase> {
  if (cfg.databaseUrl !== undefined && cfg.databaseUrl !== '') {
    if (!isPostgresUrl(cfg.databaseUrl)) {
      throw new IicpLocalError(
        'bad_config',
        '--database-url must start with postgres:// or postgresql://',
      );
    }
    const pool = new pg.Pool({
      connectionString: cfg.databaseUrl,
      max: cfg.poolSize ?? 10,
      types: pgTypes,
    });
    // An idle client losing its server must not crash the process; the next query reports it.
    pool.on('error', () => undefined);
    const db = new Kysely<DirectoryDatabase>({ dialect: new PostgresDialect({ pool }) });
    return {
      db,
      kind: 'postgres',
      description: `postgresql ${redactDatabaseUrl(cfg.databaseUrl)}`,
      close: () => db.destroy(),
    };
  }
  let file: string;
  if (cfg.sqliteFile === ':memory:') {
    file = ':memory:';
  } else {
    const dir = resolve(cfg.dataDir ?? DEFAULT_DATA_DIR);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    file = cfg.sqliteFile ?? resolve(dir, SQLITE_FILE_NAME);
  }
  const sqlite = new Database(file);
  // WAL lets readers run beside the writer; busy_timeout waits out a concurrent
  // writer (e.g. `migrate` while serving) instead of failing at once; NORMAL
  // synchronous is durable across process crashes in WAL mode.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  // Kysely prepares every query afresh; the cache compiles each distinct SQL text once.
  const db = new Kysely<DirectoryDatabase>({
    dialect: new SqliteDialect({ database: withStatementCache(sqlite) }),
  });
  return {
    db,
    kind: 'sqlite',
    description: `sqlite ${file}`,
    close: () => db.destroy(),
  };
}
