/**
 * Outcome-v2 reputation (D-022: deltas, +0.10 per heartbeat, +0.20 per hour, clamp),
 * proxy telemetry (E032 before the body, reporter gate, Sybil quorum, EMA, outlier
 * weight) and audit reports (D-029: never a reputation change; limits and griefing cap).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyReputationDelta,
  HOURLY_WINDOW_MS,
  MAX_HOURLY_GAIN,
  outcomeDelta,
  type ReputationState,
} from '../src/reputation.ts';
import { heartbeat, registerNode, successBatch, type Ack } from './support/accounting.ts';
import {
  bearer,
  makeApp,
  startHealthStub,
  type HealthStub,
  type TestApp,
} from './support/harness.ts';
import { BACKENDS, type BackendName } from './support/stores.ts';

const DAY = 24 * 3600_000;

describe('outcome-v2 rule', () => {
  it('sums deltas, caps the positive part at 0.10 and never caps the negative part', () => {
    expect(outcomeDelta({ success: 1, failed: 0, timedOut: 0 }).positive).toBeCloseTo(0.01);
    expect(outcomeDelta({ success: 100, failed: 0, timedOut: 0 })).toEqual({
      positive: 0.1,
      negative: 0,
    });
    expect(outcomeDelta({ success: 0, failed: 3, timedOut: 2 }).negative).toBeCloseTo(-0.35);
    expect(outcomeDelta({ success: 10, failed: 1, timedOut: 0 }).positive).toBeCloseTo(0.05);
  });

  it('keeps the score in [0,1] and the hourly gain within 0.20 for any sequence', () => {
    const step = fc.record({
      success: fc.nat(200),
      failed: fc.nat(5),
      timedOut: fc.nat(3),
      dt: fc.integer({ min: 0, max: 2 * HOURLY_WINDOW_MS }),
    });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        let s: ReputationState = { score: 0.5, hourlyGain: 0, windowStart: null };
        let now = 1_000_000;
        const gains: { at: number; g: number }[] = [];
        for (const st of steps) {
          now += st.dt;
          const before = s.score;
          const d = outcomeDelta(st);
          s = applyReputationDelta(s, d, now);
          expect(s.score).toBeGreaterThanOrEqual(0);
          expect(s.score).toBeLessThanOrEqual(1);
          expect(s.hourlyGain).toBeLessThanOrEqual(MAX_HOURLY_GAIN + 1e-9);
          if (d.negative < 0) expect(s.score).toBeLessThanOrEqual(before);
          if (s.score > before) gains.push({ at: now, g: s.score - before });
        }
        // No window of the rule's own making ever held more than 0.20 of gain.
        expect(s.hourlyGain).toBeLessThanOrEqual(MAX_HOURLY_GAIN + 1e-9);
      }),
      { numRuns: 300 },
    );
  });

  it('opens a fresh window an hour after the first positive event', () => {
    let s: ReputationState = { score: 0.5, hourlyGain: 0, windowStart: null };
    for (let i = 0; i < 5; i++)
      s = applyReputationDelta(s, { positive: 0.1, negative: 0 }, 1000 + i);
    expect(s.score).toBeCloseTo(0.7);
    s = applyReputationDelta(s, { positive: 0.1, negative: 0 }, 1000 + HOURLY_WINDOW_MS);
    expect(s.score).toBeCloseTo(0.8);
  });
});

describe.each(BACKENDS)('reputation, telemetry and audit on %s', (kind: BackendName) => {
  let t: TestApp;
  let stub: HealthStub;
  beforeAll(async () => {
    stub = await startHealthStub();
    t = await makeApp(kind);
  });
  afterAll(async () => {
    await t.close();
    await stub.close();
  });

  const rep = async (id: string): Promise<number> =>
    (await t.app.directory.store.get(id))!.reputation;

  /** Registered 3 days ago with reputation 0.6: passes the reporter gate. */
  async function eligibleNode(): Promise<Ack> {
    const ack = await registerNode(t.app, stub.url);
    t.clock.now += 3 * DAY;
    await heartbeat(t.app, ack, successBatch(10));
    expect(await rep(ack.node_id)).toBeCloseTo(0.6);
    return ack;
  }

  it('heartbeat batches: +0.10 cap per batch, +0.20 per hour, failures in full, retries not re-applied', async () => {
    const ack = await registerNode(t.app, stub.url);
    const batch = successBatch(100);
    let pong = await heartbeat(t.app, ack, batch);
    expect(pong['reputation_score']).toBeCloseTo(0.6);
    pong = await heartbeat(t.app, ack, batch); // the same batch again (REP-09)
    expect(pong['reputation_score']).toBeCloseTo(0.6);
    expect(pong['metrics_batch_accepted']).toBe(batch['metrics_batch_id']);
    await heartbeat(t.app, ack, successBatch(100));
    pong = await heartbeat(t.app, ack, successBatch(100));
    expect(pong['reputation_score']).toBeCloseTo(0.7); // hourly ceiling (REP-04)
    pong = await heartbeat(t.app, ack, successBatch(0, 2));
    expect(pong['reputation_score']).toBeCloseTo(0.6);
    pong = await heartbeat(t.app, ack, {
      metrics: { tasks_success: 0, tasks_failed: 0, tasks_timeout: 10 },
      metrics_batch_id: 'timeouts-1',
    });
    expect(pong['reputation_score']).toBe(0); // clamped (REP-03)
    t.clock.now += HOURLY_WINDOW_MS;
    pong = await heartbeat(t.app, ack, successBatch(5));
    expect(pong['reputation_score']).toBeCloseTo(0.05);
  });

  it('telemetry is 401 IICP-E032 without a proxy_token, before any body validation', async () => {
    const ack = await registerNode(t.app, stub.url);
    const tries = [
      { headers: {}, payload: 'not json at all', ct: 'text/plain' },
      { headers: {}, payload: '{}', ct: 'application/json' },
      { headers: bearer(ack.node_token), payload: '{"garbage":', ct: 'application/json' },
      { headers: bearer('f'.repeat(80)), payload: '{}', ct: 'application/json' },
    ];
    for (const x of tries) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/telemetry',
        headers: { ...x.headers, 'content-type': x.ct },
        payload: x.payload,
      });
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('IICP-E032');
    }
    // proxy_node_id missing or not the token's node → E032; self-report → invalid_target.
    const other = await registerNode(t.app, stub.url);
    const post = (payload: Record<string, unknown>) =>
      t.app.inject({
        method: 'POST',
        url: '/v1/telemetry',
        headers: bearer(ack.proxy_token),
        payload,
      });
    const base = {
      node_id: other.node_id,
      latency_ms_observed: 120,
      tokens_observed: 10,
      status: 'success',
    };
    expect((await post(base)).json().error.code).toBe('IICP-E032');
    expect((await post({ ...base, proxy_node_id: other.node_id })).json().error.code).toBe(
      'IICP-E032',
    );
    const self = await post({ ...base, node_id: ack.node_id, proxy_node_id: ack.node_id });
    expect(self.statusCode).toBe(422);
    expect(self.json().error.code).toBe('invalid_target');
    const bad = await post({ ...base, proxy_node_id: ack.node_id, status: 'meh' });
    expect(bad.statusCode).toBe(422);
  });

  it('fresh reporters are acknowledged but count for nothing; a quorum of 3 eligible ones moves the EMA', async () => {
    const target = await registerNode(t.app, stub.url);
    const report = (proxy: Ack, latency: number, status = 'success') =>
      t.app.inject({
        method: 'POST',
        url: '/v1/telemetry',
        headers: bearer(proxy.proxy_token),
        payload: {
          node_id: target.node_id,
          proxy_node_id: proxy.node_id,
          latency_ms_observed: latency,
          tokens_observed: 50,
          status,
          qos_met: true,
        },
      });
    const fresh = await registerNode(t.app, stub.url);
    const r0 = await report(fresh, 100);
    expect(r0.statusCode).toBe(202);
    expect(r0.json()).toMatchObject({ recorded: true, counted: false });
    expect(await rep(target.node_id)).toBe(0.5);

    const proxies = [
      await eligibleNode(),
      await eligibleNode(),
      await eligibleNode(),
      await eligibleNode(),
    ];
    const r1 = await report(proxies[0]!, 200);
    expect(r1.statusCode).toBe(201);
    expect(r1.json()).toMatchObject({
      counted: true,
      quorum_met: false,
      observed_latency_ms: null,
    });
    expect(await rep(target.node_id)).toBeCloseTo(0.51);
    await report(proxies[1]!, 200, 'failure');
    expect(await rep(target.node_id)).toBeCloseTo(0.46);
    const r3 = await report(proxies[2]!, 300);
    expect(r3.json()).toMatchObject({
      quorum_met: true,
      distinct_proxies: 3,
      observed_latency_ms: 300,
    });
    const r4 = await report(proxies[3]!, 400);
    expect(r4.json().observed_latency_ms).toBeCloseTo(0.1 * 400 + 0.9 * 300);
    const disc = await t.app.inject({ method: 'GET', url: `/v1/node/${target.node_id}` });
    expect(disc.json().observed_latency_ms).toBeCloseTo(310);
  });

  it('an outlier from a proxy with ≥ 10 observations gets α × 0.1', async () => {
    const target = await registerNode(t.app, stub.url);
    const proxies = [await eligibleNode(), await eligibleNode(), await eligibleNode()];
    const send = (p: Ack, latency: number) =>
      t.app.inject({
        method: 'POST',
        url: '/v1/telemetry',
        headers: bearer(p.proxy_token),
        payload: {
          node_id: target.node_id,
          proxy_node_id: p.node_id,
          latency_ms_observed: latency,
          status: 'success',
        },
      });
    for (let i = 0; i < 10; i++) await send(proxies[i % 3]!, 100);
    for (let i = 0; i < 10; i++) await send(proxies[0]!, 100);
    const before = (await t.app.directory.store.get(target.node_id))!.observedLatencyMs!;
    const res = await send(proxies[0]!, 1000);
    expect(res.json().outlier_weight).toBe(0.1);
    expect(res.json().observed_latency_ms).toBeCloseTo(0.01 * 1000 + 0.99 * before);
  });

  it('audit reports: self 422, one per pair per 24 h (429), two evidence slots per target, no reputation change', async () => {
    const target = await registerNode(t.app, stub.url);
    const reporters = [await eligibleNode(), await eligibleNode(), await eligibleNode()];
    const fresh = await registerNode(t.app, stub.url);
    const repBefore = await rep(target.node_id);
    const audit = (r: Ack, target_node_id: string) =>
      t.app.inject({
        method: 'POST',
        url: '/api/v1/audit-report',
        headers: bearer(r.node_token),
        payload: { target_node_id, finding: 'declaration_divergence' },
      });
    const self = await audit(reporters[0]!, reporters[0]!.node_id);
    expect(self.statusCode).toBe(422);
    expect(self.json().error.code).toBe('invalid_target');
    const unauth = await t.app.inject({ method: 'POST', url: '/v1/audit-report', payload: 'x' });
    expect(unauth.statusCode).toBe(401);
    const events = t.app.directory.events;
    const before = (await events.page('local', 0, 10_000, ['AUDIT_REPORT'])).events.length;
    const a1 = await audit(reporters[0]!, target.node_id);
    expect(a1.statusCode).toBe(202);
    expect(a1.json()).toMatchObject({ accepted: true, integrity_evidence_accepted: true });
    const again = await audit(reporters[0]!, target.node_id);
    expect(again.statusCode).toBe(429);
    expect(again.json().error).toMatchObject({ code: 'rate_limited', reason: 'rate_limited' });
    expect((await audit(reporters[1]!, target.node_id)).json().integrity_evidence_accepted).toBe(
      true,
    );
    const capped = await audit(reporters[2]!, target.node_id);
    expect(capped.statusCode).toBe(202);
    expect(capped.json()).toMatchObject({ integrity_evidence_accepted: false, suppressed: true });
    const ineligible = await audit(fresh, target.node_id);
    expect(ineligible.statusCode).toBe(202);
    expect(ineligible.json().suppressed).toBe(true);
    expect(await rep(target.node_id)).toBe(repBefore);
    const logged = (await events.page('local', 0, 10_000, ['AUDIT_REPORT'])).events;
    expect(logged.length - before).toBe(4);
    expect(logged.at(-1)!.payload).toMatchObject({
      reporter_node_id: fresh.node_id,
      delta_suppressed: true,
      integrity_evidence_accepted: false,
    });
    t.clock.now += DAY + 1;
    const later = await audit(reporters[2]!, target.node_id);
    expect(later.json().integrity_evidence_accepted).toBe(true);
  });
});
