/* eslint-disable @typescript-eslint/no-explicit-any -- recorded JSON bodies are inspected freely */
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { cxPublicKeyAdvertisement, generateCxKeyPair, type CxKeyPair } from '@iicp/crypto';
import { openCxRequest, sealCxResponse } from '@iicp/crypto/cx';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from '../src/index.ts';
import type { ClientOptions } from '../src/index.ts';
import {
  entry,
  fakeTime,
  json,
  ok,
  sseWriter,
  startDirectory,
  startNode,
  success,
  ticketFor,
} from './support/mesh.ts';
import type { NodeHandler, RecordedRequest, ScriptedNode } from './support/mesh.ts';

const INTENT = 'urn:iicp:intent:x.test:echo:v1';
const CANARY = 'canary-client-cx-77aa';
const NOT_AFTER = new Date('2030-01-01T00:00:00Z');
let servers: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

const adv = (k: CxKeyPair, features?: string[]) => cxPublicKeyAdvertisement(k, NOT_AFTER, features);

/** What a CX node decrypted, per request. */
type Opened = { payload: any; shared: Uint8Array };

async function open(key: CxKeyPair, task: RecordedRequest): Promise<Opened> {
  const r = await openCxRequest({
    envelope: task.body.iicp_conf,
    recipientKeys: [key],
    taskId: task.body.task_id,
    intent: task.body.intent,
  });
  return { payload: JSON.parse(new TextDecoder().decode(r.plaintext)), shared: r.sharedSecret };
}

/** A scripted CX-Provider: decrypts, answers the echo; sealed when the caller asked. */
function cxHandler(
  key: CxKeyPair,
  seen: Opened[],
  answer: 'auto' | 'plaintext' = 'auto',
): NodeHandler {
  return async (task, res) => {
    const o = await open(key, task);
    seen.push(o);
    const result = { echo: o.payload.text };
    if (answer === 'auto' && task.body.cx_response_encryption === 'required') {
      const iicp_conf_resp = await sealCxResponse({
        sharedSecret: o.shared,
        taskId: task.body.task_id,
        plaintext: JSON.stringify(result),
      });
      json(res, 200, { task_id: task.body.task_id, status: 'encrypted', iicp_conf_resp });
      return;
    }
    json(res, 200, success(task, result));
  };
}

async function mesh(
  nodes: { handler: NodeHandler; extra?: object }[],
  opts: Partial<ClientOptions> = {},
) {
  const started: ScriptedNode[] = [];
  for (const n of nodes) started.push(await startNode([], n.handler));
  const dir = await startDirectory([], {
    nodes: () => started.map((s, i) => entry(s, 0.9 - i * 0.1, nodes[i]!.extra ?? {})),
  });
  servers.push(dir, ...started);
  const time = fakeTime();
  const client = createClient({
    directoryUrl: dir.url,
    now: time.now,
    sleep: time.sleep,
    random: () => 0.5,
    attemptGraceMs: 0,
    ...opts,
  });
  return { nodes: started, dir, client };
}

async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('IICP-CX by default (CX-Consumer)', () => {
  it('seals the payload to a node that advertises a key; nothing readable leaves the client', async () => {
    const key = generateCxKeyPair();
    const seen: Opened[] = [];
    const { nodes, client } = await mesh([
      { handler: cxHandler(key, seen), extra: { cx_public_key: adv(key) } },
    ]);
    const res = await client.call(INTENT, { text: CANARY });
    expect(res.result).toEqual({ echo: CANARY });
    const sent = nodes[0]!.requests[0]!.body;
    expect(sent.payload).toBeUndefined();
    expect(sent.iicp_conf).toMatchObject({ version: 1, recipient_key_id: key.keyId });
    // No response_encryption_v1 advertised: the answer stays Tier 1.
    expect(sent.cx_response_encryption).toBeUndefined();
    expect(JSON.stringify(sent)).not.toContain(CANARY);
    expect(seen[0]!.payload).toEqual({ text: CANARY });
  });

  it('asks for and opens an encrypted answer when the node offers response_encryption_v1', async () => {
    const key = generateCxKeyPair();
    const { nodes, client } = await mesh([
      {
        handler: cxHandler(key, []),
        extra: { cx_public_key: adv(key, ['response_encryption_v1', 'x-future']) },
      },
    ]);
    const res = await client.call(INTENT, { text: CANARY });
    expect(nodes[0]!.requests[0]!.body.cx_response_encryption).toBe('required');
    expect(res.status).toBe('success');
    expect(res.result).toEqual({ echo: CANARY });
  });

  it('refuses a plaintext answer after negotiating response encryption, and tries the next node', async () => {
    const key = generateCxKeyPair();
    const feat = ['response_encryption_v1'];
    const { nodes, client } = await mesh([
      { handler: cxHandler(key, [], 'plaintext'), extra: { cx_public_key: adv(key, feat) } },
      { handler: cxHandler(key, []), extra: { cx_public_key: adv(key, feat) } },
    ]);
    const res = await client.call(INTENT, { text: 'x' });
    expect(res.result).toEqual({ echo: 'x' });
    expect(nodes.map((n) => n.requests.length)).toEqual([1, 1]);
    // Each attempt seals afresh: a new ephemeral key for the same task (CX-06).
    const [a, b] = nodes.map((n) => n.requests[0]!.body);
    expect(a.task_id).toBe(b.task_id);
    expect(a.iicp_conf.kem_ciphertext).not.toBe(b.iicp_conf.kem_ciphertext);
  });

  it('refuses keyless nodes by default, naming the option; nothing is sent', async () => {
    const { nodes, client } = await mesh([{ handler: ok() }, { handler: ok() }]);
    const err = await rejection(client.call(INTENT, { text: CANARY }));
    expect(err.code).toBe('IICP-E033');
    expect(err.message).toContain('allowPlaintext');
    expect(err.details).toMatchObject({ reason: 'no_cx_key', keyless_nodes: 2 });
    expect(nodes.flatMap((n) => n.requests)).toHaveLength(0);
  });

  it('treats a malformed or expired key as no key', async () => {
    const key = generateCxKeyPair();
    const { nodes, client } = await mesh([
      { handler: ok(), extra: { cx_public_key: { ...adv(key), key: adv(key).key.slice(0, 40) } } },
      {
        handler: ok(),
        extra: { cx_public_key: { ...adv(key), not_after: '2020-01-01T00:00:00Z' } },
      },
    ]);
    expect((await rejection(client.call(INTENT, {}))).code).toBe('IICP-E033');
    expect(nodes.flatMap((n) => n.requests)).toHaveLength(0);
  });

  it('with allowPlaintext, keyless nodes get plaintext and keyed nodes are still encrypted to', async () => {
    const key = generateCxKeyPair();
    const { nodes, client } = await mesh(
      [
        {
          handler: (_t, res) =>
            json(res, 503, { error: { code: 'service_unavailable', message: 'x' } }),
        },
        { handler: cxHandler(key, []), extra: { cx_public_key: adv(key) } },
      ],
      { allowPlaintext: true },
    );
    await client.call(INTENT, { text: 'y' });
    expect(nodes[0]!.requests[0]!.body.payload).toEqual({ text: 'y' });
    expect(nodes[1]!.requests[0]!.body.payload).toBeUndefined();
    expect(nodes[1]!.requests[0]!.body.iicp_conf).toBeDefined();
  });

  it('a node that cannot open the envelope (IICP-E050) moves the task on, still encrypted', async () => {
    const key = generateCxKeyPair();
    const { nodes, client } = await mesh([
      {
        handler: (_t, res) =>
          json(res, 422, { error: { code: 'IICP-E050', message: 'cannot decrypt' } }),
        extra: { cx_public_key: adv(generateCxKeyPair()) },
      },
      { handler: cxHandler(key, []), extra: { cx_public_key: adv(key) } },
    ]);
    expect((await client.call(INTENT, { text: 'z' })).result).toEqual({ echo: 'z' });
    for (const n of nodes) expect(n.requests[0]!.body.payload).toBeUndefined();
  });

  it('streams with an encrypted request (events in clear, Tier 1)', async () => {
    const key = generateCxKeyPair();
    const { nodes, client } = await mesh([
      {
        handler: async (task, res) => {
          const o = await open(key, task);
          const send = sseWriter(res);
          const id = task.body.task_id;
          send({ task_id: id, sequence: 0, event: 'accepted', is_final: false });
          send({
            task_id: id,
            sequence: 1,
            event: 'partial',
            is_final: false,
            result: o.payload.text,
          });
          send({ task_id: id, sequence: 2, event: 'completed', is_final: true });
          res.end();
        },
        extra: { cx_public_key: adv(key, ['response_encryption_v1']) },
      },
    ]);
    const out: string[] = [];
    for await (const d of client.stream(INTENT, { text: 'streamed' })) if (d.text) out.push(d.text);
    expect(out).toEqual(['streamed']);
    expect(nodes[0]!.requests[0]!.body.cx_response_encryption).toBeUndefined();
  });

  it('ticket mode seals to the key the route carries and refuses a keyless route', async () => {
    const key = generateCxKeyPair();
    const keyed = await startNode([], cxHandler(key, []));
    const keyless = await startNode([], ok());
    let routes = [keyed];
    const dir = await startDirectory([], {
      nodes: () => [],
      ticket: (_req, n) => {
        const node = routes[(n - 1) % routes.length]!;
        const t = ticketFor(node, INTENT);
        return {
          status: 201,
          body: node === keyed ? { ...t, route: { ...t.route, cx_public_key: adv(key) } } : t,
        };
      },
    });
    servers.push(keyed, keyless, dir);
    const client = createClient({ directoryUrl: dir.url, dispatch: 'ticket', attemptGraceMs: 0 });
    expect((await client.call(INTENT, { text: 't' })).result).toEqual({ echo: 't' });
    expect(keyed.requests[0]!.body.iicp_conf).toBeDefined();
    routes = [keyless];
    const err = await rejection(client.call(INTENT, { text: 't' }));
    expect(err.code).toBe('IICP-E033');
    expect(err.message).toContain('allowPlaintext');
    expect(keyless.requests).toHaveLength(0);
  });
});

describe('tolerance for deployed nodes (Postel, D-071)', () => {
  it('status "completed" is success', async () => {
    const { client } = await mesh(
      [{ handler: (t, res) => json(res, 200, success(t, { a: 1 }, { status: 'completed' })) }],
      { allowPlaintext: true },
    );
    const r = await client.call(INTENT, {});
    expect(r.status).toBe('success');
    expect(r.result).toEqual({ a: 1 });
  });

  it('a 200 with error_code/error_message and no result is a failed attempt: retried elsewhere, counted by the breaker', async () => {
    const failing: NodeHandler = (t, res) =>
      json(res, 200, {
        task_id: t.body.task_id,
        error_code: 'backend_error',
        error_message: 'model crashed',
      });
    const { nodes, client } = await mesh([{ handler: failing }, { handler: ok({ fine: true }) }], {
      allowPlaintext: true,
    });
    const r = await client.call(INTENT, {});
    expect(r.result).toEqual({ fine: true });
    expect(nodes.map((n) => n.requests.length)).toEqual([1, 1]);
    // Only failing nodes: the caller sees the node's code, not a success.
    const only = await mesh([{ handler: failing }, { handler: failing }], {
      allowPlaintext: true,
    });
    const err = await rejection(only.client.call(INTENT, {}));
    expect(err.details.last_error).toBe('backend_error');
    expect(only.nodes.map((n) => n.requests.length)).toEqual([1, 1]);
  });

  it('the breaker opens after five such answers', async () => {
    const failing: NodeHandler = (t, res) =>
      json(res, 200, { task_id: t.body.task_id, error_message: 'no result' });
    const { nodes, client } = await mesh([{ handler: failing }], { allowPlaintext: true });
    for (let i = 0; i < 5; i++) await rejection(client.call(INTENT, {}));
    expect(nodes[0]!.requests).toHaveLength(5);
    expect(client.breakerState(nodes[0]!.id)).toBe('open');
    await rejection(client.call(INTENT, {}));
    expect(nodes[0]!.requests).toHaveLength(5);
  });

  it('works with a node answering over HTTP/1.0 without keep-alive', async () => {
    const key = generateCxKeyPair();
    const seen: string[] = [];
    const server: TcpServer = createTcpServer((sock) => {
      let buf = Buffer.alloc(0);
      sock.on('data', async (d) => {
        buf = Buffer.concat([buf, d]);
        const text = buf.toString('latin1');
        const head = text.indexOf('\r\n\r\n');
        if (head < 0) return;
        const len = Number(/content-length:\s*(\d+)/i.exec(text.slice(0, head))?.[1] ?? 0);
        if (buf.length < head + 4 + len) return;
        const body = JSON.parse(buf.subarray(head + 4, head + 4 + len).toString('utf8'));
        seen.push(text.slice(0, text.indexOf('\r\n')));
        const o = await open(key, { body } as RecordedRequest);
        const out = JSON.stringify({
          task_id: body.task_id,
          status: 'success',
          result: { echo: o.payload.text },
          error: null,
        });
        // No Content-Length, no keep-alive: the body ends when the connection closes.
        sock.end(`HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n${out}`);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const dir = await startDirectory([], {
      nodes: () => [
        {
          node_id: '00000000-0000-4000-8000-00000000a010',
          endpoint: url,
          score: 0.9,
          available: true,
          cx_public_key: adv(key),
        },
      ],
    });
    servers.push(dir, { close: () => new Promise<void>((r) => server.close(() => r())) });
    const client = createClient({ directoryUrl: dir.url, attemptGraceMs: 0 });
    expect((await client.call(INTENT, { text: 'old' })).result).toEqual({ echo: 'old' });
    expect((await client.call(INTENT, { text: 'again' })).result).toEqual({ echo: 'again' });
    expect(seen).toHaveLength(2);
  });
});
