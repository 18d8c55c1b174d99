import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryKey, verifyEventChain } from '@iicp/crypto';
import { diffNodeSets, liveNodeSet, replayEventLog, verifyEventLog } from '../src/replay.ts';
import { EventLog, LOCAL_CHAIN, PUBLISHED_CHAIN } from '../src/storage/event-log.ts';
import { NodeStore } from '../src/storage/node-store.ts';
import { openDatabase, type OpenedDatabase } from '../src/storage/open.ts';
import { BACKENDS, freshStorage, openFresh, type BackendName } from './support/stores.ts';

const T0 = 1_700_000_000_000;
const IDS = Array.from(
  { length: 12 },
  (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
);
const REGIONS = ['eu-west', 'us-east', 'ap-south'];

type Op =
  | { t: 'register'; id: number; region: number; cx: boolean }
  | { t: 'refresh'; id: number; region: number; cx: boolean }
  | { t: 'heartbeat'; id: number }
  | { t: 'deregister'; id: number }
  | { t: 'evict' }
  | { t: 'prune' }
  | { t: 'tick'; ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('register' as const),
      id: fc.nat(11),
      region: fc.nat(2),
      cx: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('refresh' as const),
      id: fc.nat(11),
      region: fc.nat(2),
      cx: fc.boolean(),
    }),
  },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('heartbeat' as const), id: fc.nat(11) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('deregister' as const), id: fc.nat(11) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'evict' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'prune' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('tick' as const),
      ms: fc.integer({ min: 1, max: 60_000 }),
    }),
  },
);

function record(region: string, cx: boolean): Record<string, unknown> {
  return {
    region,
    capabilities: [{ intent: 'urn:iicp:intent:llm:chat:v1', models: ['m1'], max_tokens: 4096 }],
    pricing: { credit_cost_multiplier: 1.5, pricing_model: 'per_token' },
    ...(cx ? { cx_public_key: { algorithm: 'X25519', key: 'k'.repeat(43), key_id: region } } : {}),
  };
}

/** Apply one operation the way the routes would (skipping ones the state makes moot). */
async function apply(store: NodeStore, clock: { now: number }, op: Op): Promise<void> {
  const now = clock.now;
  switch (op.t) {
    case 'register': {
      const id = IDS[op.id]!;
      if (await store.get(id)) return;
      await store.insert({
        nodeId: id,
        tokenHash: 'h',
        tokenLookup: `lk${op.id}`,
        endpoint: `https://n${op.id}-${now}.example.com`,
        region: REGIONS[op.region]!,
        record: record(REGIONS[op.region]!, op.cx),
        observedIp: null,
        livenessRttMs: null,
        now,
      });
      return;
    }
    case 'refresh': {
      const n = await store.get(IDS[op.id]!);
      if (!n) return;
      await store.refresh({
        nodeId: n.nodeId,
        tokenHash: 'h2',
        tokenLookup: n.tokenLookup,
        endpoint: `https://n${op.id}-${now}.example.com`,
        region: REGIONS[op.region]!,
        record: record(REGIONS[op.region]!, op.cx),
        observedIp: null,
        livenessRttMs: null,
        now,
        expectedTokenVersion: n.tokenVersion,
        previousRecord: n.record,
      });
      return;
    }
    case 'heartbeat':
      await store.heartbeat(IDS[op.id]!, {
        load: 0.1,
        activeJobs: 0,
        available: true,
        observedIp: null,
        now,
      });
      return;
    case 'deregister': {
      const n = await store.get(IDS[op.id]!);
      if (n) await store.deregister(n.nodeId, n.tokenVersion, now);
      return;
    }
    case 'evict':
      clock.now += 91_000;
      await store.markDormant(clock.now - 90_000, clock.now);
      return;
    case 'prune':
      await store.prune({
        dormantBefore: now - 60_000,
        tombstoneBefore: now - 3_600_000,
        historyBefore: 0,
        rateLimitBefore: 0,
        now,
      });
      return;
    case 'tick':
      clock.now += op.ms;
      return;
  }
}

async function readAll(log: EventLog, chain: 'events' | 'local') {
  const out = [];
  for await (const e of log.all(chain)) out.push(e);
  return out;
}

describe.each(BACKENDS)('event log replay on %s', (kind: BackendName) => {
  let opened: OpenedDatabase & { cleanup(): void };
  let store: NodeStore;
  let log: EventLog;
  const key = DirectoryKey.generate();

  beforeAll(async () => {
    opened = await openFresh(kind);
    log = new EventLog(opened.db, key, 'did:web:replay.test', opened.kind);
    store = new NodeStore(opened.db, log);
    await store.migrate();
  });
  afterAll(async () => {
    await opened?.close();
    opened?.cleanup();
  });

  it('property: after 1,000 random register/refresh/heartbeat/deregister/evict/prune operations, replay == live node set', async () => {
    const clock = { now: T0 };
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1000, maxLength: 1000 }), async (ops) => {
        for (const op of ops) await apply(store, clock, op);
        const pub = await readAll(log, PUBLISHED_CHAIN);
        const loc = await readAll(log, LOCAL_CHAIN);
        expect(verifyEventChain(pub, { publicKey: key.publicKey }).ok).toBe(true);
        expect(verifyEventChain(loc, { publicKey: key.publicKey }).ok).toBe(true);
        const live = liveNodeSet(await store.listCurrent());
        const replayed = replayEventLog(pub, loc);
        expect(diffNodeSets(replayed, live)).toEqual([]);
        expect([...replayed.values()].map((n) => n.status).sort()).toEqual(
          [...live.values()].map((n) => n.status).sort(),
        );
        const report = await verifyEventLog(opened.db, opened.kind, log, key.publicKey);
        expect(report.ok).toBe(true);
      }),
      { numRuns: kind === 'sqlite' ? 2 : 1 },
    );
    // The run really exercised every kind of event.
    const types = new Set((await readAll(log, PUBLISHED_CHAIN)).map((e) => e.event_type));
    const local = new Set((await readAll(log, LOCAL_CHAIN)).map((e) => e.event_type));
    expect(types).toEqual(new Set(['REGISTER', 'DEREGISTER']));
    expect(local).toEqual(new Set(['EVICT', 'REACTIVATE']));
  });

  it('a dropped event breaks the chain at its successor', async () => {
    const pub = await readAll(log, PUBLISHED_CHAIN);
    const v = verifyEventChain([...pub.slice(0, 3), ...pub.slice(4)], { publicKey: key.publicKey });
    expect(v).toEqual({ ok: false, reason: 'chain_link', index: 3 });
  });
});

describe('two directory instances appending to one PostgreSQL', () => {
  it('never fork the chain: concurrent registrations through both get contiguous, verifying seqs', async () => {
    const s = await freshStorage('postgres');
    const key = DirectoryKey.generate();
    const a = await openDatabase({ ...s.config, poolSize: 4 });
    const b = await openDatabase({ ...s.config, poolSize: 4 });
    try {
      const storeA = new NodeStore(a.db, new EventLog(a.db, key, 'did:web:a', 'postgres'));
      const storeB = new NodeStore(b.db, new EventLog(b.db, key, 'did:web:a', 'postgres'));
      await storeA.migrate();
      await storeB.migrate();
      const jobs = Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? storeA : storeB).insert({
          nodeId: `node-${i}`,
          tokenHash: 'h',
          tokenLookup: `lk${i}`,
          endpoint: `https://n${i}.example.com`,
          region: 'eu-west',
          record: record('eu-west', false),
          observedIp: null,
          livenessRttMs: null,
          now: T0 + i,
        }),
      );
      expect(await Promise.all(jobs)).toEqual(jobs.map(() => true));
      const log = new EventLog(a.db, key, 'did:web:a', 'postgres');
      const pub = await readAll(log, PUBLISHED_CHAIN);
      expect(pub.map((e) => e.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      expect(verifyEventChain(pub, { publicKey: key.publicKey })).toMatchObject({
        ok: true,
        verified: 40,
      });
      expect((await verifyEventLog(a.db, 'postgres', log, key.publicKey)).ok).toBe(true);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
