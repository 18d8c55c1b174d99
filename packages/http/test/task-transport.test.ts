import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUndiciTaskTransport, type UndiciTaskTransportResponse } from '../src/index.ts';

// The undici CALL transport must behave as the fetch transport it replaces in the proxy:
// same request on the wire, same answers, and failures shaped like fetch's.

let server: Server;
let base: string;
let seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[] = [];
let releaseStream!: () => void;

function handle(req: IncomingMessage, res: ServerResponse, body: string): void {
  seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
  if (req.url === '/v1/task') {
    res.writeHead(201, { 'content-type': 'application/json', 'x-echo': 'one' });
    res.end(body);
  } else if (req.url === '/redirect/v1/task') {
    res.writeHead(307, { location: '/v1/task' }).end();
  } else if (req.url === '/sse/v1/task') {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: one\n\n');
    releaseStream = () => res.end('data: two\n\n');
  } else if (req.url === '/tail/v1/task') {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: one\n\n');
    setTimeout(() => res.end('data: two\n\n'), 20);
  } else if (req.url === '/flood/v1/task') {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: one\n\n');
    setTimeout(() => res.end('x'.repeat(200 * 1024)), 20);
  } else if (req.url === '/big/v1/task') {
    // 1 MiB in 16 KiB writes: more than the transport holds unread before it pauses.
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    let i = 0;
    const more = (): void => {
      while (i < BIG.length) {
        const ok = res.write(BIG.subarray(i, (i += 16 * 1024)));
        if (!ok) return void res.once('drain', more);
      }
      res.end();
    };
    more();
  } else if (req.url === '/silent/v1/task') {
    // Never answers: the caller's signal is all that ends it.
  } else if (req.url === '/hang/v1/task') {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: one\n\n');
  } else {
    res.writeHead(404).end();
  }
}

let connections = 0;
const BIG = Buffer.from(Array.from({ length: 1024 * 1024 }, (_, i) => 97 + ((i * 7) % 26)));

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const signal = () => new AbortController().signal;

async function readAll(res: UndiciTaskTransportResponse): Promise<string> {
  const r = res.reader();
  let out = '';
  for (;;) {
    const { done, value } = await r.read();
    if (done) return out;
    out += Buffer.from(value!).toString('utf8');
  }
}

describe('createUndiciTaskTransport', () => {
  it('POSTs the body with the given headers and returns status, headers and text', async () => {
    const t = createUndiciTaskTransport();
    try {
      await fc.assert(
        fc.asyncProperty(fc.json(), fc.string({ maxLength: 40 }), async (json, trace) => {
          seen = [];
          const res = await t.send({
            url: `${base}/v1/task`,
            headers: { 'content-type': 'application/json', 'x-iicp-trace-id': `t${trace.length}` },
            body: json,
            signal: signal(),
          });
          expect(res.status).toBe(201);
          expect(res.hasBody).toBe(true);
          expect(res.header('content-type')).toBe('application/json');
          expect(res.header('x-echo')).toBe('one');
          expect(res.header('x-absent')).toBeUndefined();
          expect(await res.text()).toBe(json);
          expect(seen).toHaveLength(1);
          expect(seen[0]!.method).toBe('POST');
          expect(seen[0]!.body).toBe(json);
          expect(seen[0]!.headers['x-iicp-trace-id']).toBe(`t${trace.length}`);
          expect(seen[0]!.headers['content-length']).toBe(String(Buffer.byteLength(json)));
        }),
        { numRuns: 60 },
      );
    } finally {
      await t.close();
    }
  });

  it('streams the body chunk by chunk, before the answer has ended', async () => {
    const t = createUndiciTaskTransport();
    try {
      const res = await t.send({
        url: `${base}/sse/v1/task`,
        headers: {},
        body: '{}',
        signal: signal(),
      });
      const r = res.reader();
      const first = await r.read();
      expect(first.done).toBe(false);
      expect(Buffer.from(first.value!).toString()).toBe('data: one\n\n');
      releaseStream();
      let rest = '';
      for (;;) {
        const x = await r.read();
        if (x.done) break;
        rest += Buffer.from(x.value!).toString();
      }
      expect(rest).toBe('data: two\n\n');
    } finally {
      await t.close();
    }
  });

  it('rejects like fetch: connection refused carries the code on cause', async () => {
    const t = createUndiciTaskTransport();
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    try {
      const err = await t
        .send({
          url: `http://127.0.0.1:${port}/v1/task`,
          headers: {},
          body: '{}',
          signal: signal(),
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(TypeError);
      expect((err as { cause?: { code?: string } }).cause?.code).toBe('ECONNREFUSED');
    } finally {
      await t.close();
    }
  });

  it('refuses a redirect instead of following it', async () => {
    const t = createUndiciTaskTransport();
    seen = [];
    try {
      await expect(
        t.send({ url: `${base}/redirect/v1/task`, headers: {}, body: '{}', signal: signal() }),
      ).rejects.toBeInstanceOf(TypeError);
      expect(seen.map((s) => s.url)).toEqual(['/redirect/v1/task']);
    } finally {
      await t.close();
    }
  });

  it('an abort stops a body that is still streaming; cancel() drops it', async () => {
    const t = createUndiciTaskTransport();
    try {
      const ctl = new AbortController();
      const res = await t.send({
        url: `${base}/hang/v1/task`,
        headers: {},
        body: '{}',
        signal: ctl.signal,
      });
      const r = res.reader();
      expect((await r.read()).done).toBe(false);
      const pending = r.read();
      ctl.abort(new Error('gone'));
      await expect(pending).rejects.toBeInstanceOf(TypeError);

      const res2 = await t.send({
        url: `${base}/hang/v1/task`,
        headers: {},
        body: '{}',
        signal: signal(),
      });
      res2.cancel();
      // Settles (ends or fails) instead of waiting for a body that never ends.
      const settled = await readAll(res2).then(
        () => 'ended',
        () => 'failed',
      );
      expect(['ended', 'failed']).toContain(settled);
    } finally {
      await t.close();
    }
  });

  it('release() reads a short rest so the connection serves the next CALL', async () => {
    const t = createUndiciTaskTransport();
    try {
      const res = await t.send({
        url: `${base}/tail/v1/task`,
        headers: {},
        body: '{}',
        signal: signal(),
      });
      expect((await res.reader().read()).done).toBe(false);
      const before = connections;
      res.release();
      await new Promise((r) => setTimeout(r, 60));
      const next = await t.send({
        url: `${base}/v1/task`,
        headers: {},
        body: '"again"',
        signal: signal(),
      });
      expect(await next.text()).toBe('"again"');
      expect(connections).toBe(before);
    } finally {
      await t.close();
    }
  });

  it('release() drops a rest larger than its bound (the next CALL opens a new connection)', async () => {
    const t = createUndiciTaskTransport();
    try {
      const res = await t.send({
        url: `${base}/flood/v1/task`,
        headers: {},
        body: '{}',
        signal: signal(),
      });
      expect((await res.reader().read()).done).toBe(false);
      const before = connections;
      res.release();
      await new Promise((r) => setTimeout(r, 100));
      const next = await t.send({
        url: `${base}/v1/task`,
        headers: {},
        body: '"again"',
        signal: signal(),
      });
      expect(await next.text()).toBe('"again"');
      expect(connections).toBeGreaterThan(before);
    } finally {
      await t.close();
    }
  });

  it('a body larger than what it holds unread: every byte, in order, read slowly or as text', async () => {
    const t = createUndiciTaskTransport();
    try {
      const call = () =>
        t.send({ url: `${base}/big/v1/task`, headers: {}, body: '{}', signal: signal() });
      const slow = await call();
      const r = slow.reader();
      // Let the socket run ahead of the reader: the transport pauses it, then resumes.
      await new Promise((done) => setTimeout(done, 50));
      const parts: Buffer[] = [];
      for (;;) {
        const x = await r.read();
        if (x.done) break;
        parts.push(Buffer.from(x.value!));
      }
      expect(Buffer.concat(parts).equals(BIG)).toBe(true);
      expect(await (await call()).text()).toBe(BIG.toString('utf8'));
    } finally {
      await t.close();
    }
  });

  it('an abort before the answer rejects like fetch, whether it came before or after sending', async () => {
    const t = createUndiciTaskTransport();
    try {
      const early = new AbortController();
      early.abort(new Error('before'));
      await expect(
        t.send({ url: `${base}/silent/v1/task`, headers: {}, body: '{}', signal: early.signal }),
      ).rejects.toBeInstanceOf(TypeError);
      const late = new AbortController();
      const pending = t.send({
        url: `${base}/silent/v1/task`,
        headers: {},
        body: '{}',
        signal: late.signal,
      });
      setTimeout(() => late.abort(new Error('after')), 20);
      await expect(pending).rejects.toBeInstanceOf(TypeError);
    } finally {
      await t.close();
    }
  });

  it('an unsupported scheme rejects before anything is sent', async () => {
    const t = createUndiciTaskTransport();
    try {
      await expect(
        t.send({ url: 'ftp://127.0.0.1/v1/task', headers: {}, body: '{}', signal: signal() }),
      ).rejects.toBeInstanceOf(TypeError);
    } finally {
      await t.close();
    }
  });
});
