import fc from 'fast-check';
import { decodeCbor } from '@iicp/codec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeListJson } from '../src/routes/discover.ts';
import type { StoredNode } from '../src/storage/node-store.ts';
import { dispatchView, dispatchViewJson, publicView, publicViewJson } from '../src/views.ts';
import {
  CHAT,
  makeApp,
  registerBody,
  startHealthStub,
  type HealthStub,
} from './support/harness.ts';
import type { TestApp } from './support/harness.ts';

/*
 * The discover fast path (cached per-node JSON fragments spliced into the NODELIST) must
 * produce byte for byte what `JSON.stringify` of the object views produces.
 */
const HOUR = 3600_000;
const NOW = Date.UTC(2026, 10, 25, 12);

/** Any JSON value a REGISTER record could carry, plus values JSON drops or rewrites. */
const anyValue = fc.oneof(
  fc.jsonValue(),
  fc.constant(undefined),
  fc.string(),
  fc.double(),
  fc.constantFrom('\u2028', '"', '\\', '\u0000', '"score":1', '{"x":[]}'),
);

const capabilityArb = fc.record(
  {
    intent: fc.constantFrom(CHAT, 'urn:iicp:intent:llm:embed:v1'),
    models: fc.array(fc.string(), { maxLength: 3 }),
    input_modalities: fc.array(fc.constantFrom('text', 'image', 'audio'), { maxLength: 2 }),
    extra: anyValue,
  },
  { requiredKeys: ['intent'] },
);

const recordArb: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(
    fc.record(
      {
        transport_endpoint: anyValue,
        transport_method: anyValue,
        transport_candidates: anyValue,
        relay_endpoint: anyValue,
        transport_metadata: anyValue,
        nat_type: anyValue,
        address_family: anyValue,
        relay_capable: fc.oneof(fc.boolean(), anyValue),
        cip_conformance_level: anyValue,
        cip_policy: anyValue,
        pricing: anyValue,
        cx_public_key: anyValue,
        limits: fc.oneof(fc.record({ max_concurrent: fc.oneof(fc.integer(), anyValue) }), anyValue),
        capabilities: fc.oneof(
          { arbitrary: fc.array(capabilityArb, { maxLength: 3 }), weight: 4 },
          // Not a list at all (REGISTER validation keeps list items objects).
          { arbitrary: fc.oneof(fc.constant(undefined), fc.string(), fc.integer()), weight: 1 },
        ),
      },
      { requiredKeys: [] },
    ),
    fc.dictionary(fc.string(), anyValue, { maxKeys: 3 }),
  )
  .map(([known, other]) => ({ ...other, ...known }));

const storedArb: fc.Arbitrary<StoredNode> = fc.record({
  nodeId: fc.uuid(),
  tokenHash: fc.constant('!'),
  tokenLookup: fc.constant('!'),
  tokenVersion: fc.constant(1),
  endpoint: fc.string(),
  region: fc.string(),
  record: recordArb,
  load: fc.double({ min: 0, max: 1, noNaN: true }),
  activeJobs: fc.nat(),
  available: fc.boolean(),
  lastSeen: fc.constant(NOW),
  dormantSince: fc.constant(null),
  reputation: fc.oneof(fc.constantFrom(0, 0.4, 0.65, 0.85, 1), fc.double({ min: 0, max: 1 })),
  completedTasksCount: fc.nat(),
  lastMetricsBatchId: fc.constant(null),
  observedIp: fc.constant(null),
  status: fc.constantFrom('active', 'dormant', 'deregistered') as fc.Arbitrary<
    StoredNode['status']
  >,
  livenessRttMs: fc.option(fc.double({ min: 0, max: 5000, noNaN: true }), { nil: null }),
  registeredAt: fc.integer({ min: NOW - 2000 * HOUR, max: NOW }),
  updatedAt: fc.constant(NOW),
  operatorFingerprint: fc.option(fc.string(), { nil: undefined }),
  routeDead: fc.boolean(),
  observedLatencyMs: fc.option(fc.double({ min: 0, max: 10_000, noNaN: true }), { nil: null }),
});

const scoreArb = fc.oneof(fc.double({ min: 0, max: 1 }), fc.double());
const nowArb = fc.integer({ min: NOW - 100 * HOUR, max: NOW + 2000 * HOUR });

describe('discover view serialisation', () => {
  it('dispatchViewJson and publicViewJson equal JSON.stringify of the views, cached or not', () => {
    fc.assert(
      fc.property(
        storedArb,
        fc.array(fc.tuple(scoreArb, nowArb), { minLength: 2, maxLength: 3 }),
        (n, uses) => {
          // The first use fills the cache, the later ones read it with other scores and times.
          for (const [score, now] of uses) {
            expect(dispatchViewJson(n, score, now)).toBe(
              JSON.stringify(dispatchView(n, score, now)),
            );
            expect(publicViewJson(n, score, now)).toBe(JSON.stringify(publicView(n, score, now)));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a replaced stored node is serialised afresh', () => {
    const n = fc.sample(storedArb, { numRuns: 1, seed: 3 })[0]!;
    const before = dispatchViewJson(n, 0.5, NOW);
    const next: StoredNode = { ...n, load: n.load === 0.25 ? 0.75 : 0.25, activeJobs: 7 };
    const after = dispatchViewJson(next, 0.5, NOW);
    expect(after).not.toBe(before);
    expect(after).toBe(JSON.stringify(dispatchView(next, 0.5, NOW)));
  });

  it('the platinum tier follows the clock, not the cache', () => {
    const n = {
      ...fc.sample(storedArb, { numRuns: 1, seed: 5 })[0]!,
      reputation: 0.9,
      registeredAt: NOW,
    };
    expect(JSON.parse(dispatchViewJson(n, 1, NOW))).toMatchObject({ reputation_tier: 'gold' });
    expect(JSON.parse(dispatchViewJson(n, 1, NOW + 721 * HOUR))).toMatchObject({
      reputation_tier: 'platinum',
    });
  });

  it('nodeListJson equals JSON.stringify of the whole NODELIST', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(storedArb, scoreArb), { maxLength: 4 }),
        fc.dictionary(
          fc.string().filter((k) => k !== 'nodes' && k !== '__proto__'),
          anyValue,
          { maxKeys: 4 },
        ),
        (nodes, rest) => {
          const objects = nodes.map(([n, s]) => dispatchView(n, s, NOW));
          const texts = nodes.map(([n, s]) => dispatchViewJson(n, s, NOW));
          expect(nodeListJson(texts, rest)).toBe(JSON.stringify({ nodes: objects, ...rest }));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('GET /discover answers the same NODELIST as JSON and as CBOR', () => {
  let t: TestApp;
  let stub: HealthStub;
  beforeAll(async () => {
    stub = await startHealthStub();
    t = await makeApp('sqlite', { registerRateLimit: 1000 });
    for (let i = 0; i < 5; i++) {
      const r = await t.app.inject({
        method: 'POST',
        url: '/v1/register',
        payload: registerBody(stub.url, {
          region: i % 2 ? 'eu-west' : 'us-east',
          limits: { max_concurrent: 1 + i },
          ...(i === 2
            ? {
                cx_public_key: {
                  algorithm: 'X25519',
                  encoding: 'base64url',
                  key: 'A'.repeat(43),
                  key_id: 'k1',
                },
              }
            : {}),
        }),
      });
      expect(r.statusCode).toBe(201);
    }
  });
  afterAll(async () => {
    await t?.close();
    await stub?.close();
  });

  for (const query of ['', '&view=public', '&region=eu-west&limit=3', '&model=llama3']) {
    it(`intent=chat${query}`, async () => {
      const url = `/v1/discover?intent=${encodeURIComponent(CHAT)}${query}`;
      const json = await t.app.inject({ method: 'GET', url });
      const cbor = await t.app.inject({
        method: 'GET',
        url,
        headers: { accept: 'application/iicp+cbor' },
      });
      expect(json.statusCode).toBe(200);
      expect(cbor.statusCode).toBe(200);
      expect(json.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(cbor.headers['content-type']).toBe('application/iicp+cbor');
      expect(json.headers['cache-control']).toBe(cbor.headers['cache-control']);
      const fromJson = JSON.parse(json.body) as Record<string, unknown>;
      const fromCbor = decodeCbor(new Uint8Array(cbor.rawPayload)) as Record<string, unknown>;
      expect(fromJson['count']).toBeGreaterThan(0);
      // query_ms is a measurement; everything else is the same document.
      expect({ ...fromJson, query_ms: 0 }).toEqual({ ...fromCbor, query_ms: 0 });
      // And the JSON text is what serialising that document gives.
      expect(json.body).toBe(JSON.stringify(fromJson));
    });
  }

  it('a repeated invalid query keeps failing with the same error', async () => {
    const url = `/v1/discover?intent=${encodeURIComponent(CHAT)}&qos=fast`;
    const a = await t.app.inject(url);
    const b = await t.app.inject(url);
    expect(a.statusCode).toBe(422);
    expect(b.json()).toEqual(a.json());
  });
});
