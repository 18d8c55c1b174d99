/**
 * Directory suite: conformance-test-suite.md §3 (DIR-*), plus the protocol and security
 * rows that apply to a directory (PROTO-MSG-05, SEC-LEAK-01/02). Checks that register
 * nodes use a disposable loopback provider (`startFixtureNode`) and deregister it after.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  DeregisterResponseSchema,
  HeartbeatResponseSchema,
  isUuidV4,
  NodeListSchema,
  RegisterAckSchema,
} from '@iicp/wire';
import { expectError, expectShape, expectStatus, expectThat, field } from '../expect.ts';
import { closedLoopbackEndpoint, startFixtureNode, type FixtureNode } from '../fixture-node.ts';
import { leakChecks } from './common.ts';
import type { Check, CheckContext, NotCheckable, Suite } from '../types.ts';

/** A vendor intent only the harness's fixture nodes serve, so discover results are ours. */
export const FIXTURE_INTENT = 'urn:iicp:intent:x.iicp-conformance:probe:v1';
/** "Cache-Control: public, max-age=5, s-maxage=10, stale-while-revalidate=5" (DIR-DISC-08). */
const DISCOVER_CACHE_CONTROL = 'public, max-age=5, s-maxage=10, stale-while-revalidate=5';
/** The discover index may lag a registration by up to 5 s (iicp-dir.md §3.3); we allow 10. */
const DISCOVER_SETTLE_MS = 10_000;

interface Registered {
  nodeId: string;
  token: string;
}

function registerBody(
  endpoint: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    endpoint,
    region: 'conformance',
    capabilities: [{ intent: FIXTURE_INTENT }],
    limits: { max_concurrent: 1 },
    ...extra,
  };
}

function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** `/v1/probe` refuses a private target host with 422 `private_address`. */
function probeRefusesPrivate(id: string, kind: string, host: string): Check {
  return {
    id,
    title: `/v1/probe refuses ${kind} target with 422 private_address`,
    async run(ctx) {
      const ex = await ctx.request('/v1/probe', { query: { host, port: '9484' } });
      expectStatus(ex, 422);
      const e = field(ex.body, 'error');
      expectThat(
        e === 'private_address' || field(e, 'code') === 'private_address',
        'error is not private_address',
        ex,
      );
    },
  };
}

/** A lifecycle step: the lifecycle node's current token heartbeats, 200 with a valid body. */
function lifecycleHeartbeat(id: string, title: string): Check {
  return {
    id,
    title,
    mutates: true,
    async run(ctx) {
      const n = lifecycleNode(ctx);
      const ex = await heartbeat(ctx, n.nodeId, n.token);
      expectStatus(ex, 200);
      expectShape(HeartbeatResponseSchema, ex, 'heartbeat response');
    },
  };
}

/** An idle HEARTBEAT for `nodeId` sent with `token` (which need not be that node's). */
function heartbeat(ctx: CheckContext, nodeId: string, token: string, extra: object = {}) {
  return ctx.request('/v1/heartbeat', {
    json: { node_id: nodeId, load: 0, active_jobs: 0, ...extra },
    headers: bearer(token),
  });
}

async function fixtureNode(ctx: CheckContext): Promise<FixtureNode> {
  let f = ctx.state.get('fixture-node') as FixtureNode | undefined;
  if (!f) {
    f = await startFixtureNode();
    ctx.state.set('fixture-node', f);
    const node = f;
    ctx.defer(() => node.close());
  }
  return f;
}

/** Register a disposable node; it is deregistered when the suite ends. */
async function register(
  ctx: CheckContext,
  extra: Record<string, unknown> = {},
): Promise<Registered & { ack: unknown }> {
  const f = await fixtureNode(ctx);
  const ex = await ctx.request('/v1/register', { json: registerBody(f.endpoint, extra) });
  expectStatus(ex, 201);
  const ack = expectShape(RegisterAckSchema, ex, 'REGISTER ACK');
  const reg = { nodeId: ack.node_id, token: ack.node_token };
  ctx.defer(async () => {
    const current = (ctx.state.get(`token:${reg.nodeId}`) as string | undefined) ?? reg.token;
    await ctx
      .request('/v1/register', {
        method: 'DELETE',
        json: { node_id: reg.nodeId },
        headers: bearer(current),
      })
      .catch(() => undefined);
  });
  return { ...reg, ack: ex.body };
}

async function mainNode(ctx: CheckContext): Promise<Registered> {
  let n = ctx.state.get('main-node') as Registered | undefined;
  if (!n) {
    const r = await register(ctx);
    n = { nodeId: r.nodeId, token: r.token };
    ctx.state.set('main-node', n);
  }
  return n;
}

/** Discover the fixture intent until every given node is listed (index lag, §3.3). */
async function discoverFixture(
  ctx: CheckContext,
  ids: readonly string[],
  query: Record<string, string> = {},
): Promise<{ nodes: Record<string, unknown>[]; count: unknown }> {
  const deadline = Date.now() + DISCOVER_SETTLE_MS;
  for (;;) {
    const ex = await ctx.request('/v1/discover', {
      query: { intent: FIXTURE_INTENT, limit: '50', ...query },
    });
    expectStatus(ex, 200);
    const list = expectShape(NodeListSchema, ex, 'NODELIST');
    const nodes = list.nodes as Record<string, unknown>[];
    const seen = new Set(nodes.map((n) => n.node_id));
    if (ids.every((id) => seen.has(id)) || Date.now() > deadline) {
      expectThat(
        ids.every((id) => seen.has(id)),
        'registered fixture nodes never appeared in discover',
        ex,
      );
      return { nodes, count: list.count };
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function twoNodes(ctx: CheckContext): Promise<string[]> {
  const a = await mainNode(ctx);
  let b = ctx.state.get('second-node') as Registered | undefined;
  if (!b) {
    const r = await register(ctx);
    b = { nodeId: r.nodeId, token: r.token };
    ctx.state.set('second-node', b);
  }
  return [a.nodeId, b.nodeId];
}

const checks: Check[] = [
  {
    id: 'DIR-DISC-10',
    title: 'discover without intent is refused with 422',
    async run(ctx) {
      expectError(await ctx.request('/v1/discover'), 422);
    },
  },
  {
    id: 'DIR-DISC-09',
    title: 'min_reputation outside [0, 1] is refused with 422',
    async run(ctx) {
      const ex = await ctx.request('/v1/discover', {
        query: { intent: 'urn:iicp:intent:llm:chat:v1', min_reputation: '2.0' },
      });
      expectError(ex, 422);
    },
  },
  {
    id: 'DIR-DISC-11',
    title: 'a custom x.<vendor> intent is a valid discover query (200)',
    async run(ctx) {
      const ex = await ctx.request('/v1/discover', {
        query: { intent: 'urn:iicp:intent:x.example:translate:v1' },
      });
      expectStatus(ex, 200);
    },
  },
  {
    id: 'DIR-DISC-01',
    title: 'discover answers 200 with nodes[] and count',
    async run(ctx) {
      const ex = await ctx.request('/v1/discover', {
        query: { intent: 'urn:iicp:intent:llm:chat:v1' },
      });
      expectStatus(ex, 200);
      expectThat(Array.isArray(field(ex.body, 'nodes')), 'nodes is not an array', ex);
      expectThat(typeof field(ex.body, 'count') === 'number', 'count is not a number', ex);
      expectShape(NodeListSchema, ex, 'NODELIST');
    },
  },
  {
    id: 'DIR-DISC-08',
    title: 'discover sends the Cache-Control the suite requires',
    async run(ctx) {
      const ex = await ctx.request('/v1/discover', {
        query: { intent: 'urn:iicp:intent:llm:chat:v1' },
      });
      expectStatus(ex, 200);
      const cc = (ex.headers.get('cache-control') ?? '').replace(/\s+/g, ' ').trim();
      expectThat(cc === DISCOVER_CACHE_CONTROL, `Cache-Control is "${cc}"`, ex);
    },
  },
  {
    id: 'DIR-REG-02',
    title: 'REGISTER without endpoint fails 422 validation_error',
    async run(ctx) {
      const body = registerBody('http://127.0.0.1:1');
      delete body.endpoint;
      expectError(await ctx.request('/v1/register', { json: body }), 422, 'validation_error');
    },
  },
  {
    id: 'DIR-REG-03',
    title: 'REGISTER without capabilities fails 422 validation_error',
    async run(ctx) {
      const body = registerBody('http://127.0.0.1:1');
      delete body.capabilities;
      expectError(await ctx.request('/v1/register', { json: body }), 422, 'validation_error');
    },
  },
  {
    id: 'DIR-NODE-02',
    title: 'node detail of an unknown id is 404 not_found',
    async run(ctx) {
      expectError(await ctx.request(`/v1/node/${randomUUID()}`), 404, 'not_found');
    },
  },
  {
    id: 'DIR-HB-02',
    title: 'a heartbeat with an invalid token gets 401 unauthorized',
    async run(ctx) {
      const ex = await heartbeat(ctx, randomUUID(), randomBytes(32).toString('hex'));
      expectError(ex, 401, 'unauthorized');
    },
  },
  {
    id: 'DIR-BS-01',
    title: 'bootstrap answers 200 with a peers array',
    async run(ctx) {
      const ex = await ctx.request('/v1/bootstrap');
      expectStatus(ex, 200);
      expectThat(Array.isArray(field(ex.body, 'peers')), 'peers is not an array', ex);
    },
  },
  {
    id: 'DIR-STATS-01',
    title: 'stats carry mesh_health {score in [0,1], label, window}',
    async run(ctx) {
      const ex = await ctx.request('/api/v1/stats');
      expectStatus(ex, 200);
      const mh = field(ex.body, 'mesh_health');
      expectThat(mh !== null && typeof mh === 'object', 'mesh_health is not an object', ex);
      const score = field(mh, 'score');
      expectThat(
        typeof score === 'number' && score >= 0 && score <= 1,
        'mesh_health.score not in [0,1]',
        ex,
      );
      expectThat(typeof field(mh, 'label') === 'string', 'mesh_health.label missing', ex);
      expectThat(typeof field(mh, 'window') === 'string', 'mesh_health.window missing', ex);
    },
  },
  probeRefusesPrivate('DIR-PROBE-01', 'a loopback', '127.0.0.1'),
  probeRefusesPrivate('DIR-PROBE-02', 'an RFC 1918', '10.0.0.1'),
  {
    id: 'DIR-TEL-01',
    title: 'telemetry without auth gets 401',
    async run(ctx) {
      expectStatus(await ctx.request('/v1/telemetry', { json: {} }), 401);
    },
  },
  {
    id: 'DIR-CRED-01',
    title: 'credit balance without auth gets 401',
    async run(ctx) {
      expectStatus(await ctx.request('/v1/credits/balance'), 401);
    },
  },
  {
    id: 'DIR-CRED-02',
    title: 'credit transactions without auth get 401',
    async run(ctx) {
      expectStatus(await ctx.request('/v1/credits/transactions'), 401);
    },
  },
  {
    id: 'DIR-CRED-03',
    title: 'credit award without auth gets 401',
    async run(ctx) {
      expectStatus(await ctx.request('/v1/credits/award', { json: {} }), 401);
    },
  },
  // --- checks that need a disposable target -----------------------------------------
  {
    id: 'DIR-REG-01',
    title: 'a well-formed REGISTER is answered 201 with node_id and node_token',
    mutates: true,
    async run(ctx) {
      const n = await mainNode(ctx);
      expectThat(n.nodeId.length > 0 && n.token.length > 0, 'empty node_id or node_token');
    },
  },
  {
    id: 'DIR-REG-05',
    title: 'the node_token has at least 32 bytes (64 hex characters)',
    mutates: true,
    async run(ctx) {
      const n = await mainNode(ctx);
      expectThat(/^[0-9a-f]{64,}$/i.test(n.token), 'node_token is shorter than 64 hex characters');
    },
  },
  {
    id: 'DIR-REG-06',
    title: 'the directory assigns a UUID v4 node_id when none is sent',
    mutates: true,
    async run(ctx) {
      const n = await mainNode(ctx);
      expectThat(isUuidV4(n.nodeId), 'node_id is not a UUID v4');
    },
  },
  {
    id: 'DIR-REG-08',
    title: 'an unrecognised quantization value still registers (201)',
    mutates: true,
    async run(ctx) {
      await register(ctx, {
        capabilities: [{ intent: FIXTURE_INTENT, quantization: 'fp64' }],
      });
    },
  },
  {
    id: 'DIR-REG-09',
    title: 'an unrecognised inference_engine value still registers (201)',
    mutates: true,
    async run(ctx) {
      await register(ctx, {
        capabilities: [{ intent: FIXTURE_INTENT, inference_engine: 'tensorrt' }],
      });
    },
  },
  {
    id: 'DIR-REG-04',
    title: 'an endpoint that cannot be reached fails 422 liveness_failed',
    mutates: true,
    async run(ctx) {
      const ex = await ctx.request('/v1/register', {
        json: registerBody(await closedLoopbackEndpoint()),
      });
      expectError(ex, 422, 'liveness_failed');
    },
  },
  {
    id: 'DIR-HB-01',
    title: 'a heartbeat with a valid token gets 200 {ok:true, next_heartbeat_ms}',
    mutates: true,
    async run(ctx) {
      const n = await mainNode(ctx);
      const ex = await heartbeat(ctx, n.nodeId, n.token, { available: true });
      expectStatus(ex, 200);
      expectShape(HeartbeatResponseSchema, ex, 'heartbeat response');
    },
  },
  {
    id: 'DIR-HB-03',
    title: 'a heartbeat for an unknown node_id gets 404 not_found',
    mutates: true,
    async run(ctx) {
      const n = await mainNode(ctx);
      const ex = await heartbeat(ctx, randomUUID(), n.token);
      expectError(ex, 404, 'not_found');
    },
  },
  {
    id: 'DIR-NODE-01',
    title: 'node detail of a registered node is 200 with its capabilities',
    mutates: true,
    async run(ctx) {
      const n = await mainNode(ctx);
      const ex = await ctx.request(`/v1/node/${n.nodeId}`);
      expectStatus(ex, 200);
      const caps = field(ex.body, 'capabilities') ?? field(ex.body, 'node', 'capabilities');
      expectThat(Array.isArray(caps), 'node detail has no capabilities array', ex);
    },
  },
  {
    id: 'DIR-DISC-02',
    title: 'discovered nodes come back in descending score order',
    mutates: true,
    async run(ctx) {
      const { nodes } = await discoverFixture(ctx, await twoNodes(ctx));
      for (let i = 1; i < nodes.length; i++)
        expectThat(
          (nodes[i - 1]!.score as number) >= (nodes[i]!.score as number),
          'scores are not in descending order',
        );
    },
  },
  {
    id: 'DIR-DISC-03',
    title: 'every discovered node has available: true',
    mutates: true,
    async run(ctx) {
      const { nodes } = await discoverFixture(ctx, await twoNodes(ctx));
      expectThat(
        nodes.every((n) => n.available === true),
        'a discovered node is not available',
      );
    },
  },
  {
    id: 'DIR-DISC-04',
    title: 'every discovered score lies in [0.1, 1.0]',
    mutates: true,
    async run(ctx) {
      const { nodes } = await discoverFixture(ctx, await twoNodes(ctx));
      expectThat(
        nodes.every((n) => typeof n.score === 'number' && n.score >= 0.1 && n.score <= 1),
        'a score lies outside [0.1, 1.0]',
      );
    },
  },
  {
    id: 'DIR-DISC-05',
    title: 'limit=N returns min(N, eligible) nodes',
    mutates: true,
    async run(ctx) {
      const ids = await twoNodes(ctx);
      const all = await discoverFixture(ctx, ids);
      const ex = await ctx.request('/v1/discover', {
        query: { intent: FIXTURE_INTENT, limit: '1' },
      });
      expectStatus(ex, 200);
      const one = field(ex.body, 'nodes') as unknown[];
      expectThat(
        one.length === Math.min(1, all.nodes.length),
        'limit=1 did not return one node',
        ex,
      );
      const big = await ctx.request('/v1/discover', {
        query: { intent: FIXTURE_INTENT, limit: '500' },
      });
      // Over the cap of 50: either clamped (200, at most 50) or refused (422).
      expectStatus(big, 200, 422);
      if (big.status === 200)
        expectThat((field(big.body, 'nodes') as unknown[]).length <= 50, 'more than 50 nodes', big);
    },
  },
  {
    id: 'DIR-CIP-01',
    title: 'each discovered node declares cip_conformance_level',
    mutates: true,
    async run(ctx) {
      const { nodes } = await discoverFixture(ctx, [(await mainNode(ctx)).nodeId]);
      expectThat(
        nodes.every(
          (n) =>
            n.cip_conformance_level === 'CIP-Provider' || n.cip_conformance_level === 'CIP-None',
        ),
        'a node lacks a valid cip_conformance_level',
      );
    },
  },
  {
    id: 'DIR-CIP-03',
    title: 'each discovered node has a reputation_tier',
    mutates: true,
    async run(ctx) {
      const { nodes } = await discoverFixture(ctx, [(await mainNode(ctx)).nodeId]);
      const tiers = ['bronze', 'none', 'silver', 'gold', 'platinum'];
      expectThat(
        nodes.every((n) => tiers.includes(n.reputation_tier as string)),
        'a node lacks a valid reputation_tier',
      );
    },
  },
  {
    id: 'DIR-LIFECYCLE-01',
    title: 'register a disposable provider: 201 with node_id and node_token',
    mutates: true,
    async run(ctx) {
      const r = await register(ctx);
      ctx.state.set('lifecycle', { nodeId: r.nodeId, token: r.token });
    },
  },
  lifecycleHeartbeat(
    'DIR-LIFECYCLE-02',
    'a heartbeat with the issued token: 200 ok with a positive interval',
  ),
  {
    id: 'DIR-LIFECYCLE-03',
    title: 'refresh with current_node_token: 201 with a replacement token',
    mutates: true,
    async run(ctx) {
      const n = lifecycleNode(ctx);
      const f = await fixtureNode(ctx);
      const ex = await ctx.request('/v1/register', {
        json: registerBody(f.endpoint, { node_id: n.nodeId, current_node_token: n.token }),
      });
      expectStatus(ex, 201);
      const ack = expectShape(RegisterAckSchema, ex, 'REGISTER ACK');
      expectThat(ack.node_id === n.nodeId, 'refresh changed the node_id', ex);
      expectThat(ack.node_token !== n.token, 'the token was not replaced', ex);
      ctx.state.set('lifecycle-old', n.token);
      ctx.state.set('lifecycle', { nodeId: n.nodeId, token: ack.node_token });
      ctx.state.set(`token:${n.nodeId}`, ack.node_token);
    },
  },
  {
    id: 'DIR-LIFECYCLE-04',
    title: 'the pre-refresh token is refused (401)',
    mutates: true,
    async run(ctx) {
      const n = lifecycleNode(ctx);
      const old = ctx.state.get('lifecycle-old') as string | undefined;
      expectThat(old !== undefined, 'DIR-LIFECYCLE-03 did not run');
      const ex = await heartbeat(ctx, n.nodeId, old);
      expectError(ex, 401);
    },
  },
  lifecycleHeartbeat('DIR-LIFECYCLE-05', 'a heartbeat with the replacement token: 200 ok'),
  {
    id: 'DIR-LIFECYCLE-06',
    title: 'deregister with the replacement token: 200 deregistered=true',
    mutates: true,
    async run(ctx) {
      const n = lifecycleNode(ctx);
      const ex = await ctx.request('/v1/register', {
        method: 'DELETE',
        json: { node_id: n.nodeId },
        headers: bearer(n.token),
      });
      expectStatus(ex, 200);
      expectShape(DeregisterResponseSchema, ex, 'deregister response');
    },
  },
  {
    id: 'DIR-DISPATCH-03',
    title: 'a dispatch ticket request carrying a prompt is refused (422) without echoing it',
    mutates: true,
    async run(ctx) {
      const marker = `conformance-${randomBytes(8).toString('hex')}`;
      const ex = await ctx.request('/v1/dispatch/ticket', {
        json: { intent: 'urn:iicp:intent:llm:chat:v1', prompt: marker },
      });
      expectError(ex, 422);
      expectThat(!ex.text.includes(marker), 'the refused value is echoed in the response', ex);
    },
  },
  {
    id: 'DIR-DISPATCH-04',
    title: 'a dispatch ticket request cannot combine node_id and node_id_prefix (422)',
    mutates: true,
    async run(ctx) {
      const id = randomUUID();
      const ex = await ctx.request('/v1/dispatch/ticket', {
        json: {
          intent: 'urn:iicp:intent:llm:chat:v1',
          node_id: id,
          node_id_prefix: id.slice(0, 8),
        },
      });
      expectError(ex, 422);
    },
  },
  {
    id: 'DIR-DISPATCH-05',
    title: 'a dispatch ticket request with an unsupported QoS is refused (422)',
    mutates: true,
    async run(ctx) {
      const ex = await ctx.request('/v1/dispatch/ticket', {
        json: { intent: 'urn:iicp:intent:llm:chat:v1', qos: 'warp-speed' },
      });
      expectError(ex, 422);
    },
  },
  {
    id: 'DIR-RL-01',
    title: 'more than 60 registrations per 60 s from one source get 429 rate_limited',
    mutates: true,
    async run(ctx) {
      // Runs last among the mutating checks: afterwards this source is limited for 60 s.
      const f = await fixtureNode(ctx);
      let limited: Awaited<ReturnType<CheckContext['request']>> | undefined;
      for (let i = 0; i < 61 && !limited; i++) {
        const ex = await ctx.request('/v1/register', {
          json: registerBody(f.endpoint, { capabilities: 'not-a-list' }),
        });
        if (ex.status === 429) limited = ex;
      }
      expectThat(limited !== undefined, 'no 429 after 61 registrations in a row');
      expectError(limited, 429, 'rate_limited', 'IICP-E034');
    },
  },
];

function lifecycleNode(ctx: CheckContext): Registered {
  const n = ctx.state.get('lifecycle') as Registered | undefined;
  expectThat(n !== undefined, 'DIR-LIFECYCLE-01 did not run');
  return n;
}

const notCheckable: NotCheckable[] = [
  { id: 'DIR-REG-07', reason: 'storage of the token hash is internal (code review)' },
  {
    id: 'DIR-HB-04',
    reason: 'needs 90 s of heartbeat silence; the apps/directory tests drive the clock instead',
  },
  { id: 'DIR-HB-05', reason: 'peer exchange (Phase 2) is not served by this implementation' },
  {
    id: 'DIR-DISC-06',
    reason: 'conditional on region-matched and unmatched nodes under equal load',
  },
  { id: 'DIR-DISC-07', reason: 'covered by DIR-DISC-04 (scores below 0.1 never returned)' },
  { id: 'DIR-BS-02', reason: 'needs a stale peer (90 s of silence)' },
  { id: 'DIR-PEER-01', reason: 'peer exchange (Phase 2) is not served by this implementation' },
  { id: 'DIR-CIP-02', reason: 'needs a CIP-Provider node registered with CIP receipts' },
  { id: 'DIR-TRUST-01', reason: 'SHOULD; an auditor loop, not a directory response' },
  { id: 'DIR-PROBE-NODE-01', reason: 'SHOULD; probing runs every 5 minutes in the background' },
  {
    id: 'DIR-DISPATCH-01',
    reason: 'needs an eligible provider reachable by the directory under its production policy',
  },
  { id: 'DIR-DISPATCH-02', reason: "needs a prohibited intent of the target's risk policy" },
  { id: 'SEC-TLS-01', reason: 'deployment property (TLS 1.3 on the public origin)' },
];

export const directorySuite: Suite = {
  role: 'directory',
  checks: [...checks, ...leakChecks('directory')],
  notCheckable,
};
