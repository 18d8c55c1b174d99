import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ScriptedWorker, postJson, startRelay, type Harness } from './support/harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _e, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { lines, stream };
}

describe('relay: logs', () => {
  it('never logs payloads, tickets, session ids or source addresses (canary)', async () => {
    const { lines, stream } = capture();
    h = await startRelay({ logger: { level: 'trace', stream } });
    const id = randomUUID();
    const w = new ScriptedWorker(h.url, id);
    const ticket = h.ticket(id);
    await w.bind(ticket);
    const CANARY_IN = 'CANARY-IN-7f3a9c';
    const CANARY_OUT = 'CANARY-OUT-2b8d1e';
    const consumer = postJson(
      `${h.url}/v1/relay-for/${id}/v1/task?q=${CANARY_IN}`,
      { intent: 'urn:iicp:intent:llm:chat:v1', payload: { prompt: CANARY_IN } },
      { 'x-iicp-consumer-token': `tok-${CANARY_IN}` },
    );
    const call = await w.pull();
    await w.result(call!.request_id, 200, JSON.stringify({ result: CANARY_OUT }));
    expect((await consumer).text).toContain(CANARY_OUT);
    // Streamed and failing paths too.
    const c2 = postJson(`${h.url}/v1/relay-for/${id}/v1/task`, { p: CANARY_IN });
    const call2 = await w.pull();
    const up = w.streamResult(call2!.request_id, 200, { 'content-type': 'text/plain' });
    up.write(CANARY_OUT);
    up.end();
    await up.done;
    await c2;
    await postJson(`${h.url}/v1/relay/result`, {
      session_id: w.sessionId,
      request_id: 'f'.repeat(32),
      status: 200,
      body_b64: Buffer.from(CANARY_OUT).toString('base64'),
    });
    await w.unbind();
    await h.close();
    h = undefined;
    const log = lines.join('');
    expect(log.length).toBeGreaterThan(0);
    expect(log).toContain('relay session bound');
    for (const secret of [CANARY_IN, CANARY_OUT, ticket, w.sessionId]) {
      expect(log).not.toContain(secret);
    }
    expect(log).not.toContain('remoteAddress');
  });
});

describe('relay: /metrics and /iicp/health', () => {
  it('exports sessions, queued calls, forwarded bytes and added latency', async () => {
    h = await startRelay();
    const id = randomUUID();
    const w = new ScriptedWorker(h.url, id);
    await w.bind(h.ticket(id));
    const consumer = postJson(`${h.url}/v1/relay-for/${id}/v1/task`, { n: 1 });
    const call = await w.pull();
    await w.result(call!.request_id, 200, '{"ok":true}');
    await consumer;
    await postJson(`${h.url}/v1/relay-for/${randomUUID()}/v1/task`, {});
    const text = await (await fetch(`${h.url}/metrics`)).text();
    expect(text).toMatch(/^iicp_relay_sessions 1$/m);
    expect(text).toMatch(/^iicp_relay_queued_calls 0$/m);
    expect(text).toMatch(/^iicp_relay_forwarded_bytes_total\{direction="to_worker"\} 7$/m);
    expect(text).toMatch(/^iicp_relay_forwarded_bytes_total\{direction="to_consumer"\} 11$/m);
    expect(text).toMatch(/^iicp_relay_added_latency_seconds_count 1$/m);
    expect(text).toMatch(/^iicp_relay_added_latency_seconds_bucket\{le="\+Inf"\} 1$/m);
    expect(text).toMatch(/^iicp_relay_calls_total\{result="ok"\} 1$/m);
    expect(text).toMatch(/^iicp_relay_calls_total\{result="unbound"\} 1$/m);
    expect(text).toMatch(/^iicp_relay_binds_total\{result="ok"\} 1$/m);
    expect(text).not.toContain(id);
  });

  it('serves its own health for the directory probe', async () => {
    h = await startRelay();
    const r = await fetch(`${h.url}/iicp/health`);
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ status: 'ok', load: 0, active_jobs: 0 });
  });
});
