import { describe, expect, it } from 'vitest';
import { DirectoryKey, verifyEventChain } from '@iicp/crypto';
import { diffNodeSets, liveNodeSet, replayEventLog, verifyEventLog } from '../src/replay.ts';
import { EventLog, LOCAL_CHAIN, PUBLISHED_CHAIN } from '../src/storage/event-log.ts';
import { NodeStore } from '../src/storage/node-store.ts';
import { BACKENDS, openFresh, type BackendName } from './support/stores.ts';

/*
 * The one-off back-fill of a database that predates the event log: one REGISTER
 * {kind:"import"} per current node in (registered_at, node_id) order and an EVICT per
 * dormant one. It reads the nodes a page at a time; the events must be the same
 * whatever the page size, including pages that split nodes registered at the same time.
 */
const T0 = 1_767_225_600_000;
const KEY = DirectoryKey.generate();

/** Nine nodes: registration times with ties, three dormant, one deregistered. */
async function seedWithoutLog(store: NodeStore): Promise<void> {
  await store.migrate();
  for (let i = 0; i < 9; i++) {
    const nodeId = `c0000000-0000-4000-8000-${(9 - i).toString(16).padStart(12, '0')}`;
    const ok = await store.insert({
      nodeId,
      tokenHash: '!',
      tokenLookup: `lookup${i}`,
      endpoint: `https://node-${i}.example.com`,
      region: i % 2 ? 'eu-west' : 'us-east',
      record: { capabilities: [{ intent: 'urn:iicp:intent:llm:chat:v1' }], n: i },
      observedIp: null,
      livenessRttMs: null,
      // Three nodes per registration time: ties are ordered by node_id.
      now: T0 + Math.floor(i / 3) * 1000,
    });
    expect(ok).toBe(true);
  }
  // The first three (oldest last_seen) go dormant; one of the others is deregistered.
  expect(await store.markDormant(T0 + 500, T0 + 100_000)).toHaveLength(3);
  expect(await store.deregister('c0000000-0000-4000-8000-000000000001', 1, T0 + 100_000)).toBe(
    true,
  );
}

async function backfilled(kind: BackendName, pageSize: number) {
  const opened = await openFresh(kind);
  try {
    await seedWithoutLog(new NodeStore(opened.db));
    const log = new EventLog(opened.db, KEY, 'did:web:backfill.test', opened.kind);
    const store = new NodeStore(opened.db, log);
    const count = await store.backfillEvents(T0 + 200_000, pageSize);
    const again = await store.backfillEvents(T0 + 300_000, pageSize);
    const read = async (chain: typeof PUBLISHED_CHAIN) => {
      const out = [];
      for await (const e of log.all(chain)) out.push(e);
      return out;
    };
    const pub = await read(PUBLISHED_CHAIN);
    const loc = await read(LOCAL_CHAIN);
    const live = await store.listCurrent();
    const report = await verifyEventLog(opened.db, opened.kind, log, KEY.publicKey);
    return { count, again, pub, loc, live, report };
  } finally {
    await opened.close();
    opened.cleanup();
  }
}

/** What two back-fills must agree on (event ids and signatures are fresh each time). */
const essence = (events: { seq: number; event_type: string; payload: unknown }[]) =>
  events.map((e) => [e.seq, e.event_type, e.payload]);

describe.each(BACKENDS)('event back-fill on %s', (kind: BackendName) => {
  it('logs every current node once, in registration order, a page at a time', async () => {
    const paged = await backfilled(kind, 2);
    expect(paged.count).toBe(8);
    expect(paged.again).toBe(0);
    expect(paged.pub.map((e) => e.event_type)).toEqual(Array(8).fill('REGISTER'));
    expect(paged.pub.every((e) => (e.payload as { kind?: string }).kind === 'import')).toBe(true);
    const order = [...paged.live]
      .sort((a, b) => a.registeredAt - b.registeredAt || (a.nodeId < b.nodeId ? -1 : 1))
      .map((n) => n.nodeId);
    expect(paged.pub.map((e) => (e.payload as { node_id: string }).node_id)).toEqual(order);
    expect(paged.loc.map((e) => e.event_type)).toEqual(['EVICT', 'EVICT', 'EVICT']);
    expect(verifyEventChain(paged.pub, { publicKey: KEY.publicKey }).ok).toBe(true);
    expect(verifyEventChain(paged.loc, { publicKey: KEY.publicKey }).ok).toBe(true);
    expect(diffNodeSets(replayEventLog(paged.pub, paged.loc), liveNodeSet(paged.live))).toEqual([]);
    expect(paged.report.ok).toBe(true);
  });

  it('writes the same events whatever the page size', async () => {
    const [one, two, all] = await Promise.all([
      backfilled(kind, 1),
      backfilled(kind, 2),
      backfilled(kind, 1000),
    ]);
    expect(essence(one.pub)).toEqual(essence(all.pub));
    expect(essence(two.pub)).toEqual(essence(all.pub));
    expect(essence(one.loc)).toEqual(essence(all.loc));
    expect(essence(two.loc)).toEqual(essence(all.loc));
  });
});
