/**
 * Provider node suite: conformance-test-suite.md §4 (NODE-*), §6 (PROTO-*) and §7
 * (SEC-AUTH-*, SEC-RN-*, SEC-LEAK-*) as they apply to a node's `/iicp/health` and
 * `POST /v1/task`. Checks that dispatch a task need a disposable target and a credential
 * the node accepts (`fixture.nodeToken`, sent as `auth.node_token`, D-015).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { HealthResponseSchema } from '@iicp/wire';
import {
  expectError,
  expectJsonContentType,
  expectShape,
  expectStatus,
  expectThat,
  field,
} from '../expect.ts';
import { leakChecks } from './common.ts';
import {
  CheckSkipped,
  type Check,
  type CheckContext,
  type Exchange,
  type NotCheckable,
  type Suite,
} from '../types.ts';

export const DEFAULT_NODE_INTENT = 'urn:iicp:intent:llm:chat:v1';
const DEFAULT_PAYLOAD = { messages: [{ role: 'user', content: 'Reply with one word.' }] };

function call(ctx: CheckContext, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    task_id: randomUUID(),
    intent: ctx.fixture.intent ?? DEFAULT_NODE_INTENT,
    payload: ctx.fixture.payload ?? DEFAULT_PAYLOAD,
    constraints: { timeout_ms: 30_000 },
    ...extra,
  };
}

function token(ctx: CheckContext): string {
  if (!ctx.fixture.nodeToken) throw new CheckSkipped('needs a node token (--node-token)');
  return ctx.fixture.nodeToken;
}

/** One successful task, shared by the NODE-TASK-0x checks. */
async function dispatched(
  ctx: CheckContext,
): Promise<{ sent: Record<string, unknown>; ex: Exchange }> {
  let d = ctx.state.get('task') as { sent: Record<string, unknown>; ex: Exchange } | undefined;
  if (!d) {
    const sent = call(ctx, { auth: { node_token: token(ctx) } });
    const ex = await ctx.request('/v1/task', { json: sent });
    d = { sent, ex };
    ctx.state.set('task', d);
  }
  return d;
}

const checks: Check[] = [
  {
    id: 'NODE-HEALTH-01',
    title: 'GET /iicp/health is 200 with status ok or degraded',
    async run(ctx) {
      const ex = await ctx.request('/iicp/health');
      expectStatus(ex, 200);
      const s = field(ex.body, 'status');
      expectThat(s === 'ok' || s === 'degraded', 'status is neither ok nor degraded', ex);
    },
  },
  {
    id: 'NODE-HEALTH-02',
    title: 'health carries numeric load and active_jobs',
    async run(ctx) {
      const ex = await ctx.request('/iicp/health');
      expectStatus(ex, 200);
      expectThat(typeof field(ex.body, 'load') === 'number', 'load is not a number', ex);
      expectThat(
        typeof field(ex.body, 'active_jobs') === 'number',
        'active_jobs is not a number',
        ex,
      );
      expectShape(HealthResponseSchema, ex, 'health response');
    },
  },
  {
    id: 'NODE-HEALTH-03',
    title: 'health is served as application/json',
    async run(ctx) {
      const ex = await ctx.request('/iicp/health');
      expectStatus(ex, 200);
      expectJsonContentType(ex);
    },
  },
  {
    id: 'SEC-AUTH-01',
    title: 'a task without any credential is refused 401 unauthorized',
    async run(ctx) {
      expectError(await ctx.request('/v1/task', { json: call(ctx) }), 401, 'unauthorized');
    },
  },
  {
    id: 'SEC-RN-02',
    title: 'a task with no auth field is refused 401',
    async run(ctx) {
      const body = call(ctx);
      delete body.auth;
      expectError(await ctx.request('/v1/task', { json: body }), 401);
    },
  },
  {
    id: 'SEC-RN-01',
    title: 'an empty auth.node_token is refused 401, never open mode',
    async run(ctx) {
      const ex = await ctx.request('/v1/task', { json: call(ctx, { auth: { node_token: '' } }) });
      expectError(ex, 401);
    },
  },
  {
    id: 'SEC-AUTH-02',
    title: 'a task with a wrong token is refused 401',
    async run(ctx) {
      const ex = await ctx.request('/v1/task', {
        json: call(ctx, { auth: { node_token: randomBytes(32).toString('hex') } }),
      });
      expectError(ex, 401, 'unauthorized');
    },
  },
  {
    id: 'NODE-TASK-05',
    title: 'a task with an invalid token gets 401 unauthorized',
    async run(ctx) {
      const ex = await ctx.request('/v1/task', {
        json: call(ctx),
        headers: { authorization: `Bearer ${randomBytes(32).toString('hex')}` },
      });
      expectError(ex, 401, 'unauthorized');
    },
  },
  {
    id: 'PROTO-URN-01',
    title: 'an intent without the urn:iicp:intent: prefix is rejected',
    async run(ctx) {
      const ex = await ctx.request('/v1/task', {
        json: call(ctx, { intent: 'llm:chat:v1', auth: { node_token: token(ctx) } }),
      });
      expectError(ex, [400, 422]);
    },
  },
  {
    id: 'PROTO-URN-02',
    title: 'an intent without a :vN version suffix is rejected',
    async run(ctx) {
      const ex = await ctx.request('/v1/task', {
        json: call(ctx, { intent: 'urn:iicp:intent:llm:chat', auth: { node_token: token(ctx) } }),
      });
      expectError(ex, [400, 422]);
    },
  },
  {
    id: 'PROTO-URN-03',
    title: 'an intent the node does not serve gets error.code unknown_intent',
    async run(ctx) {
      const ex = await ctx.request('/v1/task', {
        json: call(ctx, {
          intent: 'urn:iicp:intent:x.iicp-conformance:never-served:v1',
          auth: { node_token: token(ctx) },
        }),
      });
      expectThat(ex.status >= 400 && ex.status < 500, `expected a 4xx, got ${ex.status}`, ex);
      expectThat(
        field(ex.body, 'error', 'code') === 'unknown_intent',
        'error.code is not unknown_intent',
        ex,
      );
    },
  },
  {
    id: 'NODE-TASK-01',
    title: 'a valid task is answered 200 (or 502) with structured JSON',
    mutates: true,
    async run(ctx) {
      const { ex } = await dispatched(ctx);
      expectStatus(ex, 200, 502);
      expectThat(ex.body !== null && typeof ex.body === 'object', 'the answer is not JSON', ex);
    },
  },
  {
    id: 'NODE-TASK-02',
    title: 'the response task_id matches the request',
    mutates: true,
    async run(ctx) {
      const { sent, ex } = await dispatched(ctx);
      expectThat(field(ex.body, 'task_id') === sent.task_id, 'task_id differs', ex);
    },
  },
  {
    id: 'PROTO-MSG-04',
    title: 'RESPONSE echoes the CALL task_id exactly',
    mutates: true,
    async run(ctx) {
      const { sent, ex } = await dispatched(ctx);
      expectStatus(ex, 200);
      expectThat(field(ex.body, 'task_id') === sent.task_id, 'task_id differs', ex);
    },
  },
  {
    id: 'NODE-TASK-03',
    title: 'the response status is success, error or timeout',
    mutates: true,
    async run(ctx) {
      const { ex } = await dispatched(ctx);
      const s = field(ex.body, 'status');
      expectThat(
        s === 'success' || s === 'error' || s === 'timeout',
        'status is not one of success/error/timeout',
        ex,
      );
    },
  },
  {
    id: 'NODE-TASK-04',
    title: 'the response carries metrics.latency_ms >= 0',
    mutates: true,
    async run(ctx) {
      const { ex } = await dispatched(ctx);
      expectStatus(ex, 200);
      const l = field(ex.body, 'metrics', 'latency_ms');
      expectThat(typeof l === 'number' && l >= 0, 'metrics.latency_ms is not a number >= 0', ex);
    },
  },
  {
    id: 'NODE-TASK-06',
    title: 'a duplicate task_id gets 409 conflict',
    mutates: true,
    async run(ctx) {
      const { sent } = await dispatched(ctx);
      const ex = await ctx.request('/v1/task', { json: sent });
      expectError(ex, 409, 'conflict');
    },
  },
  {
    id: 'NODE-REG-01',
    title: 'the node appears in discover at the directory it registered with',
    async run(ctx) {
      const dir = ctx.fixture.directoryUrl;
      if (!dir) throw new CheckSkipped('needs the directory URL (--directory-url)');
      const health = await ctx.request('/iicp/health');
      const id = field(health.body, 'node_id');
      expectThat(typeof id === 'string', 'health carries no node_id', health);
      const url = new URL(`${dir.replace(/\/+$/, '')}/v1/discover`);
      url.searchParams.set('intent', ctx.fixture.intent ?? DEFAULT_NODE_INTENT);
      url.searchParams.set('limit', '50');
      const res = await fetch(url);
      const list = (await res.json()) as { nodes?: { node_id?: string }[] };
      expectThat(
        list.nodes?.some((n) => n.node_id === id),
        'the node is not listed',
      );
    },
  },
];

const notCheckable: NotCheckable[] = [
  { id: 'NODE-TASK-07', reason: 'needs control of the backend to make it fail' },
  {
    id: 'NODE-CONC-01',
    reason: 'needs tasks held open beyond max_concurrent (a slow backend under the harness)',
  },
  { id: 'NODE-REG-02', reason: '30 s heartbeat cadence: a timing property' },
  { id: 'SEC-LOG-01', reason: "the node's logs are not visible over the wire" },
  { id: 'PROTO-MSG-01', reason: 'a property of the CALL a client sends (checked in @iicp/wire)' },
  { id: 'PROTO-MSG-02', reason: 'a property of the CALL a client sends (checked in @iicp/wire)' },
  { id: 'PROTO-MSG-03', reason: 'a property of the CALL a client sends (checked in @iicp/wire)' },
];

export const nodeSuite: Suite = {
  role: 'node',
  checks: [...checks, ...leakChecks('node')],
  notCheckable,
};
