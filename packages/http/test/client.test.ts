import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { IicpProtocolError } from '@iicp/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  HttpClientError,
  SsrfBlockedError,
  createHttpClient,
  createIicpServer,
  type HttpClient,
  type IicpFastifyInstance,
  type ResolvedAddress,
} from '../src/index.ts';

let app: IicpFastifyInstance;
let base: string;
let port: number;
let releaseHang!: () => void;
const hang = new Promise<void>((r) => (releaseHang = r));
let hangEntered!: () => void;
const hangEnteredP = new Promise<void>((r) => (hangEntered = r));
const clients: HttpClient[] = [];
const client = (o: Parameters<typeof createHttpClient>[0] = {}) => {
  const c = createHttpClient(o);
  clients.push(c);
  return c;
};

beforeAll(async () => {
  app = await createIicpServer({ openapi: false, metrics: false });
  app.post('/echo', { schema: { body: z.object({ n: z.number() }) } }, async (req) => ({
    n: req.body.n * 2,
  }));
  app.get('/big', async () => ({ blob: 'x'.repeat(10_000) }));
  app.get('/big-chunked', async (_req, reply) =>
    reply.type('application/json').send(Readable.from(['{"a":"', 'y'.repeat(10_000), '"}'])),
  );
  app.get('/hang', async () => {
    hangEntered();
    await hang;
    return { late: true };
  });
  app.get('/redirect-out', async (_req, reply) =>
    reply.redirect('http://elsewhere.iicp.dev/x', 302),
  );
  app.get('/redirect-in', async (_req, reply) => reply.redirect('/big', 302));
  app.get('/text', async (_req, reply) => reply.type('text/plain').send('hello'));
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as { port: number }).port;
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  releaseHang();
  await Promise.all(clients.map((c) => c.close()));
  await app.close();
});

describe('createHttpClient', () => {
  it('round-trips JSON and CBOR through the plugin', async () => {
    const c = client();
    const j = await c.request({ url: `${base}/echo`, body: { n: 21 } });
    expect(j.status).toBe(200);
    expect(j.contentType).toBe('application/json');
    expect(j.body).toEqual({ n: 42 });
    const b = await c.request({
      url: `${base}/echo`,
      body: { n: 4 },
      encoding: 'cbor',
      accept: 'cbor',
    });
    expect(b.contentType).toBe('application/iicp+cbor');
    expect(b.body).toEqual({ n: 8 });
    const t = await c.request({ url: `${base}/text` });
    expect(t.body).toBe('hello');
  });

  it('turns an error envelope into IicpProtocolError, or returns it when asked', async () => {
    const c = client();
    const err = await c.request({ url: `${base}/echo`, body: { n: 'x' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IicpProtocolError);
    expect(err).toMatchObject({ code: 'validation_error', status: 422, details: { field: 'n' } });
    const raw = await c.request({ url: `${base}/nope`, throwOnHttpError: false });
    expect(raw.status).toBe(404);
    expect(raw.body).toMatchObject({ error: { code: 'not_found' } });
  });

  it('caps the response size, with and without Content-Length', async () => {
    const c = client({ maxResponseBytes: 1024 });
    for (const path of ['/big', '/big-chunked']) {
      const err = await c.request({ url: `${base}${path}` }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HttpClientError);
      expect((err as HttpClientError).code).toBe('response_too_large');
    }
    const ok = await c.request({ url: `${base}/big`, maxResponseBytes: 20_000 });
    expect((ok.body as { blob: string }).blob).toHaveLength(10_000);
  });

  it('does not follow redirects by default; same-origin mode follows only within the origin', async () => {
    const none = client();
    await expect(none.request({ url: `${base}/redirect-in` })).rejects.toMatchObject({
      code: 'redirect_refused',
    });
    const same = client({ redirects: 'same-origin', maxResponseBytes: 20_000 });
    const followed = await same.request({ url: `${base}/redirect-in` });
    expect(followed.status).toBe(200);
    await expect(same.request({ url: `${base}/redirect-out` })).rejects.toMatchObject({
      code: 'redirect_refused',
    });
  });

  it('enforces the per-request deadline and maps it to task_timeout', async () => {
    const c = client();
    const err = await c.request({ url: `${base}/hang`, timeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpClientError);
    expect((err as HttpClientError).code).toBe('timeout');
    expect((err as HttpClientError).toProtocolError().toWire().error.code).toBe('task_timeout');
  });

  it('propagates a caller abort', async () => {
    const c = client();
    const ac = new AbortController();
    const p = c
      .request({ url: `${base}/hang`, signal: ac.signal, timeoutMs: 60_000 })
      .catch((e: unknown) => e);
    await hangEnteredP;
    ac.abort();
    expect(await p).toMatchObject({ code: 'aborted' });
  });

  it('reports a refused connection as connect_failed', async () => {
    const tmp = await createIicpServer({ openapi: false, metrics: false });
    await tmp.listen({ host: '127.0.0.1', port: 0 });
    const closedPort = (tmp.server.address() as { port: number }).port;
    await tmp.close();
    const err = await client()
      .request({ url: `http://127.0.0.1:${closedPort}/` })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'connect_failed' });
    expect((err as HttpClientError).toProtocolError().toWire().error.code).toBe('backend_error');
  });
});

describe('createHttpClient with the SSRF guard', () => {
  const resolverOf =
    (table: Record<string, string[]>) =>
    async (h: string): Promise<ResolvedAddress[]> =>
      (table[h] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

  it('refuses loopback literals and reserved names before connecting', async () => {
    const c = client({ ssrf: { resolver: resolverOf({}) } });
    await expect(c.request({ url: `${base}/text` })).rejects.toBeInstanceOf(SsrfBlockedError);
    await expect(c.request({ url: `http://localhost:${port}/text` })).rejects.toMatchObject({
      reason: 'reserved_name',
    });
  });

  it('refuses a public-looking name that resolves to loopback', async () => {
    const c = client({ ssrf: { resolver: resolverOf({ 'sneaky.iicp.dev': ['127.0.0.1'] }) } });
    await expect(c.request({ url: `http://sneaky.iicp.dev:${port}/text` })).rejects.toMatchObject({
      code: 'ssrf_blocked',
      reason: 'private_address',
    });
  });

  it('checks the answer used to connect (DNS rebinding after a first public answer)', async () => {
    let n = 0;
    const guardOpts = {
      resolver: async (): Promise<ResolvedAddress[]> => [
        n++ === 0 ? { address: '8.8.8.8', family: 4 } : { address: '127.0.0.1', family: 4 },
      ],
    };
    const c = client({ ssrf: guardOpts });
    // A caller's pre-flight check sees the public answer ...
    const { createSsrfGuard } = await import('../src/index.ts');
    await expect(
      createSsrfGuard(guardOpts).assertUrl(`http://rebind.iicp.dev:${port}/`),
    ).resolves.toBeDefined();
    // ... but the connection resolves again, is checked again and refused.
    await expect(c.request({ url: `http://rebind.iicp.dev:${port}/text` })).rejects.toMatchObject({
      reason: 'private_address',
    });
  });

  it('allowPrivate opts out for local development', async () => {
    const c = client({ ssrf: { allowPrivate: true } });
    expect((await c.request({ url: `${base}/text` })).body).toBe('hello');
  });
});

describe('connect-to map keeps TLS hostname verification', () => {
  let dir: string;
  const certFor = (name: string) => {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        join(dir, `${name}.key`),
        '-out',
        join(dir, `${name}.crt`),
        '-days',
        '2',
        '-subj',
        `/CN=${name}`,
        '-addext',
        `subjectAltName=DNS:${name}`,
      ],
      { stdio: 'ignore' },
    );
    return {
      key: readFileSync(join(dir, `${name}.key`)),
      cert: readFileSync(join(dir, `${name}.crt`)),
    };
  };

  async function tlsServer(name: string) {
    const { key, cert } = certFor(name);
    const srv = createHttpsServer({ key, cert }, (_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end('{"tls":true}');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    return { srv, cert, port: (srv.address() as { port: number }).port };
  }

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'iicp-http-tls-'));
  });

  it('dials the mapped address and verifies the certificate against the original name', async () => {
    const good = await tlsServer('node.iicp-test.net');
    const bad = await tlsServer('other.iicp-test.net');
    try {
      const ok = client({
        ssrf: { resolver: async () => [] },
        ca: good.cert,
        connectTo: { 'node.iicp-test.net:443': `127.0.0.1:${good.port}` },
      });
      const res = await ok.request({ url: 'https://node.iicp-test.net/iicp/health' });
      expect(res.body).toEqual({ tls: true });

      // Same mapping onto a server whose certificate names another host: refused.
      const wrong = client({
        ca: [good.cert, bad.cert],
        connectTo: { 'node.iicp-test.net:443': `127.0.0.1:${bad.port}` },
      });
      const err = await wrong
        .request({ url: 'https://node.iicp-test.net/iicp/health' })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'connect_failed' });
    } finally {
      good.srv.close();
      bad.srv.close();
    }
  });
});
