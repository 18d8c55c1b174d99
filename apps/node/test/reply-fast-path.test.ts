import { randomUUID } from 'node:crypto';
import { iicpCborCodec } from '@iicp/codec';
import { createIicpServer } from '@iicp/http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import type { Backend, BackendResult } from '../src/backends/types.ts';
import { NodeRuntimeState } from '../src/state.ts';
import { CHAT_INTENT, NODE_ID, NODE_TOKEN } from './support/node-app.ts';

/**
 * The task route sends a JSON answer as text it serialised itself (sendAnswer in
 * src/app.ts). Pinned here to the general path: the bytes and headers fastify (with
 * the same iicp-http plugin) gives when a route returns the same value as an object.
 */

let next: BackendResult = { result: {}, model: 'm' };
const backend: Backend = {
  type: 'openai',
  baseUrl: 'http://127.0.0.1:1',
  operations: ['chat'],
  listModels: () => Promise.resolve(['m']),
  invoke: () => Promise.resolve(next),
  stream: () => Promise.reject(new Error('not streamed here')),
};

let node: Awaited<ReturnType<typeof buildApp>>;
let reference: Awaited<ReturnType<typeof createIicpServer>>;
let echoed: unknown;

beforeAll(async () => {
  node = await buildApp({
    backend,
    state: new NodeRuntimeState({ nodeId: NODE_ID, nodeToken: NODE_TOKEN, models: ['m'] }),
  });
  reference = await createIicpServer({ logger: false, metrics: { prefix: '' } });
  reference.post('/ref', async () => echoed);
});

afterAll(async () => {
  await node.close();
  await reference.close();
});

const call = (headers: Record<string, string>) =>
  node.inject({
    method: 'POST',
    url: '/v1/task',
    headers,
    payload: {
      task_id: randomUUID(),
      intent: CHAT_INTENT,
      payload: { messages: [{ role: 'user', content: 'hi' }] },
      constraints: { timeout_ms: 10_000 },
      auth: { node_token: NODE_TOKEN },
    },
  });

/** The reply headers that do not vary per request. */
function stable(h: Record<string, unknown>): Record<string, unknown> {
  const { 'x-request-id': _id, 'server-timing': _t, date: _d, ...rest } = h;
  return rest;
}

const arbResult = fc.record({
  result: fc.jsonValue(),
  model: fc.string(),
  tokensUsed: fc.option(fc.nat(), { nil: undefined }),
});

describe('task answer fast path', () => {
  it('JSON: the same bytes and headers as a returned object (fixed seed)', async () => {
    await fc.assert(
      fc.asyncProperty(arbResult, async (r) => {
        next = r.tokensUsed === undefined ? { result: r.result, model: r.model } : r;
        const res = await call({ accept: 'application/json' });
        expect(res.statusCode).toBe(200);
        echoed = JSON.parse(res.body);
        const ref = await reference.inject({ method: 'POST', url: '/ref' });
        expect(res.body).toBe(ref.body);
        expect(stable(res.headers)).toEqual(stable(ref.headers));
        expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      }),
      { seed: 20261207, numRuns: 150 },
    );
  });

  it('CBOR when negotiated: the object goes through the codec as before', async () => {
    await fc.assert(
      fc.asyncProperty(arbResult, async (r) => {
        next = r.tokensUsed === undefined ? { result: r.result, model: r.model } : r;
        const res = await call({ accept: 'application/iicp+cbor' });
        expect(res.statusCode).toBe(200);
        expect(res.headers['content-type']).toBe('application/iicp+cbor');
        echoed = iicpCborCodec.decode(res.rawPayload);
        const ref = await reference.inject({
          method: 'POST',
          url: '/ref',
          headers: { accept: 'application/iicp+cbor' },
        });
        expect(Buffer.compare(res.rawPayload, ref.rawPayload)).toBe(0);
        expect(stable(res.headers)).toEqual(stable(ref.headers));
      }),
      { seed: 20261207, numRuns: 60 },
    );
  });
});

describe('bookkeeping after the answer', () => {
  it('counts every answered task and reads active tasks at scrape time', async () => {
    const scrape = async (): Promise<string> =>
      (await node.inject({ method: 'GET', url: '/metrics' })).body;
    const count = (text: string): number =>
      Number(
        /iicp_node_tasks_total\{intent="urn:iicp:intent:llm:chat:v1",status="success"\} (\d+)/.exec(
          text,
        )?.[1] ?? 0,
      );
    const before = count(await scrape());
    next = { result: { ok: true }, model: 'm' };
    for (let i = 0; i < 3; i++) expect((await call({})).statusCode).toBe(200);
    const after = await scrape();
    expect(count(after)).toBe(before + 3);
    expect(after).toMatch(/^iicp_node_active_tasks 0$/m);

    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const running = new Promise<void>((resolve) => (entered = resolve));
    const invoke = backend.invoke;
    (backend as { invoke: Backend['invoke'] }).invoke = async () => {
      entered();
      await held;
      return next;
    };
    try {
      const pending = call({});
      await running;
      expect(await scrape()).toMatch(/^iicp_node_active_tasks 1$/m);
      release();
      expect((await pending).statusCode).toBe(200);
      expect(await scrape()).toMatch(/^iicp_node_active_tasks 0$/m);
    } finally {
      (backend as { invoke: Backend['invoke'] }).invoke = invoke;
    }
  });
});
