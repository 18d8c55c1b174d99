import { decodeCbor, encodeCbor } from '@iicp/codec';
import { ErrorBodySchema } from '@iicp/wire';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fileURLToPath } from 'node:url';
import { createIicpServer, type IicpFastifyInstance } from '../src/index.ts';

/**
 * Acceptance fuzz: 10,000 random and malformed requests (methods, paths, headers,
 * content types, raw bytes, broken JSON and CBOR) against an app on the plugin. Every
 * answer is a success for a valid request or a well-formed error envelope with a
 * 4xx status, and no error body carries a stack trace or a path.
 */

const TOTAL = 10_000;
const BATCH = 100;
// The checkout's own folder, wherever the tests run, must never show up either.
const REPO = fileURLToPath(new URL('../../..', import.meta.url)).replace(/[/\\]$/, '');
const LEAK = new RegExp(
  `\\bat [\\w.<]|node_modules|\\.ts:\\d|file:\\/\\/|${REPO.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`,
);

let app: IicpFastifyInstance;

beforeAll(async () => {
  app = await createIicpServer({ openapi: { title: 'fuzz', version: '0' }, bodyLimit: 4096 });
  app.post(
    '/v1/things',
    {
      schema: {
        body: z.object({
          name: z.string().min(1).max(64),
          items: z
            .array(z.object({ qty: z.number().int().positive() }))
            .max(8)
            .default([]),
        }),
      },
    },
    async (req) => ({ ok: true, n: req.body.items.length }),
  );
  app.get('/v1/things/:id', { schema: { params: z.object({ id: z.uuid() }) } }, async (req) => ({
    id: req.params.id,
  }));
  app.get(
    '/v1/search',
    {
      schema: {
        querystring: z.object({
          q: z.string().max(32),
          limit: z.coerce.number().int().min(1).max(50),
        }),
      },
    },
    async (req) => ({ q: req.query.q, limit: req.query.limit }),
  );
  app.put(
    '/v1/things/:id',
    { schema: { params: z.object({ id: z.uuid() }), body: z.object({ v: z.boolean() }) } },
    async () => ({
      ok: true,
    }),
  );
});

afterAll(async () => {
  await app.close();
});

const validBody = fc.record({
  name: fc.string({ minLength: 1, maxLength: 64 }),
  items: fc.array(fc.record({ qty: fc.integer({ min: 1, max: 1000 }) }), { maxLength: 8 }),
});

const rawBody = fc.oneof(
  fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
  fc.string({ maxLength: 256 }),
  fc.json({ maxDepth: 3 }).map((j) => j.slice(0, Math.max(0, j.length - 1))), // truncated JSON
  fc.json({ maxDepth: 3 }),
  validBody.map((b) => JSON.stringify(b)),
  validBody.map((b) => Buffer.from(encodeCbor(b))),
  fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(encodeCbor(v))),
  fc.constantFrom(
    '',
    '{',
    '[]',
    'null',
    '{"__proto__":{"a":1}}',
    '{"constructor":{"prototype":{}}}',
    '\u0000',
  ),
  fc.integer({ min: 4000, max: 6000 }).map((n) => `{"name":"${'x'.repeat(n)}"}`), // around the body limit
);

const contentType = fc.oneof(
  fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'application/cbor',
    'application/iicp+cbor',
    'application/iicp+json',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/octet-stream',
    'application/json; charset=utf-16',
    'APPLICATION/JSON',
    ';;;',
    '',
  ),
  fc.string({ maxLength: 40 }).filter((s) => !/[\r\n\0]/.test(s)),
);

const headerValue = fc.string({ maxLength: 64 }).filter((s) => /^[\x20-\x7e]*$/.test(s));

const path = fc.oneof(
  fc.constantFrom(
    '/v1/things',
    '/v1/things/',
    '/v1/things/3f0e7c1a-8b2d-4c5e-9f6a-1b2c3d4e5f60',
    '/v1/things/not-a-uuid',
    '/v1/search?q=a&limit=5',
    '/v1/search?limit=abc',
    '/v1/search?q=' + 'x'.repeat(40) + '&limit=1',
    '/v1/search?q[a]=1&limit=2',
    '/%zz',
    '/v1/things/%E0%A4%A',
    '//v1//things',
    '/v1/things/../../etc/passwd',
    '/openapi.json',
    '/metrics',
    '/',
    '/v1/things?__proto__[x]=1',
  ),
  fc
    .array(fc.string({ maxLength: 12 }), { maxLength: 4 })
    .map((segs) => '/' + segs.map((s) => encodeURIComponent(s)).join('/')),
);

const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD');

const request = fc.record({
  method,
  url: path,
  contentType: fc.option(contentType, { nil: undefined }),
  accept: fc.option(
    fc.oneof(
      fc.constantFrom(
        'application/json',
        'application/iicp+cbor',
        'application/cbor;q=0.5, */*;q=0.1',
        'text/html',
        '*/*',
      ),
      headerValue,
    ),
    { nil: undefined },
  ),
  requestId: fc.option(headerValue, { nil: undefined }),
  bigHeader: fc.option(fc.integer({ min: 1000, max: 8000 }), { nil: undefined }),
  body: fc.option(rawBody, { nil: undefined }),
});

type Req = typeof request extends fc.Arbitrary<infer T> ? T : never;

function decodeReply(ct: string, payload: Buffer): unknown {
  if (/^application\/(iicp\+)?cbor/.test(ct)) return decodeCbor(payload);
  return JSON.parse(payload.toString('utf8'));
}

async function send(r: Req) {
  const headers: Record<string, string> = {};
  if (r.contentType !== undefined) headers['content-type'] = r.contentType;
  if (r.accept !== undefined) headers.accept = r.accept;
  if (r.requestId !== undefined) headers['x-request-id'] = r.requestId;
  if (r.bigHeader !== undefined) headers['x-filler'] = 'f'.repeat(r.bigHeader);
  const withBody = r.body !== undefined && r.method !== 'GET' && r.method !== 'HEAD';
  return app.inject({
    method: r.method,
    url: r.url,
    headers,
    ...(withBody ? { payload: r.body } : {}),
  });
}

describe('fuzz: every reply is a success or a clean 4xx envelope', () => {
  it(`survives ${TOTAL} random and malformed requests`, async () => {
    const cases = fc.sample(request, { numRuns: TOTAL, seed: 0x11c9 });
    const statuses = new Map<number, number>();
    for (let i = 0; i < cases.length; i += BATCH) {
      const batch = cases.slice(i, i + BATCH);
      const replies = await Promise.all(batch.map(send));
      replies.forEach((res, j) => {
        const r = batch[j] as Req;
        const where = JSON.stringify({ ...r, body: String(r.body).slice(0, 80) });
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        expect(res.statusCode, where).toBeLessThan(500);
        expect(res.statusCode === 200 || res.statusCode >= 400, where).toBe(true);
        expect(res.headers['x-request-id'], where).toBeTruthy();
        if (res.statusCode >= 400) {
          if (r.method === 'HEAD') return; // no body by definition
          const ct = String(res.headers['content-type'] ?? '');
          const body = decodeReply(ct, res.rawPayload);
          const parsed = ErrorBodySchema.safeParse(body);
          expect(parsed.success, `${where} -> ${res.body.slice(0, 200)}`).toBe(true);
          expect(Object.keys(body as object), where).toEqual(['error']);
          expect(res.body, where).not.toMatch(LEAK);
        }
      });
    }
    // The generator reaches both outcomes and the main error classes.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(50);
    for (const s of [400, 404, 405, 413, 415, 422])
      expect(statuses.get(s) ?? 0, `status ${s}`).toBeGreaterThan(0);
  });
});
