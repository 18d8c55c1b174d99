import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isUuidV4,
  NodeListSchema,
  PUBLIC_VIEW_FORBIDDEN_FIELDS,
  PublicNodeListSchema,
  RegisterAckSchema,
} from '@iicp/wire';
import { BACKENDS } from './support/stores.ts';
import {
  bearer,
  CHAT,
  makeApp,
  registerBody,
  startHealthStub,
  type HealthStub,
  type TestApp,
} from './support/harness.ts';

describe.each(BACKENDS)('directory app on %s', (kind) => {
  let t: TestApp;
  let stub: HealthStub;
  let deadStub: HealthStub;

  beforeAll(async () => {
    stub = await startHealthStub();
    deadStub = await startHealthStub();
    deadStub.healthy = false;
    t = await makeApp(kind, { registerRateLimit: 1000 });
  });
  afterAll(async () => {
    await t?.close();
    await stub?.close();
    await deadStub?.close();
  });

  async function register(body: Record<string, unknown> = registerBody(stub.url), prefix = '/v1') {
    return t.app.inject({ method: 'POST', url: `${prefix}/register`, payload: body });
  }

  it('serves health, readiness and both route prefixes without redirects', async () => {
    expect((await t.app.inject('/iicp/health')).json()).toMatchObject({ status: 'ok' });
    expect((await t.app.inject('/iicp/ready')).json()).toEqual({ ready: true, storage: kind });
    for (const p of ['/v1', '/api/v1']) {
      const r = await t.app.inject(`${p}/stats`);
      expect(r.statusCode).toBe(200);
    }
  });

  it('DIR-REG-01/05/06/08/09: registers and answers a 201 ACK with a fresh id and a 64-hex token', async () => {
    const r = await register(registerBody(stub.url), '/api/v1');
    expect(r.statusCode).toBe(201);
    const ack = RegisterAckSchema.parse(r.json());
    expect(isUuidV4(ack.node_id)).toBe(true);
    expect(ack.node_token).toMatch(/^[0-9a-f]{64,}$/);
    expect(ack.expires_at).toBeNull();
    expect(ack.directory).toBe('https://directory.test.invalid');
    expect(ack.observed_source_ip).toBe('127.0.0.1');
  });

  it('DIR-REG-07: stores only a bcrypt hash of the token', async () => {
    const ack = (await register()).json();
    const n = await t.app.directory.store.get(ack.node_id);
    expect(n?.tokenHash).toMatch(/^\$2[aby]\$/);
    expect(JSON.stringify(n)).not.toContain(ack.node_token);
  });

  it('DIR-REG-02/03: missing endpoint or capabilities → 422 validation_error', async () => {
    const { endpoint: _e, ...noEndpoint } = registerBody(stub.url);
    const { capabilities: _c, ...noCaps } = registerBody(stub.url);
    for (const body of [noEndpoint, noCaps]) {
      const r = await register(body);
      expect(r.statusCode).toBe(422);
      expect(r.json().error.code).toBe('validation_error');
    }
  });

  it('DIR-REG-04: an endpoint whose health check fails → 422 liveness_failed, nothing stored', async () => {
    const before = await t.app.directory.store.countByStatus();
    const r = await register(registerBody(deadStub.url));
    expect(r.statusCode).toBe(422);
    expect(r.json().error.code).toBe('liveness_failed');
    expect(await t.app.directory.store.countByStatus()).toEqual(before);
  });

  it('refuses prohibited intents before probing', async () => {
    const hits = stub.hits;
    const r = await register(
      registerBody(stub.url, { capabilities: [{ intent: 'urn:iicp:intent:social:scoring:v1' }] }),
    );
    expect(r.statusCode).toBe(422);
    expect(r.json().error.code).toBe('IICP-POLICY-001');
    expect(stub.hits).toBe(hits);
  });

  it('DIR-LIFECYCLE-01..06: register, heartbeat, refresh, stale token refused, heartbeat, deregister', async () => {
    const ack = (await register()).json();
    const hb = (token: string) =>
      t.app.inject({
        method: 'POST',
        url: '/v1/heartbeat',
        headers: bearer(token),
        payload: { node_id: ack.node_id, load: 0.2 },
      });
    const h1 = await hb(ack.node_token);
    expect(h1.statusCode).toBe(200);
    expect(h1.json()).toMatchObject({ ok: true, next_heartbeat_ms: 30000, reputation_score: 0.5 });
    expect(Number.isInteger(h1.json().next_heartbeat_ms)).toBe(true);

    const refreshed = await register(
      registerBody(stub.url, { node_id: ack.node_id, current_node_token: ack.node_token }),
    );
    expect(refreshed.statusCode).toBe(201);
    const ack2 = refreshed.json();
    expect(ack2.node_id).toBe(ack.node_id);
    expect(ack2.node_token).not.toBe(ack.node_token);

    const stale = await hb(ack.node_token);
    expect(stale.statusCode).toBe(401);
    expect(stale.json().error.code).toBe('unauthorized');
    expect((await hb(ack2.node_token)).statusCode).toBe(200);

    const del = await t.app.inject({
      method: 'DELETE',
      url: '/api/v1/register',
      headers: bearer(ack2.node_token),
      payload: { node_id: ack.node_id },
    });
    expect(del.statusCode).toBe(200);
    expect(del.json()).toEqual({ deregistered: true });
    expect((await hb(ack2.node_token)).statusCode).toBe(401);
    expect((await t.app.inject(`/v1/node/${ack.node_id}`)).statusCode).toBe(404);
  });

  it('E050/E049: refreshing someone else’s node without the token is refused', async () => {
    const ack = (await register()).json();
    const same = await register(registerBody(stub.url, { node_id: ack.node_id }));
    expect(same.statusCode).toBe(403);
    expect(same.json().error.code).toBe('IICP-E050');
    const wrong = await register(
      registerBody(stub.url, { node_id: ack.node_id, current_node_token: 'ab'.repeat(32) }),
    );
    expect(wrong.json().error.code).toBe('IICP-E050');
    const cx = {
      algorithm: 'x25519',
      encoding: 'base64url',
      key: 'A'.repeat(43),
      key_id: 'k1',
      not_after: '2099-01-01T00:00:00Z',
      hybrid_pq: false,
    };
    const cxChange = await register(
      registerBody(stub.url, { node_id: ack.node_id, cx_public_key: cx }),
    );
    if (cxChange.statusCode !== 422) {
      expect(cxChange.statusCode).toBe(403);
      expect(cxChange.json().error.code).toBe('IICP-E049');
    }
    // The original token still works: nothing rotated.
    const hb = await t.app.inject({
      method: 'POST',
      url: '/v1/heartbeat',
      headers: bearer(ack.node_token),
      payload: { node_id: ack.node_id },
    });
    expect(hb.statusCode).toBe(200);
  });

  it('DIR-HB-02/03: 401 before body validation; 404 for an unknown id', async () => {
    const none = await t.app.inject({
      method: 'POST',
      url: '/v1/heartbeat',
      payload: { garbage: true },
    });
    expect(none.statusCode).toBe(401);
    const bad = await t.app.inject({
      method: 'POST',
      url: '/v1/heartbeat',
      headers: bearer('00'.repeat(32)),
      payload: 'not json at all',
    });
    expect(bad.statusCode).toBe(401);
    const bad2 = await t.app.inject({
      method: 'POST',
      url: '/v1/heartbeat',
      headers: bearer('00'.repeat(32)),
      payload: { node_id: 5 },
    });
    expect(bad2.statusCode).toBe(401);
    const ack = (await register()).json();
    const unknown = await t.app.inject({
      method: 'POST',
      url: '/v1/heartbeat',
      headers: bearer(ack.node_token),
      payload: { node_id: '2b5c8f0e-3a4b-4c6d-8e9f-0a1b2c3d4e5f' },
    });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('not_found');
    const invalid = await t.app.inject({
      method: 'POST',
      url: '/v1/heartbeat',
      headers: bearer(ack.node_token),
      payload: { node_id: ack.node_id, load: 3 },
    });
    expect(invalid.statusCode).toBe(422);
  });

  it('applies a metrics batch at most once', async () => {
    const ack = (await register()).json();
    const send = () =>
      t.app.inject({
        method: 'POST',
        url: '/v1/heartbeat',
        headers: bearer(ack.node_token),
        payload: {
          node_id: ack.node_id,
          metrics: { tasks_success: 7, tasks_failed: 1 },
          metrics_batch_id: 'b-1',
        },
      });
    expect((await send()).json().metrics_batch_accepted).toBe('b-1');
    expect((await send()).json().metrics_batch_accepted).toBe('b-1');
    expect((await t.app.directory.store.get(ack.node_id))?.completedTasksCount).toBe(7);
  });

  it('GET /me returns only the caller’s current address; node detail and 404', async () => {
    const ack = (await register()).json();
    const me = await t.app.inject({ url: '/v1/me', headers: bearer(ack.node_token) });
    expect(me.json()).toEqual({
      node_id: ack.node_id,
      observed_source_ip: '127.0.0.1',
      endpoint: stub.url,
    });
    expect((await t.app.inject('/v1/me')).statusCode).toBe(401);
    const d = await t.app.inject(`/v1/node/${ack.node_id}`);
    expect(d.statusCode).toBe(200);
    expect(d.json()).toMatchObject({
      node_id: ack.node_id,
      probation: true,
      capabilities: [expect.objectContaining({ intent: CHAT })],
    });
    const missing = await t.app.inject('/v1/node/2b5c8f0e-3a4b-4c6d-8e9f-0a1b2c3d4e5f');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('not_found');
  });

  it('DIR-DISC-01..06/08/11, DIR-CIP-01/03: discover serves live nodes score-sorted with the spec cache header', async () => {
    for (let i = 0; i < 3; i++)
      await register(registerBody(stub.url, { region: i === 0 ? 'us-east' : 'eu-west' }));
    const r = await t.app.inject(
      `/v1/discover?intent=${encodeURIComponent(CHAT)}&limit=2&region=us-east`,
    );
    expect(r.statusCode).toBe(200);
    expect(r.headers['cache-control']).toBe(
      'public, max-age=5, s-maxage=10, stale-while-revalidate=5',
    );
    expect(r.headers['server-timing']).toBeDefined();
    const list = NodeListSchema.parse(r.json());
    expect(list.count).toBe(2);
    expect(list.nodes).toHaveLength(2);
    expect(list.nodes[0]!.score).toBeGreaterThanOrEqual(list.nodes[1]!.score);
    expect(list.nodes[0]!.region).toBe('us-east');
    for (const n of list.nodes) {
      expect(n.available).toBe(true);
      // DIR-CIP-01/03: new nodes start at 0.5, i.e. silver.
      expect(n.cip_conformance_level).toBe('CIP-None');
      expect(n.reputation_tier).toBe('silver');
      expect(n.score).toBeGreaterThanOrEqual(0.1);
      expect(n.score).toBeLessThanOrEqual(1);
    }
    const custom = await t.app.inject(
      '/api/v1/discover?intent=urn:iicp:intent:x.acme:summarise:v1',
    );
    expect(custom.statusCode).toBe(200);
    expect(custom.json().count).toBe(0);
  });

  it('DIR-DISC-09/10: bad queries are 422', async () => {
    expect((await t.app.inject('/v1/discover')).statusCode).toBe(422);
    const r = await t.app.inject(
      `/v1/discover?intent=${encodeURIComponent(CHAT)}&min_reputation=2.0`,
    );
    expect(r.statusCode).toBe(422);
    expect(r.json().error.code).toBe('validation_error');
    expect((await t.app.inject(`/v1/discover?intent=${CHAT}&qos=fast`)).statusCode).toBe(422);
  });

  it('view=public never shows ids, endpoints or keys', async () => {
    const r = await t.app.inject(`/v1/discover?intent=${encodeURIComponent(CHAT)}&view=public`);
    const list = PublicNodeListSchema.parse(r.json());
    expect(list.count).toBeGreaterThan(0);
    const text = r.body;
    for (const n of list.nodes) {
      for (const f of PUBLIC_VIEW_FORBIDDEN_FIELDS) expect(n).not.toHaveProperty(f);
      expect(n.node_id_prefix).toMatch(/^[0-9a-f]{8}$/);
    }
    expect(text).not.toContain(stub.url);
  });

  it('DIR-HB-04/DIR-BS-02: after 90 s of silence a node is swept dormant, leaves discover, and a heartbeat restores it', async () => {
    const ack = (
      await register(
        registerBody(stub.url, { capabilities: [{ intent: 'urn:iicp:intent:llm:embed:v1' }] }),
      )
    ).json();
    const q = () => t.app.inject('/v1/discover?intent=urn:iicp:intent:llm:embed:v1');
    expect((await q()).json().count).toBe(1);
    const start = t.clock.now;
    t.clock.now = start + 91_000;
    const swept = await t.app.upkeep.sweep();
    expect(swept).toContain(ack.node_id);
    expect((await q()).json().count).toBe(0);
    const bs = (await t.app.inject('/v1/bootstrap?limit=50')).json();
    expect(bs.peers.map((p: { node_id: string }) => p.node_id)).not.toContain(ack.node_id);
    expect((await t.app.directory.store.get(ack.node_id))?.status).toBe('dormant');
    const hb = await t.app.inject({
      method: 'POST',
      url: '/v1/heartbeat',
      headers: bearer(ack.node_token),
      payload: { node_id: ack.node_id },
    });
    expect(hb.statusCode).toBe(200);
    expect((await q()).json().count).toBe(1);
    const bs2 = (await t.app.inject('/v1/bootstrap?limit=50')).json();
    expect(bs2.peers[0].node_id).toBe(ack.node_id);
    t.clock.now = start;
  });

  it('DIR-BS-01/DIR-STATS-01: bootstrap and stats', async () => {
    await register();
    const bs = await t.app.inject('/v1/bootstrap');
    expect(bs.statusCode).toBe(200);
    expect(bs.json().peers.length).toBeLessThanOrEqual(5);
    const st = (await t.app.inject('/api/v1/stats')).json();
    expect(st.server.active_nodes).toBeGreaterThan(0);
    expect(st.mesh_health).toMatchObject({ window: expect.any(String), label: expect.any(String) });
    expect(st.mesh_health.score).toBeGreaterThanOrEqual(0);
    expect(st.mesh_health.score).toBeLessThanOrEqual(1);
    expect(st.per_intent[CHAT]).toBeGreaterThan(0);
  });
});

describe('reputation tiers', () => {
  it('follow the §5.1.1 thresholds with the 720 h platinum gate', async () => {
    const { reputationTier } = await import('../src/views.ts');
    const now = 2_000_000_000_000;
    expect(reputationTier(0.1, now, now)).toBe('bronze');
    expect(reputationTier(0.4, now, now)).toBe('silver');
    expect(reputationTier(0.65, now, now)).toBe('gold');
    expect(reputationTier(0.9, now - 719 * 3600_000, now)).toBe('gold');
    expect(reputationTier(0.9, now - 720 * 3600_000, now)).toBe('platinum');
  });
});
