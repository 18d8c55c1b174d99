/**
 * The heartbeat fast path (issue 11): heartbeats authenticated from the nodes an
 * instance holds, group-committed per tick, the held node updated from the written row,
 * and the index refresh that reads records only for re-registered nodes. On SQLite and
 * PostgreSQL; the behaviour seen over HTTP is the one of one-heartbeat-one-transaction.
 */
import { challengeResponse } from '@iicp/crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LOCAL_CHAIN } from '../src/storage/event-log.ts';
import { heartbeat, registerNode, type Ack } from './support/accounting.ts';
import {
  bearer,
  makeApp,
  startHealthStub,
  type HealthStub,
  type TestApp,
} from './support/harness.ts';
import { BACKENDS, freshStorage, type TestStorage } from './support/stores.ts';

const beat = (t: TestApp, ack: Ack, extra: Record<string, unknown> = {}) =>
  t.app.inject({
    method: 'POST',
    url: '/v1/heartbeat',
    headers: bearer(ack.node_token),
    payload: { node_id: ack.node_id, ...extra },
  });

async function seenCount(t: TestApp, nodeId: string): Promise<number> {
  const rows = await t.app.directory.store.addressHistory(nodeId);
  return rows.filter((r) => r.event === 'heartbeat').reduce((s, r) => s + r.seenCount, 0);
}

describe.each(BACKENDS)('heartbeat group commit on %s', (kind) => {
  let t: TestApp;
  let stub: HealthStub;
  beforeAll(async () => {
    stub = await startHealthStub();
    t = await makeApp(kind);
  });
  afterAll(async () => {
    await t?.close();
    await stub?.close();
  });

  it('concurrent heartbeats of many nodes share a transaction and are each acknowledged and stored', async () => {
    const acks: Ack[] = [];
    for (let i = 0; i < 12; i++) acks.push(await registerNode(t.app, stub.url));
    const store = t.app.directory.store;
    // PostgreSQL writes the common case in one statement, SQLite in one transaction.
    const spy = vi.spyOn(store, kind === 'postgres' ? 'heartbeatManyPostgres' : 'heartbeatMany');
    try {
      const res = await Promise.all(acks.map((a, i) => beat(t, a, { load: i / 12 })));
      for (const r of res) {
        expect(r.statusCode, r.body).toBe(200);
        expect(r.json().challenge).toMatch(/^[0-9a-f]{32}$/);
        expect(r.json().reputation_score).toBe(0.5);
      }
      // Grouped: fewer statements than heartbeats (one, when they all arrive in one tick).
      expect(spy.mock.calls.length).toBeGreaterThan(0);
      expect(spy.mock.calls.length).toBeLessThan(acks.length);
    } finally {
      spy.mockRestore();
    }
    for (const [i, a] of acks.entries()) {
      const row = await store.get(a.node_id);
      expect(row?.load).toBeCloseTo(i / 12, 12);
      expect(row?.lastSeen).toBe(t.clock.now);
      // The held node is the row as written, without a re-read.
      expect(t.app.directory.nodes.get(a.node_id)).toEqual(row);
      expect(await seenCount(t, a.node_id)).toBe(1);
    }
  });

  it('two heartbeats of one node in one batch: both acknowledged, both counted, one challenge outstanding', async () => {
    const a = await registerNode(t.app, stub.url);
    const [r1, r2] = await Promise.all([beat(t, a, { load: 0.25 }), beat(t, a, { load: 0.75 })]);
    expect(r1!.statusCode).toBe(200);
    expect(r2!.statusCode).toBe(200);
    expect(await seenCount(t, a.node_id)).toBe(2);
    const c1 = r1!.json().challenge as string;
    const c2 = r2!.json().challenge as string;
    expect(c1).not.toBe(c2);
    const creds = await t.app.directory.accounting.store.credentials(a.node_id);
    expect([c1, c2]).toContain(creds?.challenge);
    // The outstanding one verifies liveness; the superseded one does not.
    const stale = creds?.challenge === c1 ? c2 : c1;
    await heartbeat(t.app, a, { challenge_response: challengeResponse(a.node_hmac_key, stale) });
    expect(
      (await t.app.directory.accounting.store.credentials(a.node_id))?.verified_liveness_at,
    ).toBeNull();
    const p = await heartbeat(t.app, a);
    t.clock.now += 1_000;
    await heartbeat(t.app, a, {
      challenge_response: challengeResponse(a.node_hmac_key, p['challenge'] as string),
    });
    expect(
      (await t.app.directory.accounting.store.credentials(a.node_id))?.verified_liveness_at,
    ).toBe(t.clock.now);
  });

  it('a dormant node comes back with REACTIVATE stating when its dormancy began', async () => {
    const a = await registerNode(t.app, stub.url);
    t.clock.now += 91_000;
    const sweptAt = t.clock.now;
    expect(await t.app.upkeep.sweep()).toContain(a.node_id);
    expect(t.app.directory.nodes.get(a.node_id)?.status).toBe('dormant');
    t.clock.now += 30_000;
    await heartbeat(t.app, a);
    expect(t.app.directory.nodes.get(a.node_id)?.status).toBe('active');
    expect((await t.app.directory.store.get(a.node_id))?.status).toBe('active');
    const events = [];
    for await (const e of t.app.directory.events.all(LOCAL_CHAIN)) {
      if (e.payload['node_id'] === a.node_id && e.event_type === 'REACTIVATE') events.push(e);
    }
    expect(events).toHaveLength(1);
    expect(events[0]!.payload).toMatchObject({
      dormant_since_ms: sweptAt,
      dormancy_duration_seconds: 30,
    });
  });

  it('metrics batches still apply at most once and move the reported reputation', async () => {
    const a = await registerNode(t.app, stub.url);
    const batch = { metrics: { tasks_success: 5, tasks_failed: 0 }, metrics_batch_id: 'b-1' };
    const p1 = await heartbeat(t.app, a, batch);
    const p2 = await heartbeat(t.app, a, batch);
    expect(p1['metrics_batch_accepted']).toBe('b-1');
    expect(p2['metrics_batch_accepted']).toBe('b-1');
    const row = await t.app.directory.store.get(a.node_id);
    expect(row?.completedTasksCount).toBe(5);
    expect(p1['reputation_score']).toBe(row?.reputation);
    expect(row!.reputation).toBeGreaterThan(0.5);
    expect(t.app.directory.nodes.get(a.node_id)).toEqual(row);
  });
});

describe.each(BACKENDS)('two instances on one %s database: the fast path stays exact', (kind) => {
  let storage: TestStorage;
  let a: TestApp;
  let b: TestApp;
  let stub: HealthStub;
  beforeAll(async () => {
    stub = await startHealthStub();
    storage = await freshStorage(kind);
    a = await makeApp(kind, {}, storage);
    b = await makeApp(kind, {}, storage);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await stub?.close();
    storage?.cleanup();
  });

  it('a token rotated or revoked on the other instance is refused at once, before any refresh', async () => {
    const ack = await registerNode(a.app, stub.url);
    expect((await beat(a, ack)).statusCode).toBe(200);
    // Rotated on B: A still holds the old hash and a cache entry for the old token.
    const again = await registerNode(b.app, stub.url, {
      node_id: ack.node_id,
      current_node_token: ack.node_token,
    });
    expect((await beat(a, ack)).statusCode).toBe(401);
    expect((await beat(a, again)).statusCode).toBe(200);
    // A caught up with the rotation through that heartbeat.
    expect(a.app.directory.nodes.get(ack.node_id)?.tokenVersion).toBe(2);
    expect((await beat(a, again)).statusCode).toBe(200);
    // Revoked on B: refused on A at once.
    const del = await b.app.inject({
      method: 'DELETE',
      url: '/v1/register',
      headers: bearer(again.node_token),
      payload: { node_id: ack.node_id },
    });
    expect(del.statusCode).toBe(200);
    const refused = await beat(a, again);
    expect(refused.statusCode).toBe(401);
    expect(refused.json().error.code).toBe('unauthorized');
  });

  it("refresh carries the other instance's heartbeats without reading records, and re-reads a re-registration", async () => {
    const ack = await registerNode(a.app, stub.url);
    await b.app.upkeep.refresh();
    expect(b.app.directory.nodes.get(ack.node_id)?.load).toBe(0);
    a.clock.now += 1_000;
    await heartbeat(a.app, ack, { load: 0.5, active_jobs: 2 });
    const getMany = vi.spyOn(b.app.directory.store, 'getMany');
    try {
      await b.app.upkeep.refresh();
      expect(getMany).not.toHaveBeenCalled();
      const held = b.app.directory.nodes.get(ack.node_id);
      expect(held).toEqual(await b.app.directory.store.get(ack.node_id));
      expect(held?.load).toBe(0.5);
      expect(held?.activeJobs).toBe(2);
      // Re-registered on A in another region: B reads that row in full.
      a.clock.now += 1_000;
      await registerNode(a.app, stub.url, {
        node_id: ack.node_id,
        current_node_token: ack.node_token,
        region: 'ap-south',
      });
      await b.app.upkeep.refresh();
      expect(getMany).toHaveBeenCalledTimes(1);
      expect(b.app.directory.nodes.get(ack.node_id)?.region).toBe('ap-south');
      expect(b.app.directory.nodes.get(ack.node_id)).toEqual(
        await b.app.directory.store.get(ack.node_id),
      );
    } finally {
      getMany.mockRestore();
    }
  });
});
