import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ScriptedWorker, postJson, startRelay, until, type Harness } from './support/harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const TASK = JSON.stringify({ intent: 'urn:iicp:intent:llm:chat:v1', payload: { stream: true } });

async function consumerStream(url: string) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: TASK,
  });
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  return {
    res,
    async next(): Promise<string | undefined> {
      const { value, done } = await reader.read();
      return done ? undefined : dec.decode(value);
    },
  };
}

describe('relay: streamed results', () => {
  it('streamed upload: the consumer gets the first event before the worker sends the last', async () => {
    h = await startRelay();
    const id = randomUUID();
    const w = new ScriptedWorker(h.url, id);
    await w.bind(h.ticket(id));
    const consumerP = consumerStream(`${h.url}/v1/relay-for/${id}/v1/task`);
    const call = await w.pull();
    const up = w.streamResult(call!.request_id, 200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
    });
    up.write('data: {"delta":"one"}\n\n');
    const consumer = await consumerP;
    expect(consumer.res.status).toBe(200);
    expect(consumer.res.headers.get('content-type')).toBe('text/event-stream');
    // The worker has not sent its last event yet: this read only resolves if the
    // first one was forwarded on its own.
    expect(await consumer.next()).toBe('data: {"delta":"one"}\n\n');
    up.write('data: [DONE]\n\n');
    up.end();
    let rest = '';
    for (let s = await consumer.next(); s !== undefined; s = await consumer.next()) rest += s;
    expect(rest).toBe('data: [DONE]\n\n');
    expect((await up.done).status).toBe(204);
  });

  it('chunked JSON posts: forwarded in order, first chunk before the last', async () => {
    h = await startRelay();
    const id = randomUUID();
    const w = new ScriptedWorker(h.url, id);
    await w.bind(h.ticket(id));
    const consumerP = consumerStream(`${h.url}/v1/relay-for/${id}/v1/task`);
    const call = await w.pull();
    const headers = { 'content-type': 'text/event-stream' };
    expect(
      (await w.result(call!.request_id, 200, 'data: a\n\n', headers, { more: true })).status,
    ).toBe(204);
    const consumer = await consumerP;
    expect(await consumer.next()).toBe('data: a\n\n');
    // Out of order is refused and changes nothing.
    const bad = await w.result(call!.request_id, 200, 'x', headers, { more: true, seq: 5 });
    expect(bad.status).toBe(409);
    await w.result(call!.request_id, 200, 'data: b\n\n', headers, { more: true, seq: 1 });
    expect(await consumer.next()).toBe('data: b\n\n');
    await w.result(call!.request_id, 200, 'data: [DONE]\n\n', headers, { seq: 2 });
    let rest = '';
    for (let s = await consumer.next(); s !== undefined; s = await consumer.next()) rest += s;
    expect(rest).toBe('data: [DONE]\n\n');
    // The call is finished: a late chunk finds nothing.
    expect((await w.result(call!.request_id, 200, 'late', headers, { seq: 3 })).status).toBe(404);
  });

  it('a consumer leaving mid-stream stops the worker upload', async () => {
    h = await startRelay();
    const id = randomUUID();
    const w = new ScriptedWorker(h.url, id);
    await w.bind(h.ticket(id));
    const ac = new AbortController();
    const consumerP = fetch(`${h.url}/v1/relay-for/${id}/v1/task`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: TASK,
      signal: ac.signal,
    });
    const call = await w.pull();
    const headers = { 'content-type': 'text/event-stream' };
    await w.result(call!.request_id, 200, 'data: a\n\n', headers, { more: true });
    const res = await consumerP;
    await res.body!.getReader().read();
    ac.abort();
    await until(() => h!.app.relay.hub.inflightCalls === 0);
    const late = await w.result(call!.request_id, 200, 'data: b\n\n', headers, {
      more: true,
      seq: 1,
    });
    expect(late.status).toBe(404);
  });
});

describe('relay: queue limits under a burst', () => {
  it('holds the per-session queue cap and answers the rest 503 IICP-E039', async () => {
    h = await startRelay({ limits: { maxQueuedCallsPerSession: 3 } });
    const id = randomUUID();
    const w = new ScriptedWorker(h.url, id);
    await w.bind(h.ticket(id));
    const burst = Array.from({ length: 12 }, (_, i) =>
      postJson(`${h!.url}/v1/relay-for/${id}/v1/task`, { n: i }),
    );
    // Nine are refused at once while three wait for the worker.
    await until(() => h!.app.relay.hub.queuedCalls === 3 && refusedCount(h!) === 9);
    expect(h.app.relay.hub.queuedCalls).toBe(3);
    for (let i = 0; i < 3; i++) {
      const call = await w.pull();
      await w.result(call!.request_id, 200, `{"served":${i}}`);
    }
    const results = await Promise.all(burst);
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 503);
    expect(ok).toHaveLength(3);
    expect(refused).toHaveLength(9);
    for (const r of refused) {
      expect(r.json).toMatchObject({ error: { code: 'IICP-E039', reason: 'relay_queue_full' } });
    }
  });

  it('holds the global byte cap', async () => {
    h = await startRelay({ limits: { maxQueuedBytes: 1000 } });
    const id = randomUUID();
    const w = new ScriptedWorker(h.url, id);
    await w.bind(h.ticket(id));
    const big = { pad: 'x'.repeat(600) };
    const first = postJson(`${h.url}/v1/relay-for/${id}/v1/task`, big);
    await until(() => h!.app.relay.hub.queuedCalls === 1);
    const second = await postJson(`${h.url}/v1/relay-for/${id}/v1/task`, big);
    expect(second.status).toBe(503);
    expect(h.app.relay.hub.queuedBytes).toBeLessThanOrEqual(1000);
    const call = await w.pull();
    await w.result(call!.request_id, 200, '{}');
    expect((await first).status).toBe(200);
  });

  it('refuses a request body over the limit with 413', async () => {
    h = await startRelay({ maxRequestBytes: 100 });
    const id = randomUUID();
    await new ScriptedWorker(h.url, id).bind(h.ticket(id));
    const r = await postJson(`${h.url}/v1/relay-for/${id}/v1/task`, { pad: 'x'.repeat(200) });
    expect(r.status).toBe(413);
    expect(r.json).toMatchObject({ error: { code: 'payload_too_large' } });
  });
});

describe('relay: graceful shutdown', () => {
  it('releases parked pulls and fails queued calls cleanly on close', async () => {
    h = await startRelay();
    const id = randomUUID();
    const w = new ScriptedWorker(h.url, id);
    await w.bind(h.ticket(id));
    const other = randomUUID();
    const w2 = new ScriptedWorker(h.url, other);
    await w2.bind(h.ticket(other));
    const consumer = postJson(`${h.url}/v1/relay-for/${id}/v1/task`, { n: 1 });
    await until(() => h!.app.relay.hub.queuedCalls === 1);
    const parked = fetch(`${h.url}/v1/relay/pull?wait_ms=25000`, {
      headers: { authorization: `Bearer ${w2.sessionId}` },
    });
    await until(() => h!.app.relay.hub.waitingPulls === 1);
    // A 25 s pull must not hold the close up: the test timeout would catch it.
    await h.app.close();
    const res = await consumer;
    expect(res.status).toBe(503);
    expect(res.json).toMatchObject({ error: { code: 'service_unavailable' } });
    expect((await parked).status).toBe(503);
    h = undefined;
  });
});

function refusedCount(h: Harness): number {
  return h.app.relay.metrics.calls.get('queue_full') ?? 0;
}
