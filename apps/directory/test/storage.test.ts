import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeStore, type NewNode } from '../src/storage/node-store.ts';
import { MIGRATIONS } from '../src/storage/migrations.ts';
import { openDatabase, type OpenedDatabase } from '../src/storage/open.ts';
import { BACKENDS, freshStorage, openFresh, type BackendName } from './support/stores.ts';

const T0 = 1_700_000_000_000;

function newNode(id: string, over: Partial<NewNode> = {}): NewNode {
  return {
    nodeId: id,
    tokenHash: `hash-${id}`,
    tokenLookup: `lk-${id}`,
    endpoint: `https://${id}.example.com`,
    region: 'eu-west',
    record: { region: 'eu-west', capabilities: [{ intent: 'urn:iicp:intent:llm:chat:v1' }] },
    observedIp: '203.0.113.7',
    livenessRttMs: 12.5,
    now: T0,
    ...over,
  };
}

describe.each(BACKENDS)('NodeStore on %s', (kind: BackendName) => {
  let opened: OpenedDatabase & { cleanup(): void };
  let store: NodeStore;

  beforeAll(async () => {
    opened = await openFresh(kind);
    store = new NodeStore(opened.db);
    const report = await store.migrate();
    expect(report.applied).toEqual(Object.keys(MIGRATIONS));
  });
  afterAll(async () => {
    await opened?.close();
    opened?.cleanup();
  });

  it('migrations are idempotent and report the current version', async () => {
    const again = await store.migrate();
    expect(again.applied).toEqual([]);
    expect(again.current).toBe(Object.keys(MIGRATIONS).at(-1));
    expect(opened.kind).toBe(kind);
  });

  it('inserts and reads back a node with defaults', async () => {
    expect(await store.insert(newNode('n1'))).toBe(true);
    const n = await store.get('n1');
    expect(n).toMatchObject({
      nodeId: 'n1',
      reputation: 0.5,
      completedTasksCount: 0,
      available: true,
      status: 'active',
      lastSeen: T0,
      tokenVersion: 1,
      observedIp: '203.0.113.7',
      livenessRttMs: 12.5,
    });
    expect(n?.record).toEqual(newNode('n1').record);
    expect(typeof n?.lastSeen).toBe('number');
    expect(await store.get('missing')).toBeUndefined();
  });

  it('refuses a second insert of a live id', async () => {
    expect(await store.insert(newNode('n1', { tokenHash: 'other' }))).toBe(false);
    expect((await store.get('n1'))?.tokenHash).toBe('hash-n1');
  });

  it('rotates the token by compare-and-swap: one of two refreshes wins', async () => {
    const before = (await store.get('n1'))!;
    const a = store.refresh({
      ...newNode('n1', { tokenHash: 'A', tokenLookup: 'la', now: T0 + 1 }),
      expectedTokenVersion: before.tokenVersion,
    });
    const b = store.refresh({
      ...newNode('n1', { tokenHash: 'B', tokenLookup: 'lb', now: T0 + 1 }),
      expectedTokenVersion: before.tokenVersion,
    });
    const results = await Promise.all([a, b]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const after = (await store.get('n1'))!;
    expect(after.tokenVersion).toBe(before.tokenVersion + 1);
    expect(after.tokenHash).toBe(results[0] ? 'A' : 'B');
    expect(await store.findByTokenLookup(results[0] ? 'la' : 'lb')).toHaveLength(1);
    expect(await store.findByTokenLookup('lk-n1')).toHaveLength(0);
  });

  it('applies a metrics batch at most once', async () => {
    expect(await store.applyMetricsBatch('n1', 'batch-1', 3, T0 + 2)).toBe(true);
    expect(await store.applyMetricsBatch('n1', 'batch-1', 3, T0 + 3)).toBe(false);
    expect(await store.applyMetricsBatch('n1', 'batch-2', 2, T0 + 4)).toBe(true);
    expect((await store.get('n1'))?.completedTasksCount).toBe(5);
  });

  it('heartbeat updates runtime state and revives a dormant node', async () => {
    await store.insert(newNode('n2'));
    const dormant = await store.markDormant(T0 + 1, T0 + 100_000);
    expect(dormant).toContain('n2');
    expect((await store.get('n2'))?.status).toBe('dormant');
    expect(
      await store.heartbeat('n2', {
        load: 0.25,
        activeJobs: 2,
        available: true,
        observedIp: '198.51.100.1',
        now: T0 + 200_000,
      }),
    ).toBe(true);
    expect(await store.get('n2')).toMatchObject({
      status: 'active',
      dormantSince: null,
      load: 0.25,
      activeJobs: 2,
      observedIp: '198.51.100.1',
      lastSeen: T0 + 200_000,
    });
    expect(
      await store.heartbeat('nope', {
        load: 0,
        activeJobs: 0,
        available: true,
        observedIp: null,
        now: T0,
      }),
    ).toBe(false);
  });

  it('keeps address history per node and event', async () => {
    await store.recordAddress('n2', '198.51.100.1', 'heartbeat', T0 + 1);
    await store.recordAddress('n2', '198.51.100.1', 'heartbeat', T0 + 2);
    await store.recordAddress('n2', '203.0.113.7', 'register', T0);
    const h = await store.addressHistory('n2');
    expect(h).toHaveLength(2);
    expect(h[0]).toMatchObject({
      ip: '198.51.100.1',
      event: 'heartbeat',
      firstSeen: T0 + 1,
      lastSeen: T0 + 2,
      seenCount: 2,
    });
    expect(await store.addressHistory('n1')).toEqual([]);
  });

  it('counts rate-limit hits atomically in a rolling window', async () => {
    const W = 60_000;
    const now = T0 - (T0 % W) + 1000;
    const hits = await Promise.all(
      Array.from({ length: 10 }, () => store.hitRateLimit('ip:1', 7, W, now)),
    );
    expect(hits.map((h) => h.hits).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(hits.filter((h) => h.allowed)).toHaveLength(7);
    expect(hits[0]!.retryAfterS).toBe(59);
    // One window later the previous burst still weighs (59/60 of 10 hits): refused.
    const next = await store.hitRateLimit('ip:1', 7, W, now + W);
    expect(next).toMatchObject({ allowed: false, hits: 1 });
    expect(next.retryAfterS).toBeGreaterThanOrEqual(1);
    expect(next.retryAfterS).toBeLessThanOrEqual(59);
    // Two windows later the burst has rolled out.
    const later = await store.hitRateLimit('ip:1', 7, W, now + 2 * W);
    expect(later).toMatchObject({ allowed: true, hits: 1 });
    expect((await store.hitRateLimit('ip:2', 7, W, now)).hits).toBe(1);
  });

  it('deregisters by compare-and-swap, leaving a tombstone that a new register takes over', async () => {
    await store.insert(newNode('n3'));
    const n = (await store.get('n3'))!;
    expect(await store.deregister('n3', n.tokenVersion + 5, T0 + 1)).toBe(false);
    expect(await store.deregister('n3', n.tokenVersion, T0 + 1)).toBe(true);
    expect(await store.get('n3')).toBeUndefined();
    expect((await store.changedSince(T0 + 1)).map((r) => [r.nodeId, r.status])).toContainEqual([
      'n3',
      'deregistered',
    ]);
    expect(await store.insert(newNode('n3', { tokenHash: 'fresh' }))).toBe(true);
    expect((await store.get('n3'))?.tokenHash).toBe('fresh');
  });

  it('prunes long-dormant nodes, old history and old rate windows', async () => {
    await store.insert(newNode('n4'));
    await store.markDormant(T0 + 1, T0 + 10);
    const deleted = await store.prune({
      dormantBefore: T0 + 11,
      tombstoneBefore: 0,
      historyBefore: T0 + 2,
      rateLimitBefore: T0 + 10 * 60_000,
    });
    expect(deleted).toBeGreaterThanOrEqual(1);
    expect(await store.get('n4')).toBeUndefined();
    expect((await store.addressHistory('n2')).map((r) => r.ip)).toEqual(['198.51.100.1']);
    const counts = await store.countByStatus();
    expect(counts.active).toBeGreaterThanOrEqual(1);
  });

  it('pages through the current nodes exactly as listCurrent lists them', async () => {
    for (let i = 0; i < 7; i++) await store.insert(newNode(`pg-${i}`));
    await store.deregister('pg-3', (await store.get('pg-3'))!.tokenVersion, T0 + 1);
    const all = await store.listCurrent();
    for (const size of [1, 3, all.length, all.length + 5]) {
      const paged = [];
      for await (const page of store.listCurrentPages(size)) {
        expect(page.length).toBeGreaterThan(0);
        expect(page.length).toBeLessThanOrEqual(size);
        paged.push(...page);
      }
      const ids = paged.map((n) => n.nodeId);
      expect(ids).toEqual([...ids].sort());
      expect(ids).not.toContain('pg-3');
      const byId = (a: { nodeId: string }, b: { nodeId: string }) =>
        a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0;
      expect(paged).toEqual([...all].sort(byId));
    }
  });

  it('answers the readiness ping', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
  });
});

describe('two handles on one database share state', () => {
  it.each(BACKENDS)('%s: rate limit and rotation agree across handles', async (kind) => {
    const s = await freshStorage(kind);
    const a = await openDatabase(s.config);
    const b = await openDatabase(s.config);
    try {
      const sa = new NodeStore(a.db);
      const sb = new NodeStore(b.db);
      // PostgreSQL serialises concurrent migrators with a lock; one SQLite file is
      // served by one process, so there they run one after the other.
      if (kind === 'postgres') await Promise.all([sa.migrate(), sb.migrate()]);
      else await sa.migrate().then(() => sb.migrate());
      const now = T0;
      const r = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          (i % 2 ? sa : sb).hitRateLimit('shared', 5, 60_000, now),
        ),
      );
      expect(r.filter((x) => x.allowed)).toHaveLength(5);
      await sa.insert(newNode('x'));
      const v = (await sb.get('x'))!.tokenVersion;
      const wins = await Promise.all([
        sa.refresh({ ...newNode('x', { tokenHash: 'A' }), expectedTokenVersion: v }),
        sb.refresh({ ...newNode('x', { tokenHash: 'B' }), expectedTokenVersion: v }),
      ]);
      expect(wins.filter(Boolean)).toHaveLength(1);
    } finally {
      await a.close();
      await b.close();
      s.cleanup();
    }
  });
});
