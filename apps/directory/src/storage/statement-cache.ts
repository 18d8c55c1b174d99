/**
 * A prepared-statement cache in front of better-sqlite3 for Kysely's SqliteDialect.
 *
 * Kysely's SQLite driver calls `db.prepare(sql)` for every query it runs; compiling the
 * same heartbeat UPDATE again on every group commit was a fifth to a third of the
 * writer's CPU. Statements are reusable (each `all`/`run` binds afresh and resets the
 * statement when done), so the same compiled statement can answer every query with the
 * same SQL text. Kysely only reads `reader` and calls `all`, `run` and `iterate`; it
 * never switches a statement into `raw`, `pluck`, `expand` or `safeIntegers` mode, so a
 * cached statement behaves exactly like a fresh one.
 */
import type Database from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/**
 * Distinct SQL texts kept compiled. The directory issues a few dozen fixed statements;
 * the rest (IN lists of varying length, multi-row inserts) vary with their input, so the
 * least recently used are dropped past this bound.
 */
export const STATEMENT_CACHE_SIZE = 256;

/** What the cache needs from a better-sqlite3 database (a test can count `prepare`s). */
export type PreparingDatabase = Pick<Database.Database, 'prepare' | 'close'>;

/**
 * Wrap `sqlite` so `prepare` returns a cached statement for SQL it has compiled before
 * (least recently used first out past `capacity`). A cached statement still iterating
 * (`busy`, a `streamQuery` in progress) is not handed out twice: that call gets a fresh,
 * uncached statement. `close` drops the cache and closes the database.
 */
export function withStatementCache(
  sqlite: PreparingDatabase,
  capacity: number = STATEMENT_CACHE_SIZE,
): SqliteDatabase {
  const cache = new Map<string, Database.Statement>();
  return {
    prepare(sql: string): SqliteStatement {
      const hit = cache.get(sql);
      if (hit !== undefined) {
        if (hit.busy) return sqlite.prepare(sql);
        // Re-inserting moves the key to the end of the Map's order: most recent last.
        cache.delete(sql);
        cache.set(sql, hit);
        return hit;
      }
      const stmt = sqlite.prepare(sql);
      if (cache.size >= capacity) {
        const oldest = cache.keys().next();
        if (oldest.done !== true) cache.delete(oldest.value);
      }
      cache.set(sql, stmt);
      return stmt;
    },
    close(): void {
      cache.clear();
      sqlite.close();
    },
  };
}
