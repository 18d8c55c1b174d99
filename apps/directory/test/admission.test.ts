import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, freshStorage, type TestStorage } from './support/stores.ts';
import {
  bearer,
  CHAT,
  makeApp,
  registerBody,
  startHealthStub,
  type HealthStub,
  type TestApp,
} from './support/harness.ts';

describe('public mode (no private endpoints)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp('sqlite', { allowPrivateEndpoints: false });
  });
  afterAll(() => t?.close());

  it.each([
    'https://localhost:8443',
    'https://127.0.0.1',
    'https://10.1.2.3',
    'https://192.168.1.10:9484',
    'https://169.254.1.1',
    'https://[::1]:9484',
    'https://node.local',
    'https://box.internal',
    'https://gpu-box',
  ])('IICP-E035: %s is refused before any probe', async (endpoint) => {
    const r = await t.app.inject({
      method: 'POST',
      url: '/v1/register',
      payload: registerBody(endpoint),
    });
    expect(r.statusCode).toBe(422);
    expect(r.json().error.code).toBe('IICP-E035');
    expect(r.body).not.toMatch(/select|insert|sqlite|postgres/i);
  });
});

describe.each(BACKENDS)('rate limit on %s', (kind) => {
  let t: TestApp;
  let stub: HealthStub;
  beforeAll(async () => {
    stub = await startHealthStub();
    t = await makeApp(kind, { registerRateLimit: 3 });
  });
  afterAll(async () => {
    await t?.close();
    await stub?.close();
  });

  it('DIR-RL-01: more than N registrations per window from one IP → 429 rate_limited with retry_after, before validation', async () => {
    // Align the clock to the start of a window so the whole burst shares it.
    t.clock.now = Math.floor(Date.now() / 60_000) * 60_000 + 1_000;
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) {
      codes.push(
        (
          await t.app.inject({
            method: 'POST',
            url: '/v1/register',
            payload: registerBody(stub.url),
          })
        ).statusCode,
      );
    }
    expect(codes).toEqual([201, 201, 201]);
    const limited = await t.app.inject({
      method: 'POST',
      url: '/api/v1/register',
      payload: { not: 'valid' },
    });
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error).toMatchObject({
      code: 'rate_limited',
      iicp_code: 'IICP-E034',
      retry_after: 59,
    });
    expect(limited.headers['retry-after']).toBe('59');
    // The window rolls (D-012): the burst weighs on the next window too, and is gone
    // two windows later.
    t.clock.now += 120_000;
    expect(
      (await t.app.inject({ method: 'POST', url: '/v1/register', payload: registerBody(stub.url) }))
        .statusCode,
    ).toBe(201);
  });
});

describe.each(BACKENDS)('two directory instances on one %s database', (kind) => {
  let storage: TestStorage;
  let a: TestApp;
  let b: TestApp;
  let stub: HealthStub;
  beforeAll(async () => {
    stub = await startHealthStub();
    storage = await freshStorage(kind);
    a = await makeApp(kind, { registerRateLimit: 4 }, storage);
    b = await makeApp(kind, { registerRateLimit: 4 }, storage);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await stub?.close();
    storage?.cleanup();
  });

  it('share the register rate limit', async () => {
    const now = Math.floor(Date.now() / 60_000) * 60_000 + 1_000;
    a.clock.now = now;
    b.clock.now = now;
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        (i % 2 ? a : b).app.inject({
          method: 'POST',
          url: '/v1/register',
          payload: registerBody(stub.url),
        }),
      ),
    );
    const codes = results.map((r) => r.statusCode).sort();
    expect(codes.filter((c) => c === 201)).toHaveLength(4);
    expect(codes.filter((c) => c === 429)).toHaveLength(4);
  });

  it('agree on token rotation and converge their discover index', async () => {
    // Leave the previous test's rolling rate-limit window behind (D-012).
    a.clock.now += 120_000;
    b.clock.now = a.clock.now;
    const ack = (
      await a.app.inject({
        method: 'POST',
        url: '/v1/register',
        payload: registerBody(stub.url, { region: 'ap-south' }),
      })
    ).json();
    const hb = (t: TestApp, token: string) =>
      t.app.inject({
        method: 'POST',
        url: '/v1/heartbeat',
        headers: bearer(token),
        payload: { node_id: ack.node_id },
      });
    // B has never seen this node, yet authenticates it from the shared database.
    expect((await hb(b, ack.node_token)).statusCode).toBe(200);
    // B's index catches up on its refresh pass.
    await b.app.upkeep.refresh();
    const disc = (
      await b.app.inject(`/v1/discover?intent=${encodeURIComponent(CHAT)}&region=ap-south&limit=50`)
    ).json();
    expect(disc.nodes.map((n: { node_id: string }) => n.node_id)).toContain(ack.node_id);
    // Rotate on B; A (which cached the old token) must refuse it now.
    expect((await hb(a, ack.node_token)).statusCode).toBe(200);
    const ref = await b.app.inject({
      method: 'POST',
      url: '/v1/register',
      payload: registerBody(stub.url, {
        node_id: ack.node_id,
        current_node_token: ack.node_token,
        region: 'ap-south',
      }),
    });
    expect(ref.statusCode).toBe(201);
    expect((await hb(a, ack.node_token)).statusCode).toBe(401);
    expect((await hb(a, ref.json().node_token)).statusCode).toBe(200);
    // Two concurrent refreshes with the same proof: exactly one token wins.
    const token2 = ref.json().node_token;
    const both = await Promise.all(
      [a, b].map((t) =>
        t.app.inject({
          method: 'POST',
          url: '/v1/register',
          payload: registerBody(stub.url, { node_id: ack.node_id, current_node_token: token2 }),
        }),
      ),
    );
    const winners = both.filter((r) => r.statusCode === 201);
    expect(winners).toHaveLength(1);
    expect([403, 409]).toContain(both.find((r) => r.statusCode !== 201)!.statusCode);
    expect((await hb(b, winners[0]!.json().node_token)).statusCode).toBe(200);
    // Deregister on A leaves B's index on refresh.
    const del = await a.app.inject({
      method: 'DELETE',
      url: '/v1/register',
      headers: bearer(winners[0]!.json().node_token),
      payload: { node_id: ack.node_id },
    });
    expect(del.statusCode).toBe(200);
    await b.app.upkeep.refresh();
    const after = (
      await b.app.inject(`/v1/discover?intent=${encodeURIComponent(CHAT)}&region=ap-south&limit=50`)
    ).json();
    expect(after.nodes.map((n: { node_id: string }) => n.node_id)).not.toContain(ack.node_id);
  });
});

describe.each(BACKENDS)('bad input on %s', (kind) => {
  let t: TestApp;
  let stub: HealthStub;
  let token: string;
  let nodeId: string;
  beforeAll(async () => {
    stub = await startHealthStub();
    t = await makeApp(kind, { registerRateLimit: 1_000_000 });
    const ack = (
      await t.app.inject({ method: 'POST', url: '/v1/register', payload: registerBody(stub.url) })
    ).json();
    token = ack.node_token;
    nodeId = ack.node_id;
  });
  afterAll(async () => {
    await t?.close();
    await stub?.close();
  });

  async function snapshot(): Promise<string> {
    const rows = await t.app.directory.store.listCurrent();
    return JSON.stringify(rows.map((r) => ({ ...r, updatedAt: 0 })));
  }

  // Near-valid register bodies: every field possibly present, at least one broken.
  function nearRegister(endpoint: string) {
    return fc.record(
      {
        endpoint: fc.oneof(fc.constant(endpoint), fc.string(), fc.integer(), fc.constant(null)),
        region: fc.oneof(fc.string({ maxLength: 80 }), fc.integer()),
        capabilities: fc.oneof(
          fc.constant([]),
          fc.array(
            fc.record({ intent: fc.oneof(fc.string(), fc.constant('urn:iicp:intent:llm:chat')) }),
          ),
          fc.anything(),
        ),
        limits: fc.oneof(
          fc.record({
            max_concurrent: fc.oneof(fc.integer({ min: -5, max: 0 }), fc.integer({ min: 257 })),
          }),
          fc.anything(),
        ),
      },
      { requiredKeys: [] },
    );
  }

  it('register: random and near-valid bodies get only 4xx envelopes; the database is unchanged', async () => {
    const before = await snapshot();
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.anything(), nearRegister(stub.url)), async (body) => {
        const r = await t.app.inject({
          method: 'POST',
          url: '/v1/register',
          payload: JSON.stringify(body) ?? 'null',
          headers: { 'content-type': 'application/json' },
        });
        expect(r.statusCode).toBeGreaterThanOrEqual(400);
        expect(r.statusCode).toBeLessThan(500);
        expect(r.json().error.code).toEqual(expect.any(String));
        expect(r.body).not.toMatch(/\bselect\b|\binsert\b|sqlite|at .*\.ts:/i);
      }),
      { numRuns: 150 },
    );
    expect(await snapshot()).toBe(before);
  });

  it('heartbeat: random bodies with a valid token get 4xx and change nothing; without a token always 401', async () => {
    const before = await snapshot();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.anything(),
          fc.record(
            {
              node_id: fc.constant(nodeId),
              load: fc.oneof(fc.double({ min: 1.0001, noNaN: true }), fc.string()),
              active_jobs: fc.integer({ max: -1 }),
            },
            { requiredKeys: ['node_id', 'load'] },
          ),
        ),
        fc.boolean(),
        async (body, withToken) => {
          const r = await t.app.inject({
            method: 'POST',
            url: '/v1/heartbeat',
            payload: JSON.stringify(body) ?? 'null',
            headers: { 'content-type': 'application/json', ...(withToken ? bearer(token) : {}) },
          });
          if (!withToken) expect(r.statusCode).toBe(401);
          expect(r.statusCode).toBeGreaterThanOrEqual(400);
          expect(r.statusCode).toBeLessThan(500);
        },
      ),
      { numRuns: 150 },
    );
    expect(await snapshot()).toBe(before);
  });

  it('discover: random query strings never produce a 5xx', async () => {
    const key = fc.constantFrom(
      'intent',
      'qos',
      'region',
      'limit',
      'min_reputation',
      'max_multiplier',
      'min_quality_score',
      'cip_capable',
      'modality',
      'view',
      'model',
      'x',
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(key, fc.string({ maxLength: 30 })), { maxLength: 6 }),
        async (pairs) => {
          const qs = new URLSearchParams(pairs).toString();
          const r = await t.app.inject(`/v1/discover?${qs}`);
          expect(r.statusCode === 200 || (r.statusCode >= 400 && r.statusCode < 500)).toBe(true);
          if (r.statusCode !== 200) expect(r.json().error.code).toEqual(expect.any(String));
        },
      ),
      { numRuns: 200 },
    );
  });
});
