import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { createHttpClient } from '@iicp/http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackendHttpClient } from '../src/backends/index.ts';
import { callJson, callJsonGeneral, streamSse } from '../src/backends/transport.ts';
import { BackendError } from '../src/backends/types.ts';

/** What the test server answers: status, headers and the body in pieces. */
interface Reply {
  status: number;
  headers: Record<string, string>;
  chunks: Buffer[];
  /** Send `content-length` (else chunked transfer encoding). */
  sized: boolean;
}

/** What the server saw of a request. */
interface Seen {
  method: string;
  url: string;
  rawHeaders: string[];
  body: string;
}

let server: Server;
let base: string;
let next: Reply | undefined;
const seen: Seen[] = [];
let hold: ((res: ServerResponse) => void) | undefined;

function answer(req: IncomingMessage, res: ServerResponse, body: string): void {
  seen.push({ method: req.method!, url: req.url!, rawHeaders: req.rawHeaders, body });
  if (hold) {
    const h = hold;
    hold = undefined;
    h(res);
    return;
  }
  const r = next!;
  const total = r.chunks.reduce((n, c) => n + c.length, 0);
  res.writeHead(r.status, {
    ...r.headers,
    ...(r.sized ? { 'content-length': String(total) } : {}),
  });
  for (const c of r.chunks) res.write(c);
  res.end();
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => answer(req, res, Buffer.concat(parts).toString('utf8')));
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

const general = createHttpClient({ connections: 256, keepAliveTimeoutMs: 30_000 });
const direct = createBackendHttpClient();

afterAll(async () => {
  await Promise.all([general.close(), direct.close()]);
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

type Outcome = { ok: true; value: unknown } | { ok: false; code: string; status?: number };

async function outcome(p: Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: true, value: await p };
  } catch (err) {
    if (!(err instanceof BackendError)) throw err;
    return {
      ok: false,
      code: err.code,
      ...(err.status !== undefined ? { status: err.status } : {}),
    };
  }
}

const JSON_BODIES = [
  '{"choices":[{"index":0,"message":{"role":"assistant","content":"pong"}}],"usage":{"total_tokens":4}}',
  '[1,2,3]',
  '{"__proto__":{"x":1},"a":"é"}',
  '"just a string"',
  '42',
  'null',
  '{',
  '',
  'not json at all',
];

const replyArb = fc.record({
  status: fc.constantFrom(200, 200, 200, 201, 204, 301, 302, 304, 400, 404, 500, 503),
  contentType: fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'Application/JSON',
    'text/plain',
    'text/html; charset=utf-8',
    'application/octet-stream',
    undefined,
  ),
  location: fc.option(fc.constantFrom('/elsewhere', 'http://127.0.0.1:1/x'), { nil: undefined }),
  body: fc.oneof(
    fc.constantFrom(...JSON_BODIES).map((t) => Buffer.from(t, 'utf8')),
    fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null', 'utf8')),
    // Invalid UTF-8 inside an otherwise well-formed JSON text.
    fc.constant(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d])),
  ),
  splits: fc.array(fc.nat(), { maxLength: 3 }),
  sized: fc.boolean(),
});

type ReplySpec = typeof replyArb extends fc.Arbitrary<infer T> ? T : never;

function toReply(a: ReplySpec): Reply {
  const headers: Record<string, string> = {};
  if (a.contentType !== undefined) headers['content-type'] = a.contentType;
  if (a.location !== undefined) headers.location = a.location;
  // 204 and 304 carry no body (Node drops it); keep the reply consistent with that.
  const body = a.status === 204 || a.status === 304 ? Buffer.alloc(0) : a.body;
  const cuts = [...new Set(a.splits.map((s) => (body.length ? s % body.length : 0)))].sort(
    (x, y) => x - y,
  );
  const chunks: Buffer[] = [];
  let at = 0;
  for (const c of cuts) {
    if (c > at) chunks.push(body.subarray(at, c));
    at = Math.max(at, c);
  }
  if (at < body.length || chunks.length === 0) chunks.push(body.subarray(at));
  return { status: a.status, headers, chunks, sized: a.sized };
}
const requestArb = fc.record({
  path: fc.constantFrom('/v1/chat/completions', '/v1/models', '/api/chat?x=1'),
  method: fc.constantFrom(undefined, 'GET' as const, 'POST' as const),
  body: fc.option(
    fc.oneof(
      fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 })),
      fc.constant({ model: 'm', messages: [{ role: 'user', content: 'hi ü' }], stream: false }),
      fc.constant('raw text body'),
    ),
    { nil: undefined },
  ),
  headers: fc.option(
    fc.constantFrom<Record<string, string>>(
      { authorization: 'Bearer sk-test' },
      { 'X-Api-Key': 'k', 'anthropic-version': '2023-06-01' },
      { 'content-type': 'application/x-custom' },
      { Accept: 'application/x-ndjson' },
    ),
    { nil: undefined },
  ),
});

describe('callJson: the direct path against HttpClient.request', () => {
  it('sends the same request and answers or fails the same way (fixed-seed sample)', async () => {
    let compared = 0;
    await fc.assert(
      fc.asyncProperty(replyArb, requestArb, async (ra, rq) => {
        next = toReply(ra);
        const req = {
          url: base + rq.path,
          ...(rq.method ? { method: rq.method } : {}),
          ...(rq.body !== undefined ? { body: rq.body } : {}),
          ...(rq.headers ? { headers: rq.headers } : {}),
          timeoutMs: 10_000,
        };
        seen.length = 0;
        const a = await outcome(callJsonGeneral(general, req));
        const b = await outcome(callJson(direct, req));
        expect(b).toEqual(a);
        if (a.ok && b.ok)
          expect(Object.keys(b.value as object)).toEqual(Object.keys(a.value as object));
        expect(seen).toHaveLength(2);
        expect(seen[1]).toEqual(seen[0]);
        compared++;
      }),
      { seed: 20261207, numRuns: 150 },
    );
    expect(compared).toBe(150);
  });

  it('covers successes and each failure code in that sample', async () => {
    const codes = new Set<string>();
    await fc.assert(
      fc.asyncProperty(replyArb, requestArb, async (ra, rq) => {
        next = toReply(ra);
        const o = await outcome(
          callJson(direct, {
            url: base + rq.path,
            ...(rq.body !== undefined ? { body: rq.body } : {}),
            timeoutMs: 10_000,
          }),
        );
        codes.add(o.ok ? 'ok' : o.code);
      }),
      { seed: 20261207, numRuns: 150 },
    );
    expect([...codes].sort()).toEqual(
      ['ok', 'backend_bad_reply', 'backend_status', 'backend_transport'].sort(),
    );
  });

  it('a reply declared larger than the cap is refused from its headers on both paths', async () => {
    hold = (res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '16777217' });
      res.write('{');
    };
    const a = await outcome(callJsonGeneral(general, { url: `${base}/big`, timeoutMs: 10_000 }));
    hold = (res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '16777217' });
      res.write('{');
    };
    const b = await outcome(callJson(direct, { url: `${base}/big`, timeoutMs: 10_000 }));
    expect(a).toEqual({ ok: false, code: 'backend_transport' });
    expect(b).toEqual(a);
  });

  it('the total deadline is backend_timeout, an abort backend_aborted', async () => {
    hold = () => undefined;
    const t = await outcome(callJson(direct, { url: `${base}/slow`, timeoutMs: 50 }));
    expect(t).toEqual({ ok: false, code: 'backend_timeout' });
    const ac = new AbortController();
    ac.abort();
    const pre = await outcome(callJson(direct, { url: `${base}/x`, signal: ac.signal }));
    expect(pre).toEqual({ ok: false, code: 'backend_aborted' });
    hold = () => undefined;
    const ac2 = new AbortController();
    const p = outcome(callJson(direct, { url: `${base}/held`, signal: ac2.signal }));
    while (!seen.some((s) => s.url === '/held')) await new Promise((r) => setImmediate(r));
    ac2.abort();
    expect(await p).toEqual({ ok: false, code: 'backend_aborted' });
  });

  it('an unsupported scheme is backend_transport on both paths', async () => {
    const a = await outcome(callJsonGeneral(general, { url: 'ftp://127.0.0.1/x' }));
    const b = await outcome(callJson(direct, { url: 'ftp://127.0.0.1/x' }));
    expect(a).toEqual({ ok: false, code: 'backend_transport' });
    expect(b).toEqual(a);
  });
});

describe('streamed replies', () => {
  it('a throw from the event handler fails the call with that error and drops the connection', async () => {
    let closed!: () => void;
    const gone = new Promise<void>((r) => (closed = r));
    hold = (res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"a":1}\n\ndata: {"a":2}\n\n');
      res.on('close', () => closed());
    };
    const events: string[] = [];
    const err = await streamSse(
      direct,
      { url: `${base}/sse`, body: { stream: true }, timeoutMs: 10_000 },
      (ev) => {
        events.push(ev.data);
        if (events.length === 2) throw new BackendError('backend_bad_reply', 'stop here');
      },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).message).toBe('stop here');
    expect(events).toEqual(['{"a":1}', '{"a":2}']);
    await gone;
  });

  it('events split across chunks arrive whole, the last one at the end of the body', async () => {
    hold = (res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"a"');
      setImmediate(() => {
        res.write(':1}\n\nda');
        setImmediate(() => res.end('ta: last'));
      });
    };
    const events: string[] = [];
    await streamSse(direct, { url: `${base}/sse2`, body: {}, timeoutMs: 10_000 }, (ev) =>
      events.push(ev.data),
    );
    expect(events).toEqual(['{"a":1}', 'last']);
  });
});
