/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers are inspected freely */
import { afterEach, describe, expect, it } from 'vitest';
import { failing, llmNode, type NodeHandler } from './support/mesh.ts';
import { sample, startProxy, type TestProxy } from './support/proxy.ts';

const CANARY = 'CANARY-7f3a9c-do-not-log';
let proxy: TestProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

/** A node that fails with a message echoing the prompt (backends do that). */
const echoing: NodeHandler = (task, res) => {
  res.writeHead(503, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      task_id: task.body.task_id,
      status: 'error',
      result: null,
      error: {
        code: 'backend_error',
        message: `backend said: ${JSON.stringify(task.body.payload)}`,
      },
    }),
  );
};

describe('/status, /metrics and logs', () => {
  it('status: directory reachable, last discover and route, breakers; no observed IP without identity', async () => {
    proxy = await startProxy([failing(503, 'service_unavailable'), llmNode()]);
    const before = (await (await fetch(`${proxy.url}/status`)).json()) as any;
    expect(before.directory).toMatchObject({ url: proxy.dir.url, reachable: true, status: 200 });
    expect(before.last_route).toBeNull();
    expect(before).not.toHaveProperty('observed_source_ip');
    await fetch(`${proxy.url}/v1/models`);
    await fetch(`${proxy.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'x' }] }),
    });
    const after = (await (await fetch(`${proxy.url}/status`)).json()) as any;
    expect(after.last_discover).toMatchObject({ ok: true, nodes: 2 });
    expect(after.last_route).toMatchObject({ ok: true, attempts: 2, node_id: proxy.nodes[1]!.id });
    expect(typeof after.breakers).toBe('object');
  });

  it('status: unreachable directory', async () => {
    proxy = await startProxy([], { directoryUrl: 'http://127.0.0.1:9' });
    const s = (await (await fetch(`${proxy.url}/status`)).json()) as any;
    expect(s.directory.reachable).toBe(false);
  });

  it('status: with a node identity, the observed source IP from /v1/me', async () => {
    proxy = await startProxy([], {
      identity: { nodeId: 'proxy-node', nodeToken: 'proxy-node-token-1' },
    });
    proxy.dir.script.me = {
      status: 200,
      body: {
        node_id: '00000000-0000-4000-8000-00000000abcd',
        observed_source_ip: '203.0.113.42',
        endpoint: 'https://p.example',
      },
    };
    const s = (await (await fetch(`${proxy.url}/status`)).json()) as any;
    expect(s.observed_source_ip).toBe('203.0.113.42');
    expect(proxy.dir.meCalls[0]?.authorization).toBe('Bearer proxy-node-token-1');
    expect(JSON.stringify(s)).not.toContain('proxy-node-token-1');
  });

  it('metrics: routing time and per-intent latency, with no payload anywhere', async () => {
    proxy = await startProxy([llmNode()]);
    await fetch(`${proxy.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: CANARY, messages: [{ role: 'user', content: CANARY }] }),
    });
    const m = await proxy.metrics();
    const chat = { intent: 'urn:iicp:intent:llm:chat:v1' };
    expect(sample(m, 'iicp_proxy_routing_seconds_count', chat)).toBe(1);
    expect(sample(m, 'iicp_proxy_request_duration_seconds_count', { ...chat, outcome: 'ok' })).toBe(
      1,
    );
    expect(
      sample(m, 'iicp_proxy_requests_total', { ...chat, protocol: 'openai', outcome: 'ok' }),
    ).toBe(1);
    expect(m).not.toContain(CANARY);
  });

  it('a canary in prompts, models and echoed node errors never reaches the logs', async () => {
    proxy = await startProxy([echoing, llmNode({ parts: [CANARY] })]);
    const requests: Array<[string, unknown]> = [
      ['/v1/chat/completions', { model: CANARY, messages: [{ role: 'user', content: CANARY }] }],
      ['/v1/chat/completions', { messages: [{ role: 'user', content: CANARY }], stream: true }],
      ['/api/generate', { model: 'm', prompt: CANARY }],
      [
        '/v1/messages',
        { model: 'm', max_tokens: 3, messages: [{ role: 'user', content: CANARY }], stream: true },
      ],
      ['/v1/chat/completions', { messages: [{ role: CANARY, content: CANARY }] }],
      ['/api/chat', `{"model":"${CANARY}",`],
    ];
    for (const [path, body] of requests) {
      const res = await fetch(`${proxy.url}${path}?q=${CANARY}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      await res.text();
    }
    expect(proxy.logs.length).toBeGreaterThan(10);
    // The routing lines are there (ids, node, outcome), just not the content.
    expect(proxy.logs.some((l) => l.includes('"msg":"routed"'))).toBe(true);
    expect(proxy.nodes[0]!.tasks.some((t) => JSON.stringify(t.body).includes(CANARY))).toBe(true);
    for (const line of proxy.logs) expect(line).not.toContain(CANARY);
  });
});

describe('peer error messages', () => {
  it('a node error with an unknown code and the prompt in its message is not logged', async () => {
    proxy = await startProxy([
      (task, res) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            error: { code: 'x_vendor_weird', message: `echo ${JSON.stringify(task.body.payload)}` },
          }),
        );
      },
    ]);
    const res = await fetch(`${proxy.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: CANARY }] }),
    });
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(res.status).not.toBe(500);
    await res.text();
    expect(proxy.logs.length).toBeGreaterThan(0);
    for (const line of proxy.logs) expect(line).not.toContain(CANARY);
    expect(
      sample(await proxy.metrics(), 'iicp_proxy_attempts_total', { outcome: 'other' }),
    ).toBeGreaterThan(0);
  });
});

describe('/openapi.json', () => {
  it('documents the client routes from their zod schemas', async () => {
    proxy = await startProxy([]);
    const res = await fetch(`${proxy.url}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { paths: Record<string, unknown> };
    for (const p of ['/v1/chat/completions', '/api/chat', '/v1/messages'])
      expect(doc.paths).toHaveProperty(p);
  });
});
