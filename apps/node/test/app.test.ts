import { randomUUID } from 'node:crypto';
import { issueConsumerToken } from '@iicp/crypto';
import { HealthResponseSchema, TaskResponseSchema } from '@iicp/wire';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { nodeRuntime } from '../src/app.ts';
import { gate } from './support/scripted-backend.ts';
import {
  callBody,
  CHAT_INTENT,
  NODE_ID,
  NODE_TOKEN,
  sharedHttp,
  startNode,
  type Harness,
} from './support/node-app.ts';

afterAll(() => sharedHttp.close());

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function post(body: unknown, headers: Record<string, string> = {}) {
  return h!.app.inject({ method: 'POST', url: '/v1/task', payload: body as object, headers });
}

describe('GET /iicp/health', () => {
  it('reports status, load, active_jobs, node_id and models as JSON (NODE-HEALTH-01..03)', async () => {
    h = await startNode();
    const res = await h.app.inject({ method: 'GET', url: '/iicp/health' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = res.json();
    expect(HealthResponseSchema.parse(body)).toEqual({
      status: 'ok',
      load: 0,
      active_jobs: 0,
      node_id: NODE_ID,
      models: ['test-model', 'other-model'],
    });
    h.state.backendHealthy = false;
    expect((await h.app.inject({ method: 'GET', url: '/iicp/health' })).json().status).toBe(
      'degraded',
    );
  });
});

describe('POST /v1/task', () => {
  it('serves a valid CALL with the RESPONSE envelope (NODE-TASK-01..04)', async () => {
    h = await startNode();
    const body = callBody({ trace: { trace_id: 'a'.repeat(32) } });
    const res = await post(body);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const r = res.json();
    TaskResponseSchema.parse(r);
    expect(r).toMatchObject({
      task_id: body.task_id,
      status: 'success',
      model_used: 'test-model',
      generated_by_ai: true,
      error: null,
      metrics: { tokens_used: 12 },
      result: { choices: [{ message: { content: 'Hello!' } }] },
      trace: { trace_id: 'a'.repeat(32) },
    });
    expect(r.metrics.latency_ms).toBeGreaterThanOrEqual(0);
  });

  it('uses the payload model only when the node serves it', async () => {
    h = await startNode({ app: { model: 'other-model' } });
    await post(
      callBody({ payload: { model: 'test-model', messages: [{ role: 'user', content: 'x' }] } }),
    );
    expect(h.backend.requests.at(-1)!.body!.model).toBe('test-model');
    await post(
      callBody({ payload: { model: 'gpt-secret', messages: [{ role: 'user', content: 'x' }] } }),
    );
    expect(h.backend.requests.at(-1)!.body!.model).toBe('other-model');
  });

  it('refuses missing, empty and wrong credentials with 401 (NODE-TASK-05, SEC-RN-01, SEC-RN-02)', async () => {
    h = await startNode();
    const { auth: _a, ...noAuth } = callBody();
    for (const body of [
      noAuth,
      callBody({ auth: { node_token: '' } }),
      callBody({ auth: { node_token: 'cd'.repeat(32) } }),
      callBody({ auth: {} }),
    ]) {
      const res = await post(body);
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('unauthorized');
    }
    expect(h.backend.requests).toHaveLength(0);
  });

  it('accepts the node token as Authorization: Bearer', async () => {
    h = await startNode();
    const { auth: _a, ...noAuth } = callBody();
    expect((await post(noAuth, { authorization: `Bearer ${NODE_TOKEN}` })).statusCode).toBe(200);
  });

  it('verifies consumer tokens offline; a bad one is 401 even beside a good body token (D-015)', async () => {
    h = await startNode();
    const good = issueConsumerToken({
      signer: h.directoryKey,
      issuer: 'http://dir',
      callerNodeId: 'caller',
      targetNodeId: NODE_ID,
      intent: CHAT_INTENT,
    });
    const { auth: _a, ...noAuth } = callBody();
    expect((await post(noAuth, { 'x-iicp-consumer-token': good.token })).statusCode).toBe(200);
    const wrongAud = issueConsumerToken({
      signer: h.directoryKey,
      issuer: 'http://dir',
      callerNodeId: 'caller',
      targetNodeId: randomUUID(),
      intent: CHAT_INTENT,
    });
    const res = await post(callBody(), { 'x-iicp-consumer-token': wrongAud.token });
    expect(res.statusCode).toBe(401);
    const wrongIntent = issueConsumerToken({
      signer: h.directoryKey,
      issuer: 'http://dir',
      callerNodeId: 'caller',
      targetNodeId: NODE_ID,
      intent: 'urn:iicp:intent:llm:embedding:v1',
    });
    expect((await post(noAuth, { 'x-iicp-consumer-token': wrongIntent.token })).statusCode).toBe(
      401,
    );
    // Change the signature's last hex digit (always to a different one).
    const last = good.token.slice(-1);
    const tampered = `${good.token.slice(0, -1)}${last === '0' ? '1' : '0'}`;
    expect((await post(noAuth, { 'x-iicp-consumer-token': tampered })).statusCode).toBe(401);
  });

  it('answers a reused task_id with 409 conflict (NODE-TASK-06)', async () => {
    h = await startNode();
    const body = callBody();
    expect((await post(body)).statusCode).toBe(200);
    const res = await post(body);
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({
      task_id: body.task_id,
      status: 'error',
      result: null,
      error: { code: 'conflict' },
    });
  });

  it('maps a backend failure to 502 backend_error without details (NODE-TASK-07, NODE-TASK-08)', async () => {
    h = await startNode({ script: { status: 500, errorText: 'secret detail' } });
    const res = await post(callBody());
    expect(res.statusCode).toBe(502);
    const r = res.json();
    expect(r).toMatchObject({ status: 'error', result: null, error: { code: 'backend_error' } });
    expect(res.body).not.toMatch(/secret detail|\/srv\/|model\.py|at .*:\d+/);
  });

  it('enforces timeout_ms with 504 task_timeout and aborts the backend call', async () => {
    h = await startNode({ script: { hang: true } });
    const aborted = h.backend.nextAbort();
    const res = await post(callBody({}, { timeout_ms: 150 }));
    expect(res.statusCode).toBe(504);
    expect(res.json()).toMatchObject({
      status: 'timeout',
      result: null,
      error: { code: 'task_timeout' },
    });
    await aborted;
    expect(h.backend.aborted).toBe(1);
    expect(nodeRuntime(h.app).admission.active).toBe(0);
  });

  it('validates timeout bounds [100, 300000] (D-002), intents and payloads with 422', async () => {
    h = await startNode();
    for (const t of [99, 300_001, 0, -1, 1.5]) {
      const res = await post(callBody({}, { timeout_ms: t }));
      expect(res.statusCode).toBe(422);
      expect(res.json().error).toMatchObject({
        code: 'validation_error',
        field: 'constraints.timeout_ms',
      });
    }
    // 100 is in range (a busy machine may still time the call out: 504, never 422).
    expect((await post(callBody({}, { timeout_ms: 100 }))).statusCode).not.toBe(422);
    const notV4 = await post(callBody({ task_id: '11111111-2222-1333-8444-555555555555' }));
    expect(notV4.statusCode).toBe(422);
    const unknown = await post(callBody({ intent: 'urn:iicp:intent:image:generate:v1' }));
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json().error.code).toBe('unknown_intent');
    const badPayload = await post(callBody({ payload: { messages: [] } }));
    expect(badPayload.statusCode).toBe(422);
    expect(badPayload.json().error.field).toBe('messages');
    const profile = await post(
      callBody({}, { required_profiles: ['urn:iicp:profile:unknown:v1'] }),
    );
    expect(profile.statusCode).toBe(422);
    expect(profile.json().error.reason).toBe('unsupported_profile');
    expect(h.backend.requests).toHaveLength(1);
  });

  it('refuses work beyond max_concurrent at once with 429 capacity_exceeded (NODE-CONC-01, QOS-ADMIT-01)', async () => {
    const g = gate();
    h = await startNode({ script: { before: g.promise }, app: { maxConcurrent: 1 } });
    const first = post(callBody({}, { qos: 'realtime' }));
    while (h.backend.requests.length === 0) await new Promise((r) => setImmediate(r));
    const res = await post(callBody({}, { qos: 'realtime' }));
    expect(res.statusCode).toBe(429);
    expect(res.json().error).toMatchObject({ code: 'capacity_exceeded', qos_class: 'realtime' });
    expect(res.json().error.retry_after_ms).toBeGreaterThanOrEqual(100);
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const health = (await h.app.inject({ method: 'GET', url: '/iicp/health' })).json();
    expect(health).toMatchObject({ load: 1, active_jobs: 1 });
    g.open();
    expect((await first).statusCode).toBe(200);
    // The refused task_id was never accepted, so it may be retried.
    expect((await post({ ...callBody(), task_id: res.json().task_id })).statusCode).toBe(200);
  });

  it('keeps slots for interactive work when batch work fills the rest', async () => {
    const g = gate();
    h = await startNode({ script: { before: g.promise }, app: { maxConcurrent: 4 } });
    const held = [1, 2, 3].map(() => post(callBody({}, { qos: 'batch' })));
    while (h.backend.requests.length < 3) await new Promise((r) => setImmediate(r));
    const batch = await post(callBody({}, { qos: 'batch' }));
    expect(batch.statusCode).toBe(429);
    expect(batch.json().error.qos_class).toBe('batch');
    const interactive = post(callBody({}, { qos: 'interactive' }));
    while (h.backend.requests.length < 4) await new Promise((r) => setImmediate(r));
    g.open();
    expect((await interactive).statusCode).toBe(200);
    for (const p of held) expect((await p).statusCode).toBe(200);
  });

  it('answers any malformed CALL with a structured 4xx, never a 5xx', async () => {
    h = await startNode();
    const valid = callBody();
    const arbBody = fc.oneof(
      fc.jsonValue(),
      fc.record(
        {
          task_id: fc.oneof(fc.uuid(), fc.string(), fc.integer()),
          intent: fc.oneof(
            fc.constant(CHAT_INTENT),
            fc.string(),
            fc.constant('urn:iicp:intent:llm:chat'),
          ),
          payload: fc.oneof(fc.jsonValue(), fc.constant(valid.payload)),
          constraints: fc.oneof(
            fc.jsonValue(),
            fc.record({ timeout_ms: fc.integer(), qos: fc.string() }, { requiredKeys: [] }),
          ),
          auth: fc.oneof(fc.constant({ node_token: NODE_TOKEN }), fc.jsonValue()),
        },
        { requiredKeys: [] },
      ),
    );
    await fc.assert(
      fc.asyncProperty(arbBody, async (body) => {
        const res = await h!.app.inject({
          method: 'POST',
          url: '/v1/task',
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify(body),
        });
        expect(res.statusCode).toBeLessThan(500);
        if (res.statusCode >= 400) {
          const err = res.json().error;
          expect(typeof err.code).toBe('string');
          expect(typeof err.message).toBe('string');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never writes a payload into logs or metrics (canary)', async () => {
    const CANARY = 'CANARY-7f3e9a-payload';
    h = await startNode({ script: { tokens: [CANARY] } });
    const ok = await post(callBody({ payload: { messages: [{ role: 'user', content: CANARY }] } }));
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain(CANARY); // the answer itself does reach the caller
    await post(callBody({ payload: { messages: [{ role: 'bogus', content: CANARY }] } }));
    await post(callBody({ auth: { node_token: CANARY } }));
    await post(`{"task_id": "${CANARY}"`, { 'content-type': 'application/json' });
    h.backend.script.status = 500;
    h.backend.script.errorText = CANARY;
    await post(callBody({ payload: { messages: [{ role: 'user', content: CANARY }] } }));
    const metrics = await h.app.inject({ method: 'GET', url: '/metrics' });
    expect(h.logs.lines.length).toBeGreaterThan(5);
    expect(h.logs.text).not.toContain(CANARY);
    expect(metrics.body).not.toContain(CANARY);
    expect(h.logs.text).not.toContain(NODE_TOKEN);
  });

  it('exposes task metrics by intent and status', async () => {
    h = await startNode();
    await post(callBody());
    await post(callBody({ intent: 'urn:iicp:intent:x.acme:thing:v1' }));
    const text = (await h.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toContain(`iicp_node_tasks_total{intent="${CHAT_INTENT}",status="success"} 1`);
    expect(text).toContain('iicp_node_tasks_total{intent="(other)",status="unknown_intent"} 1');
    expect(text).toContain(`iicp_node_tokens_total{intent="${CHAT_INTENT}"} 12`);
    expect(text).toMatch(
      /iicp_node_task_duration_seconds_count\{intent="urn:iicp:intent:llm:chat:v1"\} 1/,
    );
    expect(text).toContain('iicp_node_queue_depth 0');
    // METRICS-08: a 5000 ms bucket (Prometheus histograms are in seconds).
    expect(text).toContain(
      `iicp_node_task_duration_seconds_bucket{le="5",intent="${CHAT_INTENT}"} 1`,
    );
  });

  it('refuses tasks while draining', async () => {
    h = await startNode();
    h.state.draining = true;
    const res = await post(callBody());
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe('service_unavailable');
  });
});

describe('open-mesh mode', () => {
  it('serves anonymous CALLs with CORS and per-IP rate limits', async () => {
    h = await startNode({ app: { auth: 'open', openMesh: { perIpPerMinute: 18 } } });
    const pre = await h.app.inject({
      method: 'OPTIONS',
      url: '/v1/task',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    });
    expect(pre.statusCode).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(pre.headers['access-control-allow-headers']).toContain('x-iicp-consumer-token');
    const { auth: _a, ...anon } = callBody();
    const ok = await post(anon, { origin: 'https://app.example' });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['access-control-allow-origin']).toBe('https://app.example');
    // A credential that is present is still checked.
    expect((await post(callBody({ auth: { node_token: 'cd'.repeat(32) } }))).statusCode).toBe(401);
    let limited;
    for (let i = 0; i < 5 && !limited; i++) {
      const { auth: _b, ...b } = callBody();
      const r = await post(b);
      if (r.statusCode === 429) limited = r;
    }
    expect(limited?.json().error.code).toBe('rate_limited');
    expect(Number(limited?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('token mode has no CORS preflight route', async () => {
    h = await startNode();
    const pre = await h.app.inject({
      method: 'OPTIONS',
      url: '/v1/task',
      headers: { origin: 'https://x.example' },
    });
    expect(pre.statusCode).toBeGreaterThanOrEqual(400);
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('control', () => {
  it('cancels an in-flight task and refuses unknown ids', async () => {
    h = await startNode({ script: { hang: true } });
    const body = callBody();
    const aborted = h.backend.nextAbort();
    const task = post(body);
    while (h.backend.requests.length === 0) await new Promise((r) => setImmediate(r));
    const unknown = await h.app.inject({
      method: 'POST',
      url: '/v1/control',
      payload: { task_id: randomUUID(), reason: 'x' },
      headers: { authorization: `Bearer ${NODE_TOKEN}` },
    });
    expect(unknown.statusCode).toBe(404);
    const noAuth = await h.app.inject({
      method: 'POST',
      url: '/v1/control',
      payload: { task_id: body.task_id, reason: 'x' },
    });
    expect(noAuth.statusCode).toBe(401);
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/control',
      payload: { task_id: body.task_id, reason: 'user' },
      headers: { authorization: `Bearer ${NODE_TOKEN}` },
    });
    expect(res.json()).toEqual({ task_id: body.task_id, state: 'cancelled' });
    await aborted;
    expect((await task).statusCode).toBe(502);
  });
});
