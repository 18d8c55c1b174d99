import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { nodeRuntime } from '../src/app.ts';
import { SseParser } from '../src/backends/sse.ts';
import type { Backend } from '../src/backends/types.ts';
import { LIFECYCLE_PROFILE, type LifecycleEvent } from '../src/lifecycle.ts';
import { gate, type Shape } from './support/scripted-backend.ts';
import { callBody, sharedHttp, startNode, type Harness } from './support/node-app.ts';

afterAll(() => sharedHttp.close());

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function listen(harness: Harness): Promise<string> {
  await harness.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = harness.app.server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

/** Reads lifecycle events off a fetch body as they arrive. */
function eventReader(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const parser = new SseParser();
  const queue: LifecycleEvent[] = [];
  return {
    async next(): Promise<LifecycleEvent | undefined> {
      while (queue.length === 0) {
        const { value, done } = await reader.read();
        if (done) return undefined;
        for (const ev of parser.push(Buffer.from(value)))
          queue.push(JSON.parse(ev.data) as LifecycleEvent);
      }
      return queue.shift();
    },
    cancel: () => reader.cancel(),
  };
}

function streamCall(url: string, body: Record<string, unknown>, signal?: AbortSignal) {
  return fetch(`${url}/v1/task`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

const streamed = (c: Record<string, unknown> = {}) =>
  callBody({}, { required_profiles: [LIFECYCLE_PROFILE], ...c });

describe.each(['openai', 'ollama', 'anthropic'] as Shape[])(
  'lifecycle streaming from a %s backend',
  (shape) => {
    it('forwards each token as it arrives, then one final event', async () => {
      const g = gate();
      h = await startNode({ shape, script: { gate: g.promise } });
      const url = await listen(h);
      const body = streamed();
      const res = await streamCall(url, body);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const events = eventReader(res.body!);
      expect(await events.next()).toEqual({
        task_id: body.task_id,
        sequence: 0,
        event: 'accepted',
        is_final: false,
      });
      const first = await events.next();
      // The backend still holds the rest of the answer: this token came through alone.
      expect(first).toMatchObject({
        sequence: 1,
        event: 'partial',
        is_final: false,
        result: { choices: [{ delta: { content: 'Hel' } }] },
      });
      g.open();
      const rest: LifecycleEvent[] = [];
      for (let ev = await events.next(); ev; ev = await events.next()) rest.push(ev);
      const last = rest.at(-1)!;
      expect(last).toMatchObject({
        event: 'completed',
        is_final: true,
        status: 'success',
        generated_by_ai: true,
        model_used: 'test-model',
        metrics: { tokens_used: 12 },
      });
      expect(rest.filter((e) => e.is_final)).toHaveLength(1);
      const seqs = [0, 1, ...rest.map((e) => e.sequence)];
      expect(seqs).toEqual(seqs.map((_, i) => i));
      const text = [first!, ...rest]
        .filter((e) => e.event === 'partial')
        .map((e) =>
          (e.result as { choices: { delta: { content?: string } }[] }).choices
            .map((c) => c.delta.content ?? '')
            .join(''),
        )
        .join('');
      expect(text).toBe('Hello!');
    });
  },
);

describe('lifecycle streaming', () => {
  it('aborts the backend when the caller goes away', async () => {
    const g = gate();
    h = await startNode({ script: { gate: g.promise } });
    const url = await listen(h);
    const ac = new AbortController();
    const aborted = h.backend.nextAbort();
    const res = await streamCall(url, streamed(), ac.signal);
    const events = eventReader(res.body!);
    await events.next(); // accepted
    await events.next(); // first token
    ac.abort();
    await aborted;
    await nodeRuntime(h.app).idle();
    expect(nodeRuntime(h.app).admission.active).toBe(0);
    g.open();
    const metrics = (await h.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toContain('status="cancelled"} 1');
  });

  it('ends with a timed_out terminal event when the deadline passes', async () => {
    h = await startNode({ script: { hang: true } });
    const url = await listen(h);
    const res = await streamCall(url, streamed({ timeout_ms: 150 }));
    const events = eventReader(res.body!);
    expect((await events.next())!.event).toBe('accepted');
    const end = await events.next();
    expect(end).toMatchObject({
      sequence: 1,
      event: 'timed_out',
      is_final: true,
      error: { code: 'task_timeout' },
    });
    expect(await events.next()).toBeUndefined();
  });

  it('reports a backend failure as a failed terminal event without details', async () => {
    h = await startNode({ script: { status: 503, errorText: 'internal secret' } });
    const url = await listen(h);
    const res = await streamCall(url, streamed());
    const text = await res.text();
    expect(text).toContain('event: failed');
    expect(text).toContain('"code":"backend_error"');
    expect(text).not.toContain('internal secret');
  });

  it('has counted a finished stream (and freed its slot) by the time the stream ends', async () => {
    h = await startNode();
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/task',
      headers: { accept: 'text/event-stream' },
      payload: streamed(),
    });
    expect(res.body).toContain('event: completed');
    const text = (await h.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toMatch(/^iicp_node_tasks_total\{intent="[^"]+",status="success"\} 1$/m);
    expect(text).toMatch(/^iicp_node_task_duration_seconds_count\{intent="[^"]+"\} 1$/m);
    expect(text).toMatch(/^iicp_node_active_tasks 0$/m);
    expect(nodeRuntime(h.app).admission.active).toBe(0);
    expect(h.logs.text).toContain('task finished');
  });

  it('stays buffered without the profile or without an event-stream Accept', async () => {
    h = await startNode();
    const url = await listen(h);
    const plain = await streamCall(url, callBody());
    expect(plain.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await plain.json()) as { status: string }).status).toBe('success');
    const noAccept = await fetch(`${url}/v1/task`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(streamed()),
    });
    expect(((await noAccept.json()) as { status: string }).status).toBe('success');
  });

  it('can be cancelled through POST /v1/control', async () => {
    const g = gate();
    h = await startNode({ script: { gate: g.promise } });
    const url = await listen(h);
    const body = streamed();
    const res = await streamCall(url, body);
    const events = eventReader(res.body!);
    await events.next();
    await events.next();
    const ctl = await fetch(`${url}/v1/control`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${'ab'.repeat(32)}` },
      body: JSON.stringify({ task_id: body.task_id, reason: 'user' }),
    });
    expect(ctl.status).toBe(200);
    expect(await events.next()).toMatchObject({ event: 'cancelled', is_final: true });
    g.open();
    // Nothing follows the terminal event, even though the backend could now finish.
    expect(await events.next()).toBeUndefined();
  });
});

describe('event order when the backend call is dispatched before `accepted` is written', () => {
  /** A backend that reports its chunk, or fails, before it ever yields (no await). */
  function eagerBackend(mode: 'chunk' | 'throw' | 'empty'): Backend {
    return {
      type: 'openai',
      baseUrl: 'http://127.0.0.1:1',
      operations: ['chat'],
      listModels: () => Promise.resolve(['test-model']),
      invoke: () => Promise.reject(new Error('not used')),
      stream: (_op, _payload, _o, onChunk) => {
        if (mode === 'throw') throw new Error('backend down');
        if (mode === 'empty') return Promise.resolve({ model: 'test-model', finishReason: 'stop' });
        onChunk({ choices: [{ index: 0, delta: { content: 'now' } }] });
        return Promise.resolve({ model: 'test-model', finishReason: 'stop' });
      },
    };
  }

  /** The (sequence, event) pairs of one streamed call to a node on `eagerBackend(mode)`. */
  async function eventsWith(mode: 'chunk' | 'empty' | 'throw'): Promise<[number, string][]> {
    h = await startNode({ app: { backend: eagerBackend(mode) } });
    const url = await listen(h);
    const res = await streamCall(url, streamed());
    const events = eventReader(res.body!);
    const seen: [number, string][] = [];
    for (let ev = await events.next(); ev; ev = await events.next())
      seen.push([ev.sequence, ev.event]);
    return seen;
  }

  it('sends accepted first even if a chunk arrives synchronously', async () => {
    expect(await eventsWith('chunk')).toEqual([
      [0, 'accepted'],
      [1, 'partial'],
      [2, 'completed'],
    ]);
  });

  it('sends accepted before completed when the stream ends before the next macrotask', async () => {
    expect(await eventsWith('empty')).toEqual([
      [0, 'accepted'],
      [1, 'completed'],
    ]);
  });

  it('sends accepted before failed when the backend throws synchronously', async () => {
    expect(await eventsWith('throw')).toEqual([
      [0, 'accepted'],
      [1, 'failed'],
    ]);
  });
});
