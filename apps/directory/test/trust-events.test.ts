import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryKey, GENESIS_ROOT, verifyEventChain } from '@iicp/crypto';
import { DirectoryKeyResponseSchema, EventsResponseSchema } from '@iicp/wire';
import { buildApp } from '../src/app.ts';
import { DIRECTORY_KEY_FILE_NAME, didWebOf } from '../src/identity.ts';
import { verifyEventLog } from '../src/replay.ts';
import { verifyLog } from '../src/verify-log.ts';
import { LOCAL_CHAIN, PUBLISHED_CHAIN } from '../src/storage/event-log.ts';
import { BACKENDS, freshStorage, type TestStorage } from './support/stores.ts';
import {
  bearer,
  makeApp,
  registerBody,
  startHealthStub,
  TEST_SIGNING_KEY,
  type HealthStub,
  type TestApp,
} from './support/harness.ts';

const REPLICA_TOKEN = 'replica-secret-for-tests-0123456789';
const CX = {
  algorithm: 'X25519',
  encoding: 'base64url',
  key: 'A'.repeat(43),
  key_id: 'k1',
  not_after: '2099-01-01T00:00:00Z',
  hybrid_pq: false,
};

async function allEvents(t: TestApp, chain: 'events' | 'local') {
  const out = [];
  for await (const e of t.app.directory.events.all(chain)) out.push(e);
  return out;
}

describe.each(BACKENDS)('signed event log on %s', (kind) => {
  let t: TestApp;
  let stub: HealthStub;

  beforeAll(async () => {
    stub = await startHealthStub();
    t = await makeApp(kind, { registerRateLimit: 10_000, replicaTokens: [REPLICA_TOKEN] });
  });
  afterAll(async () => {
    await t?.close();
    await stub?.close();
  });

  async function register(extra: Record<string, unknown> = {}) {
    const r = await t.app.inject({
      method: 'POST',
      url: '/v1/register',
      payload: registerBody(stub.url, extra),
    });
    expect(r.statusCode).toBe(201);
    return r.json() as { node_id: string; node_token: string };
  }

  it('serves the directory key under both prefixes and a did:web document with the same key', async () => {
    for (const p of ['/v1', '/api/v1']) {
      const r = await t.app.inject(`${p}/directory-key`);
      expect(r.statusCode).toBe(200);
      const body = DirectoryKeyResponseSchema.parse(r.json());
      expect(body.public_key).toBe(t.app.directory.key.publicKeyHex);
    }
    const doc = (await t.app.inject('/.well-known/did.json')).json();
    expect(doc.id).toBe('did:web:directory.test.invalid');
    expect(doc.verificationMethod[0]).toMatchObject({
      id: 'did:web:directory.test.invalid#key-1',
      type: 'JsonWebKey2020',
      controller: 'did:web:directory.test.invalid',
      publicKeyJwk: { kty: 'OKP', crv: 'Ed25519', x: t.app.directory.key.publicKeyBase64Url },
    });
    expect(Buffer.from(doc.verificationMethod[0].publicKeyJwk.x, 'base64url').toString('hex')).toBe(
      t.app.directory.key.publicKeyHex,
    );
    expect(doc.assertionMethod).toEqual(['did:web:directory.test.invalid#key-1']);
    expect(doc.service.map((s: { type: string }) => s.type)).toEqual([
      'IicpEventLog',
      'IicpTrustedReplicas',
    ]);
    expect(doc.service[0].serviceEndpoint).toBe('https://directory.test.invalid/v1/events');
    expect((await t.app.inject('/.well-known/iicp-replicas.json')).json()).toMatchObject({
      schema_version: '2',
      replicas: [],
    });
  });

  it('logs every registration, refresh, key change and deregistration, signed, from genesis', async () => {
    const before = (await t.app.directory.events.state(PUBLISHED_CHAIN)).head?.seq ?? 0;
    const a = await register();
    const refreshed = await t.app.inject({
      method: 'POST',
      url: '/v1/register',
      payload: registerBody(stub.url, { node_id: a.node_id, current_node_token: a.node_token }),
    });
    expect(refreshed.statusCode).toBe(201);
    const tok2 = refreshed.json().node_token as string;
    const keyed = await t.app.inject({
      method: 'POST',
      url: '/v1/register',
      payload: registerBody(stub.url, {
        node_id: a.node_id,
        current_node_token: tok2,
        cx_public_key: CX,
      }),
    });
    expect(keyed.statusCode).toBe(201);
    // A heartbeat of an active node is state, not an event.
    const hb = await t.app.inject({
      method: 'POST',
      url: '/v1/heartbeat',
      headers: bearer(keyed.json().node_token),
      payload: { node_id: a.node_id },
    });
    expect(hb.statusCode).toBe(200);
    const dereg = await t.app.inject({
      method: 'DELETE',
      url: '/v1/register',
      headers: bearer(keyed.json().node_token),
      payload: { node_id: a.node_id },
    });
    expect(dereg.statusCode).toBe(200);

    const r = await t.app.inject(`/api/v1/events?since_seq=${before}`);
    expect(r.statusCode).toBe(200);
    const page = EventsResponseSchema.parse(r.json());
    const mine = page.events.filter((e) => e.payload['node_id'] === a.node_id);
    expect(mine.map((e) => [e.event_type, e.payload['kind'] ?? e.payload['reason']])).toEqual([
      ['REGISTER', 'new'],
      ['REGISTER', 'refresh'],
      ['REGISTER', 'key_change'],
      ['DEREGISTER', 'explicit'],
    ]);
    expect(mine[2]!.payload['cx_public_key']).toEqual(CX);
    for (const e of mine) {
      expect(e.signer_did).toBe('did:web:directory.test.invalid');
      expect(e.sig).toMatch(/^[0-9a-f]{128}$/);
    }
    // The whole published chain verifies from GENESIS_ROOT with the served key.
    const all = await allEvents(t, PUBLISHED_CHAIN);
    expect(all[0]!.seq).toBe(1);
    expect(all[0]!.prev_hash).toBe(GENESIS_ROOT);
    expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => i + 1));
    const v = verifyEventChain(all, { publicKey: t.app.directory.key.publicKey });
    expect(v).toMatchObject({ ok: true, verified: all.length });
    // D-039: genesis_hash is the SHA-256 of the first signature, on every page.
    expect(page.genesis_hash).toBe(createHash('sha256').update(all[0]!.sig).digest('hex'));
    expect(page.next_seq).toBe(page.events.at(-1)!.seq);
  });

  it('pages with since_seq, limit and event_types, and rejects a bad query with 422', async () => {
    for (let i = 0; i < 3; i++) await register();
    const first = EventsResponseSchema.parse(
      (await t.app.inject('/v1/events?since_seq=0&limit=2')).json(),
    );
    expect(first.events.map((e) => e.seq)).toEqual([1, 2]);
    const next = EventsResponseSchema.parse(
      (await t.app.inject(`/v1/events?since_seq=${first.next_seq}&limit=2`)).json(),
    );
    expect(next.events[0]!.seq).toBe(3);
    const dereg = EventsResponseSchema.parse(
      (await t.app.inject('/v1/events?event_types=DEREGISTER')).json(),
    );
    expect(dereg.events.length).toBeGreaterThan(0);
    expect(new Set(dereg.events.map((e) => e.event_type))).toEqual(new Set(['DEREGISTER']));
    for (const bad of ['since_seq=-1', 'limit=0', 'event_types=register', 'since_seq=x']) {
      const r = await t.app.inject(`/v1/events?${bad}`);
      expect(r.statusCode).toBe(422);
      expect(r.json().error.code).toBe('validation_error');
    }
  });

  it('eviction and revival go on the local chain, never on /v1/events; expiry is DEREGISTER expired', async () => {
    const n = await register();
    t.clock.now += 91_000;
    const swept = await t.app.upkeep.sweep();
    expect(swept).toContain(n.node_id);
    const local = await allEvents(t, LOCAL_CHAIN);
    const evict = local.filter((e) => e.payload['node_id'] === n.node_id);
    expect(evict.map((e) => e.event_type)).toEqual(['EVICT']);
    expect(evict[0]!.payload).toMatchObject({ reason: 'heartbeat_timeout' });
    expect(verifyEventChain(local, { publicKey: t.app.directory.key.publicKey }).ok).toBe(true);
    // Revive by heartbeat: REACTIVATE.
    const hb = await t.app.inject({
      method: 'POST',
      url: '/v1/heartbeat',
      headers: bearer(n.node_token),
      payload: { node_id: n.node_id },
    });
    expect(hb.statusCode).toBe(200);
    const local2 = (await allEvents(t, LOCAL_CHAIN)).filter(
      (e) => e.payload['node_id'] === n.node_id,
    );
    expect(local2.map((e) => e.event_type)).toEqual(['EVICT', 'REACTIVATE']);
    const pub = (await t.app.inject('/v1/events?limit=1000')).json().events as {
      event_type: string;
    }[];
    expect(pub.some((e) => e.event_type === 'EVICT' || e.event_type === 'REACTIVATE')).toBe(false);
    // Dormant past retention: pruned with DEREGISTER{reason:"expired"} in the same transaction.
    const m = await register();
    t.clock.now += 91_000;
    await t.app.upkeep.sweep();
    const store = t.app.directory.store;
    await store.prune({
      dormantBefore: t.clock.now + 1,
      tombstoneBefore: 0,
      historyBefore: 0,
      rateLimitBefore: 0,
      now: t.clock.now,
    });
    expect(await store.get(m.node_id)).toBeUndefined();
    const exp = (await allEvents(t, PUBLISHED_CHAIN)).filter(
      (e) => e.payload['node_id'] === m.node_id,
    );
    expect(exp.map((e) => [e.event_type, e.payload['reason'] ?? e.payload['kind']])).toEqual([
      ['REGISTER', 'new'],
      ['DEREGISTER', 'expired'],
    ]);
  });

  it('replays to exactly the live node set (verifyEventLog), and detects a tampered event', async () => {
    const d = t.app.directory;
    await register();
    await register({ cx_public_key: CX });
    const ok = await verifyEventLog(d.store.db, d.events.kind, d.events, d.key.publicKey);
    expect(ok.mismatched).toEqual([]);
    expect(ok.ok).toBe(true);
    expect(ok.liveNodes).toBeGreaterThan(0);
    expect(ok.replayedNodes).toBe(ok.liveNodes);
    // Another key does not verify the chain.
    const wrong = await verifyEventLog(
      d.store.db,
      d.events.kind,
      d.events,
      DirectoryKey.generate().publicKey,
    );
    expect(wrong.ok).toBe(false);
    expect(wrong.published.failure?.reason).toBe('signature');
    // Edit one stored payload: the signature of that event fails at its seq.
    const victim = await d.store.db
      .selectFrom('events')
      .select(['seq', 'payload'])
      .where('chain', '=', 'events')
      .where('seq', '=', 2)
      .executeTakeFirstOrThrow();
    await d.store.db
      .updateTable('events')
      .set({ payload: victim.payload.replace('eu-west', 'eu-east') })
      .where('chain', '=', 'events')
      .where('seq', '=', 2)
      .execute();
    const bad = await verifyEventLog(d.store.db, d.events.kind, d.events, d.key.publicKey);
    expect(bad.ok).toBe(false);
    expect(bad.published.failure).toEqual({ reason: 'signature', seq: 2 });
    await d.store.db
      .updateTable('events')
      .set({ payload: victim.payload })
      .where('chain', '=', 'events')
      .where('seq', '=', 2)
      .execute();
  });

  it('GET /v1/snapshot: 401 without the replica bearer, else state plus the chain head', async () => {
    expect((await t.app.inject('/v1/snapshot')).statusCode).toBe(401);
    expect((await t.app.inject({ url: '/v1/snapshot', headers: bearer('nope') })).statusCode).toBe(
      401,
    );
    const r = await t.app.inject({ url: '/api/v1/snapshot', headers: bearer(REPLICA_TOKEN) });
    expect(r.statusCode).toBe(200);
    const s = r.json();
    const state = await t.app.directory.events.state(PUBLISHED_CHAIN);
    expect(s).toMatchObject({
      schema_version: 'v0.3.0',
      snapshot_seq: state.head!.seq,
      genesis_hash: state.genesisHash,
      chain_head: state.head,
    });
    const events = (await t.app.inject('/v1/events')).json();
    expect(s.genesis_hash).toBe(events.genesis_hash);
    const live = await t.app.directory.store.listCurrent();
    expect(s.nodes.map((n: { node_id: string }) => n.node_id).sort()).toEqual(
      live.map((n) => n.nodeId).sort(),
    );
    expect(s.capabilities.length).toBeGreaterThanOrEqual(live.length);
    expect(JSON.stringify(s)).not.toMatch(/token_hash|\$2[aby]\$/);
  });
});

describe('directory identity', () => {
  it('SQLite: generates the key once into the data directory (0600) and reuses it', async () => {
    const s: TestStorage = await freshStorage('sqlite');
    try {
      const a = await buildApp({ ...s.config, timers: false });
      const pk = a.directory.key.publicKeyHex;
      await a.close();
      const file = join(s.config.dataDir!, DIRECTORY_KEY_FILE_NAME);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const b = await buildApp({ ...s.config, timers: false });
      expect(b.directory.key.publicKeyHex).toBe(pk);
      await b.close();
    } finally {
      s.cleanup();
    }
  });

  it('PostgreSQL without a configured key refuses to start, naming the remedy', async () => {
    const s = await freshStorage('postgres');
    await expect(buildApp({ ...s.config, timers: false })).rejects.toThrow(
      /IICP_DIRECTORY_SIGNING_KEY.*--signing-key-file/,
    );
    const app = await buildApp({ ...s.config, timers: false, signingKey: TEST_SIGNING_KEY });
    expect(app.directory.key.publicKeyHex).toBe(
      DirectoryKey.fromHex(TEST_SIGNING_KEY).publicKeyHex,
    );
    await app.close();
  });

  it('verify-log: OK on an intact data directory, FAILED after an event is edited, refused without a key', async () => {
    const s: TestStorage = await freshStorage('sqlite');
    const stub = await startHealthStub();
    try {
      const dataDir = s.config.dataDir!;
      const lines: string[] = [];
      expect(
        await verifyLog({ dataDir: `${dataDir}/none` }).catch((e: Error) => e.message),
      ).toMatch(/no directory key/);
      const app = await buildApp({
        dataDir,
        timers: false,
        allowPrivateEndpoints: true,
        bcryptCost: 4,
      });
      for (let i = 0; i < 2; i++) {
        const r = await app.inject({
          method: 'POST',
          url: '/v1/register',
          payload: registerBody(stub.url),
        });
        expect(r.statusCode).toBe(201);
      }
      await app.close();
      expect(await verifyLog({ dataDir }, (l) => lines.push(l))).toBe(true);
      expect(lines[0]).toMatch(
        /verify-log: OK: published chain 2 event\(s\) ok .*replay reproduces the 2 live node\(s\) exactly/,
      );
      const again = await buildApp({ dataDir, timers: false });
      await again.directory.store.db
        .updateTable('events')
        .set({ ts_ms: 1 })
        .where('seq', '=', 1)
        .where('chain', '=', 'events')
        .execute();
      await again.close();
      expect(await verifyLog({ dataDir }, (l) => lines.push(l))).toBe(false);
      expect(lines[1]).toMatch(/FAILED: published chain BROKEN at seq 1 \(signature\)/);
    } finally {
      await stub.close();
      s.cleanup();
    }
  });

  it('did:web encodes ports and paths', () => {
    expect(didWebOf('https://dir.example.org')).toBe('did:web:dir.example.org');
    expect(didWebOf('http://127.0.0.1:8090/')).toBe('did:web:127.0.0.1%3A8090');
    expect(didWebOf('https://example.org/iicp/dir')).toBe('did:web:example.org:iicp:dir');
  });
});
