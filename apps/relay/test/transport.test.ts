import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ScriptedWorker,
  decode,
  postJson,
  startRelay,
  until,
  type Harness,
} from './support/harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const TASK = {
  task_id: '6f1c8e0a-2b7d-4c1e-9a3f-0d5e6b7c8d9e',
  intent: 'urn:iicp:intent:llm:chat:v1',
  payload: { messages: [{ role: 'user', content: 'hello through the relay' }] },
  constraints: { timeout_ms: 5000 },
};

describe('relay: forwarding through relay-for', () => {
  it('forwards a task to the bound worker and returns its response unchanged', async () => {
    h = await startRelay();
    const id = randomUUID();
    const w = new ScriptedWorker(h.url, id);
    expect((await w.bind(h.ticket(id))).status).toBe(201);

    const consumer = postJson(`${h.url}/v1/relay-for/${id}/v1/task`, TASK, {
      'x-iicp-consumer-token': 'tok.abc',
      'x-request-id': 'req-1',
    });
    const call = await w.pull();
    expect(call).toBeDefined();
    expect(call!.method).toBe('POST');
    expect(call!.path).toBe('/v1/task');
    expect(JSON.parse(decode(call!.body_b64))).toEqual(TASK);
    expect(call!.headers['x-iicp-consumer-token']).toBe('tok.abc');
    expect(call!.headers['content-type']).toBe('application/json');
    expect(call!.headers['host']).toBeUndefined();

    const answer = JSON.stringify({
      task_id: TASK.task_id,
      status: 'success',
      result: { text: 'hi' },
    });
    const posted = await w.result(call!.request_id, 200, answer, {
      'content-type': 'application/json',
      'x-node-thing': 'kept',
      connection: 'close-me-not',
    });
    expect(posted.status).toBe(204);
    const res = await consumer;
    expect(res.status).toBe(200);
    expect(res.text).toBe(answer);
    expect(res.headers.get('x-node-thing')).toBe('kept');
    expect(res.headers.get('content-type')).toBe('application/json');
  });

  it('forwards /iicp/health and non-2xx statuses as they are', async () => {
    h = await startRelay();
    const id = randomUUID();
    const w = new ScriptedWorker(h.url, id);
    await w.bind(h.ticket(id));
    const consumer = fetch(`${h.url}/v1/relay-for/${id}/iicp/health?x=1`);
    const call = await w.pull();
    expect(call!.method).toBe('GET');
    expect(call!.path).toBe('/iicp/health?x=1');
    expect(call!.body_b64).toBe('');
    await w.result(call!.request_id, 503, '{"status":"degraded"}');
    const res = await consumer;
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('{"status":"degraded"}');
  });

  it('answers an unbound worker id with 404 IICP-E030 at once', async () => {
    h = await startRelay();
    const res = await postJson(`${h.url}/v1/relay-for/${randomUUID()}/v1/task`, TASK);
    expect(res.status).toBe(404);
    expect(res.json).toMatchObject({ error: { code: 'IICP-E030' } });
  });

  it('answers a worker whose session expired with 404 IICP-E030', async () => {
    let now = 1_000_000;
    h = await startRelay({ now: () => now, timers: false });
    const id = randomUUID();
    const w = new ScriptedWorker(h.url, id);
    await w.bind(h.ticket(id));
    now += 90_001;
    const res = await postJson(`${h.url}/v1/relay-for/${id}/v1/task`, TASK);
    expect(res.status).toBe(404);
    expect(res.json).toMatchObject({ error: { code: 'IICP-E030' } });
  });

  it('hands a call to an already waiting pull', async () => {
    h = await startRelay();
    const id = randomUUID();
    const w = new ScriptedWorker(h.url, id);
    await w.bind(h.ticket(id));
    const pulling = w.pull(10_000);
    await until(() => h!.app.relay.hub.waitingPulls === 1);
    const consumer = postJson(`${h.url}/v1/relay-for/${id}/v1/task`, TASK);
    const call = await pulling;
    expect(call?.path).toBe('/v1/task');
    await w.result(call!.request_id, 200, '{"ok":true}');
    expect((await consumer).json).toEqual({ ok: true });
  });

  it('answers 204 when no call arrives within the wait', async () => {
    h = await startRelay();
    const id = randomUUID();
    const w = new ScriptedWorker(h.url, id);
    await w.bind(h.ticket(id));
    expect(await w.pull(20)).toBeUndefined();
    expect((await w.pullStatus(0)).status).toBe(204);
  });

  it('fails in-flight calls with 502 IICP-E031 when the worker unbinds', async () => {
    h = await startRelay();
    const id = randomUUID();
    const w = new ScriptedWorker(h.url, id);
    await w.bind(h.ticket(id));
    const consumer = postJson(`${h.url}/v1/relay-for/${id}/v1/task`, TASK);
    const call = await w.pull();
    expect(call).toBeDefined();
    expect((await w.unbind()).status).toBe(200);
    const res = await consumer;
    expect(res.status).toBe(502);
    expect(res.json).toMatchObject({ error: { code: 'IICP-E031' } });
    // The session is gone: its credential no longer pulls, the worker id is unbound.
    expect((await w.pullStatus(0)).status).toBe(404);
    expect((await w.result(call!.request_id, 200, '{}')).status).toBe(404);
  });

  it('a consumer that goes away cancels its queued call', async () => {
    h = await startRelay();
    const id = randomUUID();
    const w = new ScriptedWorker(h.url, id);
    await w.bind(h.ticket(id));
    const ac = new AbortController();
    const consumer = fetch(`${h.url}/v1/relay-for/${id}/v1/task`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(TASK),
      signal: ac.signal,
    }).catch((e: unknown) => e);
    await until(() => h!.app.relay.hub.queuedCalls === 1);
    ac.abort();
    await consumer;
    await until(() => h!.app.relay.hub.queuedCalls === 0);
    expect(await w.pull(20)).toBeUndefined();
  });

  it('refuses a result from another session for a call it does not own', async () => {
    h = await startRelay();
    const a = randomUUID();
    const b = randomUUID();
    const wa = new ScriptedWorker(h.url, a);
    const wb = new ScriptedWorker(h.url, b);
    await wa.bind(h.ticket(a));
    await wb.bind(h.ticket(b));
    const consumer = postJson(`${h.url}/v1/relay-for/${a}/v1/task`, TASK);
    const call = await wa.pull();
    expect((await wb.result(call!.request_id, 200, '{"evil":true}')).status).toBe(404);
    await wa.result(call!.request_id, 200, '{"good":true}');
    expect((await consumer).json).toEqual({ good: true });
  });

  it('forwards non-JSON bodies byte for byte', async () => {
    h = await startRelay();
    const id = randomUUID();
    const w = new ScriptedWorker(h.url, id);
    await w.bind(h.ticket(id));
    const bytes = Buffer.from([0xa2, 0x61, 0x61, 0x01, 0x61, 0x62, 0x02, 0x00, 0xff]);
    const consumer = fetch(`${h.url}/v1/relay-for/${id}/v1/task`, {
      method: 'POST',
      headers: { 'content-type': 'application/iicp+cbor' },
      body: bytes,
    });
    const call = await w.pull();
    expect(Buffer.from(call!.body_b64, 'base64')).toEqual(bytes);
    expect(call!.headers['content-type']).toBe('application/iicp+cbor');
    await w.result(call!.request_id, 200, bytes, { 'content-type': 'application/iicp+cbor' });
    const res = await consumer;
    expect(Buffer.from(await res.arrayBuffer())).toEqual(bytes);
    expect(res.headers.get('content-type')).toBe('application/iicp+cbor');
  });
});
