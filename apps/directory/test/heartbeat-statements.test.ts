/**
 * The batched heartbeat statements pinned against the one-row statements they replace:
 * for random heartbeats (several per node, dormant, rotated and unknown nodes among
 * them), `heartbeatMany` + `reactivate` + `recordAddresses` leave the `nodes` and
 * `address_history` tables exactly as `heartbeat` + `recordAddress` one by one do; and
 * the token-lookup index of the node map answers only for the node holding that key.
 */
import fc from 'fast-check';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeTokenCache, nodeTokenFingerprint } from '@iicp/crypto';
import { DiscoverIndex } from '@iicp/scoring';
import { resolveAccountingSettings, type Accounting } from '../src/accounting.ts';
import { NodeMap, tokenLookupKey } from '../src/context.ts';
import { HeartbeatWriter } from '../src/heartbeat-writer.ts';
import { SecretVault } from '../src/secret-vault.ts';
import { migrateToLatest } from '../src/storage/migrations.ts';
import { NodeStore, type HeartbeatRow, type StoredNode } from '../src/storage/node-store.ts';
import type { OpenedDatabase } from '../src/storage/open.ts';
import type { DirectoryDatabase } from '../src/storage/schema.ts';
import { BACKENDS, openFresh } from './support/stores.ts';

const NODES = ['n-a', 'n-b', 'n-c', 'n-d', 'n-e'];
const IPS = ['10.0.0.1', '10.0.0.2', '2001:db8::1'];

interface Beat {
  node: number;
  versionSkew: boolean;
  load: number;
  activeJobs: number;
  available: boolean;
  ip: number;
  dt: number;
}

const beatArb: fc.Arbitrary<Beat> = fc.record({
  node: fc.integer({ min: 0, max: NODES.length }), // NODES.length: an unknown node
  versionSkew: fc.boolean(),
  load: fc.double({ min: 0, max: 1, noNaN: true }),
  activeJobs: fc.integer({ min: 0, max: 64 }),
  available: fc.boolean(),
  ip: fc.integer({ min: 0, max: IPS.length - 1 }),
  dt: fc.integer({ min: 0, max: 3 }),
});

const T0 = 1_700_000_000_000;

// Nodes in these tests have no credentials: the vault and the accounting store go unused.
const accounting: Accounting = {
  store: undefined as never,
  vault: new SecretVault(),
  settings: resolveAccountingSettings(),
};
const view = () => ({
  nodes: new NodeMap(),
  index: new DiscoverIndex(),
  tokens: new NodeTokenCache(),
});

async function reset(db: Kysely<DirectoryDatabase>, store: NodeStore): Promise<void> {
  await db.deleteFrom('address_history').execute();
  await db.deleteFrom('nodes').execute();
  for (const [i, id] of NODES.entries()) {
    await store.insert({
      nodeId: id,
      tokenHash: `hash-${id}`,
      tokenLookup: `lk-${id}`,
      endpoint: `http://10.1.0.${i}:9484`,
      region: 'eu-west',
      record: { node_id: id, limits: { max_concurrent: 4 } },
      observedIp: null,
      livenessRttMs: 1,
      now: T0,
    });
  }
  // One dormant node and one rotated (version 2) node.
  await db
    .updateTable('nodes')
    .set({ status: 'dormant', dormant_since: T0 + 1, available: 0 })
    .where('node_id', '=', 'n-d')
    .execute();
  await db.updateTable('nodes').set({ token_version: 2 }).where('node_id', '=', 'n-e').execute();
}

const dump = async (db: Kysely<DirectoryDatabase>) => ({
  nodes: await db.selectFrom('nodes').selectAll().orderBy('node_id').execute(),
  addresses: await db
    .selectFrom('address_history')
    .selectAll()
    .orderBy('node_id')
    .orderBy('ip')
    .orderBy('event')
    .execute(),
});

describe.each(BACKENDS)('batched heartbeat statements on %s', (kind) => {
  let one: OpenedDatabase & { cleanup(): void };
  let many: OpenedDatabase & { cleanup(): void };
  beforeAll(async () => {
    one = await openFresh(kind);
    many = await openFresh(kind);
    await migrateToLatest(one.db as never);
    await migrateToLatest(many.db as never);
  });
  afterAll(async () => {
    await one?.close();
    await many?.close();
    one?.cleanup();
    many?.cleanup();
  });

  it('leave the tables exactly as the one-row statements do', async () => {
    const sOne = new NodeStore(one.db);
    const sMany = new NodeStore(many.db);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(beatArb, { minLength: 1, maxLength: 8 }), {
          minLength: 1,
          maxLength: 4,
        }),
        async (batches) => {
          await reset(one.db, sOne);
          await reset(many.db, sMany);
          let now = T0 + 10;
          for (const batch of batches) {
            const beats = batch.map((b) => {
              now += b.dt;
              const nodeId = NODES[b.node] ?? 'n-unknown';
              // Every beat authenticates at version 1: n-e (version 2) always misses.
              const tokenVersion = b.versionSkew && nodeId === 'n-a' ? 7 : 1;
              return {
                nodeId,
                tokenVersion,
                load: b.load,
                activeJobs: b.activeJobs,
                available: b.available,
                observedIp: IPS[b.ip]!,
                now,
              } satisfies HeartbeatRow;
            });
            // Reference: one heartbeat after the other, with the version guard the
            // route's authentication implies (a beat at a stale version is refused).
            for (const r of beats) {
              const row = await one.db
                .selectFrom('nodes')
                .select('token_version')
                .where('node_id', '=', r.nodeId)
                .executeTakeFirst();
              if (!row || Number(row.token_version) !== r.tokenVersion) continue;
              if (await sOne.heartbeat(r.nodeId, r)) {
                await sOne.recordAddress(r.nodeId, r.observedIp, 'heartbeat', r.now);
              }
            }
            // The writer: every beat of the batch submitted in one tick.
            const writer = new HeartbeatWriter(sMany, accounting, view());
            const results = await Promise.all(
              beats.map((r) =>
                writer.submit({
                  node: { nodeId: r.nodeId, tokenVersion: r.tokenVersion } as StoredNode,
                  load: r.load,
                  activeJobs: r.activeJobs,
                  available: r.available,
                  observedIp: r.observedIp,
                  now: r.now,
                }),
              ),
            );
            // A miss is what the route re-authenticates and writes once more.
            for (const [k, r] of beats.entries()) {
              if (results[k] === undefined && r.tokenVersion === 1 && r.nodeId !== 'n-e') {
                await writer.submit({
                  node: { nodeId: r.nodeId, tokenVersion: r.tokenVersion } as StoredNode,
                  load: r.load,
                  activeJobs: r.activeJobs,
                  available: r.available,
                  observedIp: r.observedIp,
                  now: r.now,
                });
              }
            }
          }
          expect(await dump(many.db)).toEqual(await dump(one.db));
        },
      ),
      { numRuns: kind === 'sqlite' ? 150 : 25 },
    );
  });
});

describe('NodeMap token lookup index', () => {
  const node = (id: string, lookup: string): StoredNode =>
    ({ nodeId: id, tokenLookup: lookup }) as StoredNode;
  const opArb = fc.oneof(
    fc.record({
      op: fc.constant('set' as const),
      id: fc.integer({ min: 0, max: 5 }),
      key: fc.integer({ min: 0, max: 4 }),
    }),
    fc.record({ op: fc.constant('delete' as const), id: fc.integer({ min: 0, max: 5 }) }),
  );

  it('answers only with a held node holding that key, and always for an unshared key', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        const m = new NodeMap();
        for (const o of ops) {
          if (o.op === 'set') m.set(`n${o.id}`, node(`n${o.id}`, `k${o.key}`));
          else m.delete(`n${o.id}`);
        }
        for (let k = 0; k < 5; k++) {
          const key = `k${k}`;
          const r = m.byTokenLookup(key);
          const holders = [...m.values()].filter((n) => n.tokenLookup === key);
          if (r) {
            expect(m.get(r.nodeId)).toBe(r);
            expect(r.tokenLookup).toBe(key);
          }
          if (holders.length === 0) expect(r).toBeUndefined();
        }
        m.clear();
        for (let k = 0; k < 5; k++) expect(m.byTokenLookup(`k${k}`)).toBeUndefined();
      }),
      { numRuns: 400 },
    );
  });

  it('with one key per node, finds every held node by its key', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        const m = new NodeMap();
        for (const o of ops) {
          // The key follows the node id here (a rotation changes it to a fresh one).
          if (o.op === 'set') m.set(`n${o.id}`, node(`n${o.id}`, `k${o.id}-${o.key}`));
          else m.delete(`n${o.id}`);
        }
        for (const n of m.values()) expect(m.byTokenLookup(n.tokenLookup)).toBe(n);
      }),
      { numRuns: 400 },
    );
  });
});

describe('token lookup key', () => {
  it('is the first 16 hex digits of the SHA-256 fingerprint the stored rows were keyed with', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (token) => {
        expect(tokenLookupKey(token)).toBe(nodeTokenFingerprint(token).slice(0, 16));
      }),
      { numRuns: 300 },
    );
  });
});
