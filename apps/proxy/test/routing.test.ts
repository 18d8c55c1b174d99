/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers are inspected freely */
import OpenAI from 'openai';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { deferred, failing, hanging, llmNode } from './support/mesh.ts';
import { sample, startProxy, type TestProxy } from './support/proxy.ts';

const CHAT = 'urn:iicp:intent:llm:chat:v1';
let proxy: TestProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

function openai(p: TestProxy): OpenAI {
  return new OpenAI({ baseURL: `${p.url}/v1`, apiKey: 'unused', maxRetries: 0 });
}

const ask = (p: TestProxy) =>
  openai(p)
    .chat.completions.create({
      model: 'scripted-model',
      messages: [{ role: 'user', content: 'q' }],
    })
    .withResponse();

describe('failover through @iicp/client', () => {
  it('slow, 503 and healthy nodes: the answer comes from the healthy one (PROXY-ROUTE-03, PROXY-TIMEOUT-01)', async () => {
    // timeout_ms 1500 with no grace: the hanging node times out on the client side, while
    // the other two answer well within it even on a slow, busy machine.
    proxy = await startProxy(
      [hanging, failing(503, 'service_unavailable'), llmNode({ parts: ['ok'] })],
      { timeoutMs: 1500, attemptGraceMs: 0 },
    );
    const [slow, unavailable, healthy] = proxy.nodes as [
      NonNullable<TestProxy['nodes'][0]>,
      NonNullable<TestProxy['nodes'][0]>,
      NonNullable<TestProxy['nodes'][0]>,
    ];
    const { data, response } = await ask(proxy);
    expect(data.choices[0]?.message.content).toBe('ok');
    expect(response.headers.get('x-iicp-node-id')).toBe(healthy.id);
    // One task, three nodes, the same task_id everywhere.
    const ids = [slow, unavailable, healthy].map((n) => n.tasks[0]?.body.task_id);
    expect(new Set(ids).size).toBe(1);
    expect(response.headers.get('x-iicp-task-id')).toBe(ids[0]);
    const m = await proxy.metrics();
    expect(sample(m, 'iicp_proxy_retries_total', { intent: CHAT })).toBe(2);
    expect(sample(m, 'iicp_proxy_attempts_total', { outcome: 'ok' })).toBe(1);
    expect(sample(m, 'iicp_proxy_attempts_total', { outcome: 'service_unavailable' })).toBe(1);
    // Both failures waited a backoff before the next node (recorded, not slept).
    expect(proxy.time.sleeps).toHaveLength(2);
    expect(proxy.time.sleeps.every((ms) => ms > 0)).toBe(true);
  });

  it('a node failing five times opens its breaker; then it is skipped', async () => {
    proxy = await startProxy([failing(503, 'service_unavailable'), llmNode({ parts: ['ok'] })]);
    const [bad, good] = proxy.nodes as [
      NonNullable<TestProxy['nodes'][0]>,
      NonNullable<TestProxy['nodes'][0]>,
    ];
    for (let i = 0; i < 5; i++) {
      const { response } = await ask(proxy);
      expect(response.headers.get('x-iicp-node-id')).toBe(good.id);
    }
    expect(bad.tasks).toHaveLength(5);
    expect(sample(await proxy.metrics(), 'iicp_proxy_breaker_opens_total')).toBe(1);
    const status = (await (await fetch(`${proxy.url}/status`)).json()) as any;
    expect(status.breakers[bad.id]).toBe('open');
    await ask(proxy);
    expect(bad.tasks).toHaveLength(5); // skipped while open
    expect(good.tasks).toHaveLength(6);
  });

  it('capacity_exceeded moves to the next node without waiting', async () => {
    proxy = await startProxy([failing(429, 'capacity_exceeded'), llmNode({ parts: ['ok'] })]);
    const { response } = await ask(proxy);
    expect(response.headers.get('x-iicp-node-id')).toBe(proxy.nodes[1]!.id);
    expect(proxy.time.sleeps).toEqual([]);
    const m = await proxy.metrics();
    expect(sample(m, 'iicp_proxy_immediate_switches_total', { intent: CHAT })).toBe(1);
    expect(sample(m, 'iicp_proxy_attempts_total', { outcome: 'capacity_exceeded' })).toBe(1);
  });

  it('every node failing → 503 no_available_node in OpenAI shape, not IICP-E033 (PROXY-ERR-02)', async () => {
    proxy = await startProxy([failing(503, 'service_unavailable'), failing(500, 'internal_error')]);
    const err = (await ask(proxy).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(503);
    expect(err.code).toBe('no_available_node');
  });

  it('every node timing out → 504 timeout (PROXY-TIMEOUT-02)', async () => {
    proxy = await startProxy([hanging, hanging], { timeoutMs: 100, attemptGraceMs: 0 });
    const err = (await ask(proxy).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(504);
    expect(err.code).toBe('timeout');
  });

  it('a client that goes away mid-stream closes the node connection', async () => {
    const gate = deferred();
    proxy = await startProxy([llmNode({ parts: ['a', 'b'], gate: () => gate.promise })]);
    const ctl = new AbortController();
    const res = await fetch(`${proxy.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'x' }], stream: true }),
      signal: ctl.signal,
    });
    const reader = res.body!.getReader();
    await reader.read(); // the first chunk is in
    ctl.abort();
    await vi.waitFor(() => expect(proxy!.nodes[0]!.aborts).toBe(1));
    // The answer counts as aborted, not as served.
    const outcome = async (o: string) =>
      sample(await proxy!.metrics(), 'iicp_proxy_requests_total', {
        intent: CHAT,
        protocol: 'openai',
        outcome: o,
      });
    await vi.waitFor(async () => expect(await outcome('aborted')).toBe(1));
    expect(await outcome('ok')).toBe(0);
    gate.release();
  });

  it('shutdown drains an in-flight stream before closing', async () => {
    const gate = deferred();
    proxy = await startProxy([llmNode({ parts: ['a', 'b'], gate: () => gate.promise })]);
    const res = await fetch(`${proxy.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'x' }], stream: true }),
    });
    const text = res.text();
    let closed = false;
    const closing = proxy.handle.app.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(closed).toBe(false);
    gate.release();
    const body = await text;
    await closing;
    expect(body).toContain('"content":"b"');
    expect(body.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });
});
