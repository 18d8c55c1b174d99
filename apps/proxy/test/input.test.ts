import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy, type TestProxy } from './support/proxy.ts';

// No node in the mesh: a body that passes validation ends in 503 IICP-E033, so every
// answer below is a client error or that, and never a 500.
let proxy: TestProxy;
beforeAll(async () => {
  proxy = await startProxy([]);
});
afterAll(async () => {
  await proxy.close();
});

type Shape = 'openai' | 'ollama' | 'anthropic';
const ROUTES: Array<{ path: string; shape: Shape; valid: Record<string, unknown> }> = [
  {
    path: '/v1/chat/completions',
    shape: 'openai',
    valid: { model: 'm', messages: [{ role: 'user', content: 'x' }] },
  },
  { path: '/v1/completions', shape: 'openai', valid: { model: 'm', prompt: 'x' } },
  { path: '/v1/embeddings', shape: 'openai', valid: { model: 'm', input: 'x' } },
  {
    path: '/api/chat',
    shape: 'ollama',
    valid: { model: 'm', messages: [{ role: 'user', content: 'x' }], stream: false },
  },
  { path: '/api/generate', shape: 'ollama', valid: { model: 'm', prompt: 'x', stream: false } },
  {
    path: '/v1/messages',
    shape: 'anthropic',
    valid: { model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] },
  },
];

function expectShape(shape: Shape, body: Record<string, unknown>, code: string | null) {
  if (shape === 'openai') {
    const e = body.error as Record<string, unknown>;
    expect(typeof e.message).toBe('string');
    expect(typeof e.type).toBe('string');
    expect(e.code).toBe(code);
    expect('param' in e).toBe(true);
  } else if (shape === 'anthropic') {
    expect(body.type).toBe('error');
    const e = body.error as Record<string, unknown>;
    expect(typeof e.type).toBe('string');
    expect(typeof e.message).toBe('string');
    expect(e.iicp_code).toBe(code);
  } else {
    expect(typeof body.error).toBe('string');
    expect(body.code).toBe(code);
  }
}

/** Bodies that are mostly wrong: random JSON, and the valid body with one field replaced. */
function bodies(valid: Record<string, unknown>) {
  const keys = Object.keys(valid);
  return fc.oneof(
    fc.jsonValue(),
    fc
      .record({
        key: fc.constantFrom(...keys, 'stream', 'temperature', 'max_tokens'),
        value: fc.jsonValue(),
      })
      .map(({ key, value }) => ({ ...valid, [key]: value })),
    fc.constantFrom(...keys).map((k) => {
      const copy = { ...valid };
      delete copy[k];
      return copy;
    }),
  );
}

describe('bad client input gets the client protocol 4xx, never a 500', () => {
  for (const route of ROUTES) {
    it(`${route.path}: arbitrary bodies`, async () => {
      await fc.assert(
        fc.asyncProperty(bodies(route.valid), async (body) => {
          const res = await proxy.handle.app.inject({
            method: 'POST',
            url: route.path,
            headers: { 'content-type': 'application/json' },
            payload: JSON.stringify(body),
          });
          const json = res.json() as Record<string, unknown>;
          const code = res.headers['x-iicp-error-code'];
          if (res.statusCode === 200) {
            // Ollama answers an empty conversation/prompt without calling the mesh.
            expect(route.shape).toBe('ollama');
            expect(json.done_reason).toBe('load');
            return;
          }
          expect([400, 503]).toContain(res.statusCode);
          expect(code).toBe(res.statusCode === 400 ? 'validation_error' : 'IICP-E033');
          expectShape(route.shape, json, code as string);
        }),
        { numRuns: 150 },
      );
    });

    it(`${route.path}: undecodable JSON and foreign content types`, async () => {
      const broken = await proxy.handle.app.inject({
        method: 'POST',
        url: route.path,
        headers: { 'content-type': 'application/json' },
        payload: '{"model": ',
      });
      expect(broken.statusCode).toBe(400);
      expectShape(route.shape, broken.json(), 'validation_error');
      const empty = await proxy.handle.app.inject({
        method: 'POST',
        url: route.path,
        headers: { 'content-type': 'application/json' },
        payload: '',
      });
      expect(empty.statusCode).toBe(400);
      expectShape(route.shape, empty.json(), 'validation_error');
      const big = await proxy.handle.app.inject({
        method: 'POST',
        url: route.path,
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ ...route.valid, pad: 'x'.repeat(1024 * 1024 + 10) }),
      });
      expect(big.statusCode).toBe(413);
      expectShape(route.shape, big.json(), 'payload_too_large');
      if (route.shape !== 'ollama') {
        const xml = await proxy.handle.app.inject({
          method: 'POST',
          url: route.path,
          headers: { 'content-type': 'application/xml' },
          payload: '<a/>',
        });
        expect(xml.statusCode).toBe(415);
        expectShape(route.shape, xml.json(), 'unsupported_media_type');
      }
    });
  }
});
