import Database from 'better-sqlite3';
import fc from 'fast-check';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { withStatementCache, type PreparingDatabase } from '../src/storage/statement-cache.ts';

/** An in-memory database whose `prepare` calls are counted. */
function counted(): { db: Database.Database; inner: PreparingDatabase; prepares: string[] } {
  const db = new Database(':memory:');
  const prepares: string[] = [];
  const inner: PreparingDatabase = {
    prepare: ((text: string) => {
      prepares.push(text);
      return db.prepare(text);
    }) as Database.Database['prepare'],
    close: () => db.close(),
  };
  return { db, inner, prepares };
}

describe('withStatementCache', () => {
  it('compiles each SQL text once and hands back the same statement', () => {
    const { inner, prepares } = counted();
    const cached = withStatementCache(inner);
    const a = cached.prepare('select 1 as x');
    const b = cached.prepare('select 1 as x');
    expect(b).toBe(a);
    expect(prepares).toEqual(['select 1 as x']);
    expect(cached.prepare('select 2 as x')).not.toBe(a);
    expect(prepares).toHaveLength(2);
    cached.close();
  });

  it('drops the least recently used statement past its capacity', () => {
    const { inner, prepares } = counted();
    const cached = withStatementCache(inner, 2);
    const a = cached.prepare('select 1');
    cached.prepare('select 2');
    expect(cached.prepare('select 1')).toBe(a); // 'select 1' is now the most recent
    cached.prepare('select 3'); // evicts 'select 2'
    expect(cached.prepare('select 1')).toBe(a);
    cached.prepare('select 2');
    expect(prepares).toEqual(['select 1', 'select 2', 'select 3', 'select 2']);
    cached.close();
  });

  it('prepares a fresh statement while the cached one is still iterating', () => {
    const { db, inner } = counted();
    db.exec('create table t (v integer)');
    db.exec('insert into t values (1), (2), (3)');
    const cached = withStatementCache(inner);
    const text = 'select v from t order by v';
    const outer = cached.prepare(text);
    const seen: unknown[] = [];
    for (const row of outer.iterate([])) {
      const inside = cached.prepare(text);
      expect(inside).not.toBe(outer);
      seen.push([row, inside.all([])]);
    }
    expect(seen).toHaveLength(3);
    // Once the iteration ended the cached statement is handed out again.
    expect(cached.prepare(text)).toBe(outer);
    cached.close();
  });

  it('matches a model LRU: a miss exactly when the text was never seen or was evicted', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.integer({ min: 0, max: 7 }), { maxLength: 60 }),
        (capacity, keys) => {
          const { inner, prepares } = counted();
          const cached = withStatementCache(inner, capacity);
          const model: string[] = [];
          const misses: string[] = [];
          for (const k of keys) {
            const text = `select ${k} as v`;
            const at = model.indexOf(text);
            if (at >= 0) model.splice(at, 1);
            else {
              misses.push(text);
              if (model.length >= capacity) model.shift();
            }
            model.push(text);
            const stmt = cached.prepare(text);
            expect(stmt.all([])).toEqual([{ v: k }]);
          }
          expect(prepares).toEqual(misses);
          cached.close();
        },
      ),
      { numRuns: 200 },
    );
  });

  it('behaves like the bare database under Kysely (reads, writes, transactions, errors)', async () => {
    const run = async (wrap: boolean) => {
      const sqlite = new Database(':memory:');
      const db = new Kysely<{ t: { id: number; v: string } }>({
        dialect: new SqliteDialect({ database: wrap ? withStatementCache(sqlite) : sqlite }),
      });
      await sql`create table t (id integer primary key, v text not null)`.execute(db);
      const out: unknown[] = [];
      for (let i = 0; i < 3; i++) {
        const ins = await db
          .insertInto('t')
          .values({ id: i, v: `v${i}` })
          .executeTakeFirst();
        out.push([ins.insertId, ins.numInsertedOrUpdatedRows]);
      }
      const upd = await db.updateTable('t').set({ v: 'w' }).where('id', '<', 2).executeTakeFirst();
      out.push(upd.numUpdatedRows);
      await db
        .transaction()
        .execute(async (trx) => {
          await trx.insertInto('t').values({ id: 9, v: 'x' }).execute();
          throw new Error('roll back');
        })
        .catch((e: Error) => out.push(e.message));
      await db
        .insertInto('t')
        .values({ id: 0, v: 'dup' })
        .execute()
        .catch((e: { code?: string }) => out.push(e.code));
      for (let i = 0; i < 2; i++) {
        out.push(await db.selectFrom('t').selectAll().orderBy('id').execute());
      }
      await db.destroy();
      expect(sqlite.open).toBe(false);
      return out;
    };
    const bare = await run(false);
    expect(await run(true)).toEqual(bare);
    expect(bare).toContain('SQLITE_CONSTRAINT_PRIMARYKEY');
  });
});
