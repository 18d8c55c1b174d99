/**
 * Relay suite: iicp-dir.md §7 (HTTP long-poll transport, non-displacement, bind
 * tickets) as a relay serves it. conformance-test-suite.md defines no relay test IDs,
 * so these checks carry the project's own `IICP-RELAY-*` IDs (they never enter
 * spec/conformance.md, which lists upstream IDs only); each title names the section it
 * checks. The worker side speaks the project's D-044 bodies (`@iicp/wire`
 * messages/relay.ts). The harness itself plays the worker: it binds a fresh worker id,
 * parks a pull, calls itself through `/v1/relay-for/{id}/...` and answers.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { RelayBindResponseSchema, RelayPulledCallSchema } from '@iicp/wire';
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

/** Marks the project's own check IDs (no upstream ID exists for relays). */
export const PROJECT_RELAY_ID_PREFIX = 'IICP-RELAY-';

interface Session {
  readonly workerId: string;
  readonly sessionId: string;
}

/** The worker id the checks bind: the fixture's node id when tickets come from a directory. */
function workerId(ctx: CheckContext): string {
  let id = ctx.state.get('workerId') as string | undefined;
  if (!id) {
    id = ctx.fixture.nodeId ?? `conformance-${randomUUID()}`;
    ctx.state.set('workerId', id);
  }
  return id;
}

async function ticketFor(ctx: CheckContext, id: string): Promise<string | undefined> {
  return ctx.fixture.bindTicket ? ctx.fixture.bindTicket(id) : undefined;
}

async function bindRaw(ctx: CheckContext, id: string, ticket?: string): Promise<Exchange> {
  return ctx.request('/v1/relay/bind', {
    json: { worker_id: id, ...(ticket !== undefined ? { ticket } : {}) },
  });
}

/** Bind the harness's worker (with a ticket when the fixture can get one); unbind at the end. */
async function bound(ctx: CheckContext): Promise<Session> {
  const have = ctx.state.get('session') as Session | undefined;
  if (have) return have;
  const id = workerId(ctx);
  const ex = await bindRaw(ctx, id, await ticketFor(ctx, id));
  if (ex.status === 401 && !ctx.fixture.bindTicket)
    throw new CheckSkipped(
      'the relay requires a bind ticket (§7.4): give the bindTicket fixture, or --directory-url, --node-id and --node-token',
    );
  expectStatus(ex, 201, 200);
  const body = expectShape(RelayBindResponseSchema, ex, 'bind response');
  const s = { workerId: id, sessionId: body.session_id };
  ctx.state.set('session', s);
  ctx.defer(async () => {
    await ctx.request('/v1/relay/unbind', { json: { session_id: s.sessionId } });
  });
  return s;
}

const pull = (ctx: CheckContext, s: Session, waitMs: number): Promise<Exchange> =>
  ctx.request('/v1/relay/pull', {
    query: { wait_ms: String(waitMs) },
    headers: { authorization: `Bearer ${s.sessionId}` },
  });

const checks: Check[] = [
  {
    id: 'IICP-RELAY-HEALTH-01',
    title:
      '(project) GET /iicp/health is 200 JSON with status ok or degraded (iicp-dir.md §3.1 probe)',
    async run(ctx) {
      const ex = await ctx.request('/iicp/health');
      expectStatus(ex, 200);
      expectJsonContentType(ex);
      const s = field(ex.body, 'status');
      expectThat(s === 'ok' || s === 'degraded', 'status is neither ok nor degraded', ex);
    },
  },
  {
    id: 'IICP-RELAY-FOR-01',
    title: '(project) a call for a worker with no session is 404 IICP-E030 at once (§7.1)',
    async run(ctx) {
      const id = `conformance-unbound-${randomUUID()}`;
      const ex = await ctx.request(`/v1/relay-for/${id}/v1/task`, { json: { probe: true } });
      expectError(ex, 404, 'IICP-E030');
    },
  },
  {
    id: 'IICP-RELAY-BIND-01',
    title: '(project) a bind without worker_id is refused 400/422 with the error envelope',
    async run(ctx) {
      expectError(await ctx.request('/v1/relay/bind', { json: {} }), [400, 422]);
    },
  },
  {
    id: 'IICP-RELAY-BIND-02',
    title: '(project) a bind presenting a forged ticket is refused 401 (§7.4 signature check)',
    mutates: true,
    async run(ctx) {
      const forged = [
        randomBytes(24).toString('base64url'),
        randomBytes(48).toString('base64url'),
        randomBytes(64).toString('base64url'),
      ].join('.');
      const ex = await bindRaw(ctx, `conformance-${randomUUID()}`, forged);
      expectError(ex, [401, 403]);
    },
  },
  {
    id: 'IICP-RELAY-PULL-01',
    title: '(project) a pull with an unknown session is refused with the error envelope',
    async run(ctx) {
      const ex = await pull(ctx, { workerId: 'x', sessionId: randomBytes(24).toString('hex') }, 0);
      expectError(ex, [401, 403, 404]);
    },
  },
  {
    id: 'IICP-RELAY-FWD-01',
    title:
      '(project) a consumer call through /v1/relay-for/{id} reaches the bound worker unchanged and its answer comes back unchanged (§7.1)',
    mutates: true,
    async run(ctx) {
      const s = await bound(ctx);
      const marker = randomUUID();
      const sent = { task_id: randomUUID(), probe: marker };
      const pulled = pull(ctx, s, 10_000);
      // The call is queued or handed to the parked pull, whichever comes first.
      const consumer = ctx.request(`/v1/relay-for/${s.workerId}/v1/task`, { json: sent });
      const p = await pulled;
      expectStatus(p, 200);
      const got = expectShape(RelayPulledCallSchema, p, 'pulled call');
      expectThat(got.method === 'POST', 'the pulled call is not a POST', p);
      expectThat(got.path.split('?')[0] === '/v1/task', 'the pulled path is not /v1/task', p);
      expectThat(
        Buffer.from(got.body_b64, 'base64').toString('utf8') === JSON.stringify(sent),
        'the worker did not receive the consumer body byte for byte',
        p,
      );
      const answer = { task_id: sent.task_id, status: 'success', result: { echo: marker } };
      const posted = await ctx.request('/v1/relay/result', {
        json: {
          session_id: s.sessionId,
          request_id: got.request_id,
          status: 200,
          headers: { 'content-type': 'application/json' },
          body_b64: Buffer.from(JSON.stringify(answer)).toString('base64'),
        },
      });
      expectThat(posted.status >= 200 && posted.status < 300, 'the result post failed', posted);
      const ex = await consumer;
      expectStatus(ex, 200);
      expectThat(ex.text === JSON.stringify(answer), 'the consumer got a different body', ex);
    },
  },
  {
    id: 'IICP-RELAY-SESS-01',
    title:
      '(project) an alive bound worker_id is not displaced by a new bind: 409 (§7.2, DIR-RELAY-01)',
    mutates: true,
    async run(ctx) {
      const s = await bound(ctx);
      const ex = await bindRaw(ctx, s.workerId, await ticketFor(ctx, s.workerId));
      expectError(ex, 409);
    },
  },
  {
    id: 'IICP-RELAY-TICKET-01',
    title:
      '(project) a ticket whose node_id is not the worker_id is refused 401 (§7.4, DIR-RELAY-03)',
    mutates: true,
    async run(ctx) {
      if (!ctx.fixture.bindTicket)
        throw new CheckSkipped('needs bind tickets (bindTicket fixture)');
      const ticket = await ctx.fixture.bindTicket(workerId(ctx));
      const ex = await bindRaw(ctx, `conformance-other-${randomUUID()}`, ticket);
      expectError(ex, 401);
    },
  },
  {
    id: 'IICP-RELAY-TICKET-02',
    title: '(project) a bind ticket is single-use: replaying its jti is refused 401 (§7.4)',
    mutates: true,
    async run(ctx) {
      if (!ctx.fixture.bindTicket)
        throw new CheckSkipped('needs bind tickets (bindTicket fixture)');
      const s = await bound(ctx);
      const ticket = await ctx.fixture.bindTicket(s.workerId);
      await ctx.request('/v1/relay/unbind', { json: { session_id: s.sessionId } });
      ctx.state.delete('session');
      const first = await bindRaw(ctx, s.workerId, ticket);
      expectStatus(first, 201, 200);
      const again = expectShape(RelayBindResponseSchema, first, 'bind response');
      await ctx.request('/v1/relay/unbind', { json: { session_id: again.session_id } });
      expectError(await bindRaw(ctx, s.workerId, ticket), 401);
    },
  },
  {
    id: 'IICP-RELAY-UNBIND-01',
    title: '(project) after unbind, calls for the worker are 404 IICP-E030 (§7.1)',
    mutates: true,
    async run(ctx) {
      const s = await bound(ctx);
      const un = await ctx.request('/v1/relay/unbind', { json: { session_id: s.sessionId } });
      expectThat(un.status >= 200 && un.status < 300, `unbind answered ${un.status}`, un);
      ctx.state.delete('session');
      const ex = await ctx.request(`/v1/relay-for/${s.workerId}/v1/task`, { json: {} });
      expectError(ex, 404, 'IICP-E030');
    },
  },
];

const notCheckable: NotCheckable[] = [
  {
    id: 'IICP-RELAY-CAP (§7.3 session cap)',
    reason: 'needs as many binds as the cap (default 256) and knowledge of the configured cap',
  },
  {
    id: 'IICP-RELAY-RATE (§7.3 bind rate limit)',
    reason: "would lock the runner's address out of binding for 60 s",
  },
  { id: 'IICP-RELAY-LIVE (§7.2 90 s liveness)', reason: 'a timing property' },
  {
    id: 'IICP-RELAY-LOG (§7.3, §7.5 DIR-RELAY-04)',
    reason: "the relay's logs are not visible over the wire",
  },
  {
    id: 'IICP-RELAY-TRUST (§7.6 DIR-RELAY-05)',
    reason: 'a property of the worker that elects a relay, not of the relay',
  },
];

export const relaySuite: Suite = {
  role: 'relay',
  checks: [...checks, ...leakChecks('relay')],
  notCheckable,
};
