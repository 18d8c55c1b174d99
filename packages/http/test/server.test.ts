import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { decodeCbor, encodeCbor } from '@iicp/codec';
import { IicpLocalError, IicpProtocolError } from '@iicp/wire';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createIicpServer,
  type CreateIicpServerOptions,
  type IicpFastifyInstance,
} from '../src/index.ts';

const BodySchema = z.object({
  name: z.string().min(1),
  items: z.array(z.object({ qty: z.number().int().positive() })).default([]),
});
const ReplySchema = z.object({ hello: z.string(), count: z.number() });

const apps: IicpFastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

async function build(opts: CreateIicpServerOptions = {}): Promise<IicpFastifyInstance> {
  const app = await createIicpServer({ openapi: { title: 'test', version: '1.2.3' }, ...opts });
  apps.push(app);
  app.post(
    '/v1/things',
    { schema: { body: BodySchema, response: { 200: ReplySchema } } },
    async (req) => ({ hello: req.body.name, count: req.body.items.length }),
  );
  app.get(
    '/v1/things/:id',
    { schema: { params: z.object({ id: z.string().uuid() }) } },
    async (req) => ({
      id: req.params.id,
    }),
  );
  app.get('/boom/:kind', async (req) => {
    const kind = (req.params as { kind: string }).kind;
    if (kind === 'protocol') {
      throw new IicpProtocolError('capacity_exceeded', 'no slot', {
        details: { qos_class: 'batch', retry_after_ms: 250 },
      });
    }
    if (kind === 'local')
      throw new IicpLocalError('db_closed', 'database /srv/iicp/data.db closed');
    if (kind === 'type') {
      const o = undefined as unknown as { x: number };
      return o.x;
    }
    if (kind === 'sql') {
      throw Object.assign(new Error('SQLITE_CONSTRAINT: INSERT INTO nodes VALUES (secret)'), {
        code: 'SQLITE_CONSTRAINT',
      });
    }
    if (kind === 'string') throw 'a bare string at /srv/iicp/x.ts' as unknown as Error;
    if (kind === 'status')
      throw Object.assign(new Error('node_modules/x said no'), { statusCode: 429 });
    return { ok: true };
  });
  return app;
}

function expectEnvelope(body: string, code: string): Record<string, unknown> {
  const parsed = JSON.parse(body) as { error: Record<string, unknown> };
  expect(Object.keys(parsed)).toEqual(['error']);
  expect(parsed.error.code).toBe(code);
  expect(typeof parsed.error.message).toBe('string');
  expect(body).not.toMatch(/\bat |node_modules|\/srv\/iicp\/|SQLITE|INSERT/);
  return parsed.error;
}

describe('createIicpServer: happy path', () => {
  it('validates with zod, serialises the reply and sets request id and Server-Timing', async () => {
    const app = await build();
    const res = await app.inject({
      method: 'POST',
      url: '/v1/things',
      payload: { name: 'x', items: [{ qty: 1 }] },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ hello: 'x', count: 1 });
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers['server-timing']).toMatch(/^total;dur=\d+(\.\d+)?$/);
  });

  it('echoes a sane X-Request-Id and replaces an unsafe one', async () => {
    const app = await build();
    const a = await app.inject({
      method: 'GET',
      url: '/boom/none',
      headers: { 'x-request-id': 'abc-123_X.y' },
    });
    expect(a.headers['x-request-id']).toBe('abc-123_X.y');
    const b = await app.inject({
      method: 'GET',
      url: '/boom/none',
      headers: { 'x-request-id': 'a b\tc' },
    });
    expect(b.headers['x-request-id']).not.toBe('a b\tc');
    expect(b.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const c = await app.inject({
      method: 'GET',
      url: '/boom/none',
      headers: { 'x-request-id': 'x'.repeat(129) },
    });
    expect(c.headers['x-request-id']).toHaveLength(36);
  });
});

describe('createIicpServer: errors are always the envelope', () => {
  it('422 validation_error names the failing field', async () => {
    const app = await build();
    const res = await app.inject({
      method: 'POST',
      url: '/v1/things',
      payload: { name: 'x', items: [{ qty: 1 }, { qty: -2 }] },
    });
    expect(res.statusCode).toBe(422);
    const err = expectEnvelope(res.body, 'validation_error');
    expect(err.field).toBe('items[1].qty');
    expect(err.message).toMatch(/^items\[1\]\.qty: /);
  });

  it('422 for a bad path parameter and a missing field', async () => {
    const app = await build();
    const a = await app.inject({ method: 'GET', url: '/v1/things/not-a-uuid' });
    expect(a.statusCode).toBe(422);
    expect(expectEnvelope(a.body, 'validation_error').field).toBe('id');
    const b = await app.inject({ method: 'POST', url: '/v1/things', payload: {} });
    expect(b.statusCode).toBe(422);
    expect(expectEnvelope(b.body, 'validation_error').field).toBe('name');
  });

  it('404 not_found for an unknown route, 405 with Allow for a wrong method', async () => {
    const app = await build();
    const a = await app.inject({ method: 'GET', url: '/nope?x=1' });
    expect(a.statusCode).toBe(404);
    expect(a.headers['content-type']).toMatch(/^application\/json/);
    expectEnvelope(a.body, 'not_found');
    const b = await app.inject({ method: 'DELETE', url: '/v1/things' });
    expect(b.statusCode).toBe(405);
    expectEnvelope(b.body, 'method_not_allowed');
    expect(b.headers.allow).toBe('POST');
    const c = await app.inject({
      method: 'POST',
      url: '/v1/things/5d3c8f3e-4b8a-4c2e-9f1a-2b3c4d5e6f70',
    });
    expect(c.statusCode).toBe(405);
    expect(c.headers.allow).toBe('GET, HEAD');
  });

  it('413 payload_too_large above the body limit', async () => {
    const app = await build({ bodyLimit: 1024 });
    const res = await app.inject({
      method: 'POST',
      url: '/v1/things',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'x'.repeat(2000) }),
    });
    expect(res.statusCode).toBe(413);
    expectEnvelope(res.body, 'payload_too_large');
  });

  it('400 validation_error for malformed JSON, an empty JSON body and proto poisoning', async () => {
    const app = await build();
    for (const payload of ['{"name":', '', '{"__proto__":{"x":1},"name":"a"}']) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/things',
        headers: { 'content-type': 'application/json' },
        payload,
      });
      expect(res.statusCode).toBe(400);
      expect(expectEnvelope(res.body, 'validation_error').field).toBe('(body)');
    }
  });

  it('415 unsupported_media_type for other content types', async () => {
    const app = await build();
    for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/things',
        headers: { 'content-type': ct },
        payload: 'a=b',
      });
      expect(res.statusCode).toBe(415);
      expectEnvelope(res.body, 'unsupported_media_type');
    }
  });

  it('a protocol error keeps its status, code and details', async () => {
    const app = await build();
    const res = await app.inject({ method: 'GET', url: '/boom/protocol' });
    expect(res.statusCode).toBe(429);
    expect(res.json()).toEqual({
      error: {
        code: 'capacity_exceeded',
        message: 'no slot',
        qos_class: 'batch',
        retry_after_ms: 250,
      },
    });
  });

  it.each(['local', 'type', 'sql', 'string'])('%s errors become a generic 500', async (kind) => {
    const app = await build();
    const res = await app.inject({ method: 'GET', url: `/boom/${kind}` });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({
      error: { code: 'internal_error', message: 'internal server error' },
    });
  });

  it('a foreign 4xx status maps to its table code with a fixed message', async () => {
    const app = await build();
    const res = await app.inject({ method: 'GET', url: '/boom/status' });
    expect(res.statusCode).toBe(429);
    const err = expectEnvelope(res.body, 'rate_limited');
    expect(err.message).not.toMatch(/said no/);
  });
});

describe('createIicpServer: CBOR', () => {
  it('decodes CBOR and answers in the request encoding unless Accept excludes it', async () => {
    const app = await build();
    const body = Buffer.from(encodeCbor({ name: 'cb', items: [{ qty: 2 }] }));
    const a = await app.inject({
      method: 'POST',
      url: '/v1/things',
      headers: { 'content-type': 'application/iicp+cbor' },
      payload: body,
    });
    expect(a.statusCode).toBe(200);
    expect(a.headers['content-type']).toBe('application/iicp+cbor');
    expect(decodeCbor(a.rawPayload)).toEqual({ hello: 'cb', count: 1 });

    const b = await app.inject({
      method: 'POST',
      url: '/v1/things',
      headers: { 'content-type': 'application/cbor', accept: 'application/json' },
      payload: body,
    });
    expect(b.headers['content-type']).toMatch(/^application\/json/);
    expect(b.json()).toEqual({ hello: 'cb', count: 1 });

    const c = await app.inject({
      method: 'POST',
      url: '/v1/things',
      headers: { accept: 'application/iicp+cbor, application/json;q=0.9' },
      payload: { name: 'j' },
    });
    expect(c.headers['content-type']).toBe('application/iicp+cbor');
    expect(decodeCbor(c.rawPayload)).toEqual({ hello: 'j', count: 0 });
  });

  it('errors of a CBOR request are CBOR envelopes', async () => {
    const app = await build();
    const res = await app.inject({
      method: 'POST',
      url: '/v1/things',
      headers: { 'content-type': 'application/iicp+cbor' },
      payload: Buffer.from(encodeCbor({ name: '' })),
    });
    expect(res.statusCode).toBe(422);
    expect(res.headers['content-type']).toBe('application/iicp+cbor');
    const err = (decodeCbor(res.rawPayload) as { error: { code: string; field: string } }).error;
    expect(err.code).toBe('validation_error');
    expect(err.field).toBe('name');
  });

  it('malformed or non-deterministic CBOR is a 400 validation_error', async () => {
    const app = await build();
    // 0xbf = indefinite-length map (forbidden), then garbage; and a truncated map.
    for (const bytes of [Buffer.from([0xbf, 0x61, 0x61, 0x01, 0xff]), Buffer.from([0xa1, 0x61])]) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/things',
        headers: { 'content-type': 'application/iicp+cbor', accept: 'application/json' },
        payload: bytes,
      });
      expect(res.statusCode).toBe(400);
      expectEnvelope(res.body, 'validation_error');
    }
  });

  it('a JSON-only server refuses CBOR with 415 as iicp-cbor-wire.md §2.2 requires', async () => {
    const app = await build({ cbor: false });
    const res = await app.inject({
      method: 'POST',
      url: '/v1/things',
      headers: { 'content-type': 'application/iicp+cbor' },
      payload: Buffer.from(encodeCbor({ name: 'x' })),
    });
    expect(res.statusCode).toBe(415);
    expect(res.json()).toEqual({
      error: { code: 'unsupported_media_type', message: 'CBOR encoding not supported' },
    });
  });
});

describe('createIicpServer: metrics and OpenAPI', () => {
  it('serves /metrics with process metrics and a histogram labelled by route pattern', async () => {
    const app = await build();
    await app.inject({ method: 'GET', url: '/v1/things/5d3c8f3e-4b8a-4c2e-9f1a-2b3c4d5e6f70' });
    await app.inject({ method: 'GET', url: '/no/such/thing-42' });
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toContain('process_cpu_user_seconds_total');
    expect(res.body).toMatch(
      /http_request_duration_seconds_count\{method="GET",route="\/v1\/things\/:id",status_code="200"\} 1/,
    );
    expect(res.body).toMatch(/route="\(unmatched\)",status_code="404"/);
    expect(res.body).not.toContain('5d3c8f3e');
    expect(res.body).not.toContain('thing-42');
  });

  it('each app has its own registry', async () => {
    const a = await build();
    const b = await build();
    await a.inject({ method: 'GET', url: '/boom/none' });
    const text = await b.inject({ method: 'GET', url: '/metrics' });
    expect(text.body).not.toContain('route="/boom/:kind"');
  });

  it('serves /openapi.json generated from the zod schemas', async () => {
    const app = await build();
    const res = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json() as {
      openapi: string;
      info: { title: string; version: string };
      paths: Record<string, Record<string, { requestBody?: unknown; parameters?: unknown[] }>>;
    };
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info).toMatchObject({ title: 'test', version: '1.2.3' });
    const post = doc.paths['/v1/things']?.post;
    expect(JSON.stringify(post?.requestBody ?? null)).toContain('"name"');
    expect(doc.paths['/v1/things/{id}']?.get?.parameters?.length).toBe(1);
    expect(doc.paths['/metrics']).toBeUndefined();
  });
});

describe('createIicpServer: logs', () => {
  it('never logs bodies, Authorization, tokens or query strings', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString('utf8'));
        cb();
      },
    });
    const app = await build({ logger: { level: 'trace', stream } });
    const canary = 'CANARY-7f3a9-payload';
    await app.inject({
      method: 'POST',
      url: '/v1/things?token=QUERYSECRET',
      headers: { authorization: 'Bearer AUTHSECRET', 'x-consumer-token': 'CONSUMERSECRET' },
      payload: { name: canary },
    });
    await app.inject({ method: 'POST', url: '/v1/things', payload: { name: canary, items: 'x' } });
    await app.inject({ method: 'GET', url: '/boom/sql' });
    const all = lines.join('');
    expect(lines.length).toBeGreaterThan(3);
    expect(all).toContain('"url":"/v1/things"');
    for (const secret of [canary, 'QUERYSECRET', 'AUTHSECRET', 'CONSUMERSECRET']) {
      expect(all).not.toContain(secret);
    }
    // The 500 is logged with its cause for the operator, just never sent.
    expect(all).toContain('SQLITE_CONSTRAINT');
  });
});

describe('createIicpServer: real listener', () => {
  async function rawRequest(port: number, data: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const sock = connect(port, '127.0.0.1');
      let out = '';
      sock.on('data', (d) => (out += d.toString('latin1')));
      sock.on('end', () => resolve(out));
      sock.on('close', () => resolve(out));
      sock.on('error', reject);
      sock.write(data);
    });
  }

  it('answers malformed HTTP and oversized headers with the envelope', async () => {
    const app = await build({ maxHeaderSize: 4096 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as { port: number }).port;
    const bad = await rawRequest(port, 'GARBAGE / HTTP/9.9\r\n\r\n');
    expect(bad).toMatch(/^HTTP\/1\.1 400/);
    expectEnvelope(bad.slice(bad.indexOf('\r\n\r\n') + 4), 'validation_error');
    const big = await rawRequest(
      port,
      `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(8000)}\r\n\r\n`,
    );
    expect(big).toMatch(/^HTTP\/1\.1 431/);
    expectEnvelope(big.slice(big.indexOf('\r\n\r\n') + 4), 'validation_error');
    const ok = await fetch(`http://127.0.0.1:${port}/nope`);
    expect(ok.status).toBe(404);
    expectEnvelope(await ok.text(), 'not_found');
  });
});
