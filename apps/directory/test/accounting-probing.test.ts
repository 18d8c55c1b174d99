/**
 * Active probing: a budget that scales with the node count, claims that two instances
 * never double, one failure never demotes, N consecutive failures do (out of discover,
 * REACHABILITY_DEMOTE), a success restores, and the RTT becomes latency evidence.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ActiveProber } from '../src/probing.ts';
import { registerNode } from './support/accounting.ts';
import { makeApp, startHealthStub, type HealthStub, type TestApp } from './support/harness.ts';
import { BACKENDS, type BackendName } from './support/stores.ts';

const INTENT = 'urn:iicp:intent:x.acct:probe:v1';

describe.each(BACKENDS)('active probing on %s', (kind: BackendName) => {
  let t: TestApp;
  let stub: HealthStub;
  beforeAll(async () => {
    stub = await startHealthStub();
    t = await makeApp(kind, {
      probing: { intervalMs: 300_000, tickMs: 5_000, demoteAfter: 3, confirmAfterMs: 30_000 },
    });
  });
  afterEach(() => {
    stub.healthy = true;
  });
  afterAll(async () => {
    await t.close();
    await stub.close();
  });

  it('scales the per-tick budget with the node count, within bounds', () => {
    const p = t.app.activeProber;
    expect(p.budget(0)).toBe(1);
    expect(p.budget(60)).toBe(1);
    expect(p.budget(6000)).toBe(100);
    expect(p.budget(1_000_000)).toBe(200);
  });

  it('demotes only after confirmed failures and restores on success', async () => {
    const ack = await registerNode(t.app, stub.url, { capabilities: [{ intent: INTENT }] });
    // The node keeps heartbeating (else it would leave discover by staleness alone).
    const listed = async (): Promise<boolean> => {
      const hb = await t.app.inject({
        method: 'POST',
        url: '/v1/heartbeat',
        headers: { authorization: `Bearer ${ack.node_token}` },
        payload: { node_id: ack.node_id },
      });
      expect(hb.statusCode).toBe(200);
      return (await t.app.inject({ method: 'GET', url: `/v1/discover?intent=${INTENT}` }))
        .json()
        .nodes.some((n: { node_id: string }) => n.node_id === ack.node_id);
    };
    const store = t.app.directory.accounting.store;
    const events = t.app.directory.events;
    const demotesBefore = (await events.page('local', 0, 10_000, ['REACHABILITY_DEMOTE'])).events
      .length;
    // Not due right after registration.
    const seen: string[] = [];
    const prober = new ActiveProber(t.app.directory, async (e) => {
      seen.push(e);
      return stub.healthy ? 12.5 : undefined;
    });
    expect((await prober.tick()).probed).toBe(0);
    stub.healthy = false;
    t.clock.now += 300_000;
    expect((await prober.tick()).probed).toBe(1);
    expect(seen).toEqual([stub.url]);
    expect(await listed()).toBe(true); // one failure never demotes
    t.clock.now += 30_000; // the confirmation probe comes sooner
    const second = await prober.tick();
    expect(second).toMatchObject({ probed: 1, demoted: 0 });
    expect(await listed()).toBe(true);
    t.clock.now += 30_000;
    expect(await prober.tick()).toMatchObject({ probed: 1, demoted: 1 });
    expect(await listed()).toBe(false);
    const demotes = (await events.page('local', 0, 10_000, ['REACHABILITY_DEMOTE'])).events;
    expect(demotes.length).toBe(demotesBefore + 1);
    expect(demotes.at(-1)!.payload).toMatchObject({ node_id: ack.node_id, to: 'unreachable' });
    // A heartbeat does not bring a dead route back; a successful probe does.
    expect(await listed()).toBe(false);
    stub.healthy = true;
    t.clock.now += 300_000;
    expect(await prober.tick()).toMatchObject({ restored: 1 });
    expect(await listed()).toBe(true);
    expect((await t.app.directory.store.get(ack.node_id))?.livenessRttMs).toBe(12.5);
    const row = await store.dueProbes(t.clock.now, 10);
    expect(row.map((r) => r.nodeId)).not.toContain(ack.node_id);
  });

  it('a probe claimed by one instance is not taken by another', async () => {
    const ack = await registerNode(t.app, stub.url);
    const store = t.app.directory.accounting.store;
    const now = t.clock.now + 400_000;
    const both = await Promise.all([
      store.claimProbe(ack.node_id, now, now + 300_000),
      store.claimProbe(ack.node_id, now, now + 300_000),
    ]);
    expect(both.filter(Boolean)).toHaveLength(1);
  });
});
