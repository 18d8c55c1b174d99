import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  verifyConsumerToken,
  verifyDispatchRouteTicket,
  verifyRelayBindTicket,
} from '@iicp/crypto';
import {
  ConsumerTokenResponseSchema,
  DISPATCH_TICKET_FORBIDDEN_KEYS,
  DispatchTicketResponseSchema,
  RelayTicketResponseSchema,
} from '@iicp/wire';
import { BACKENDS } from './support/stores.ts';
import {
  bearer,
  CHAT,
  makeApp,
  registerBody,
  startHealthStub,
  type HealthStub,
  type TestApp,
} from './support/harness.ts';

const ISSUER = 'https://directory.test.invalid';
const CODE = 'urn:iicp:intent:code:generate:v1';

/** Flip one character of the signature half of a compact token. */
function tamper(token: string): string {
  const i = token.length - 5;
  return token.slice(0, i) + (token[i] === '0' ? '1' : '0') + token.slice(i + 1);
}

function tamperClaims(token: string, patch: Record<string, unknown>): string {
  const [b64, sig] = token.split('.');
  const claims = JSON.parse(Buffer.from(b64!, 'base64url').toString('utf8'));
  return `${Buffer.from(JSON.stringify({ ...claims, ...patch })).toString('base64url')}.${sig}`;
}

describe.each(BACKENDS)('tokens, tickets and probe on %s', (kind) => {
  let t: TestApp;
  let stub: HealthStub;
  let listener: Server;
  let openPort = 0;
  let closedPort = 0;
  let a: { node_id: string; node_token: string };
  let b: { node_id: string; node_token: string };
  let pub: Uint8Array;
  const nowS = () => Math.floor(t.clock.now / 1000);

  beforeAll(async () => {
    stub = await startHealthStub();
    listener = createServer((s) => s.end());
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    openPort = (listener.address() as { port: number }).port;
    const tmp = createServer();
    await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
    closedPort = (tmp.address() as { port: number }).port;
    await new Promise<void>((r) => tmp.close(() => r()));
    t = await makeApp(kind, {
      registerRateLimit: 10_000,
      probeConnectTo: {
        'probe-open.example.com:443': `127.0.0.1:${openPort}`,
        'probe-closed.example.com:443': `127.0.0.1:${closedPort}`,
      },
    });
    pub = t.app.directory.key.publicKey;
    const reg = async (extra: Record<string, unknown> = {}) =>
      (
        await t.app.inject({
          method: 'POST',
          url: '/v1/register',
          payload: registerBody(stub.url, extra),
        })
      ).json();
    a = await reg();
    b = await reg({
      capabilities: [{ intent: CHAT, models: ['llama3'] }, { intent: CODE }],
      transport_endpoint: 'iicp://node-b.example.com:9484',
    });
  });
  afterAll(async () => {
    await t?.close();
    await stub?.close();
    await new Promise<void>((r) => listener.close(() => r()));
  });

  describe('consumer tokens', () => {
    const post = (
      payload: string | Record<string, unknown>,
      headers: Record<string, string> = {},
      prefix = '/api/v1',
    ) => t.app.inject({ method: 'POST', url: `${prefix}/consumer-token`, headers, payload });

    it('401 before the body is looked at; 404 unknown target; 422 bad body', async () => {
      expect((await post('not json at all')).statusCode).toBe(401);
      expect(
        (await post({ target_node_id: b.node_id, intent: CHAT }, bearer('f'.repeat(64))))
          .statusCode,
      ).toBe(401);
      const unknown = await post(
        { target_node_id: '11111111-1111-4111-8111-111111111111', intent: CHAT },
        bearer(a.node_token),
      );
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json().error.code).toBe('not_found');
      const bad = await post({ target_node_id: b.node_id, intent: 'chat' }, bearer(a.node_token));
      expect(bad.statusCode).toBe(422);
      expect(bad.json().error.code).toBe('validation_error');
    });

    it('201 with a token that verifies with @iicp/crypto, and fails after tampering, expiry, wrong audience or intent', async () => {
      const r = await post(
        { target_node_id: b.node_id, intent: CHAT },
        bearer(a.node_token),
        '/v1',
      );
      expect(r.statusCode).toBe(201);
      const body = ConsumerTokenResponseSchema.parse(r.json());
      expect(body).toMatchObject({
        caller_node_id: a.node_id,
        target_node_id: b.node_id,
        intent: CHAT,
      });
      expect(body.expires_at).toBe(nowS() + 300);
      const opts = {
        directoryPublicKey: pub,
        nodeId: b.node_id,
        intent: CHAT,
        clock: nowS,
        issuer: ISSUER,
      };
      const ok = verifyConsumerToken(body.token, opts);
      expect(ok).toMatchObject({
        ok: true,
        claims: { sub: a.node_id, aud: b.node_id, iss: ISSUER },
      });
      expect(verifyConsumerToken(tamper(body.token), opts)).toEqual({
        ok: false,
        reason: 'bad_signature',
      });
      expect(
        verifyConsumerToken(tamperClaims(body.token, { aud: a.node_id }), {
          ...opts,
          nodeId: a.node_id,
        }),
      ).toEqual({ ok: false, reason: 'bad_signature' });
      expect(verifyConsumerToken(body.token, { ...opts, nodeId: a.node_id })).toEqual({
        ok: false,
        reason: 'wrong_audience',
      });
      expect(verifyConsumerToken(body.token, { ...opts, intent: CODE })).toEqual({
        ok: false,
        reason: 'wrong_intent',
      });
      expect(verifyConsumerToken(body.token, { ...opts, clock: () => nowS() + 311 })).toEqual({
        ok: false,
        reason: 'expired',
      });
      // `*` authorizes any intent.
      const any = (
        await post({ target_node_id: b.node_id, intent: '*' }, bearer(a.node_token))
      ).json();
      expect(verifyConsumerToken(any.token, { ...opts, intent: CODE }).ok).toBe(true);
    });

    it('60 per minute per node, counted in the database (429 rate_limited)', async () => {
      const node = (
        await t.app.inject({ method: 'POST', url: '/v1/register', payload: registerBody(stub.url) })
      ).json();
      t.clock.now = Math.floor(t.clock.now / 60_000) * 60_000 + 120_000;
      const codes: number[] = [];
      for (let i = 0; i < 61; i++) {
        codes.push(
          (await post({ target_node_id: b.node_id, intent: CHAT }, bearer(node.node_token)))
            .statusCode,
        );
      }
      expect(codes.slice(0, 60).every((c) => c === 201)).toBe(true);
      expect(codes[60]).toBe(429);
      const r = await post({ target_node_id: b.node_id, intent: CHAT }, bearer(node.node_token));
      expect(r.json().error).toMatchObject({ code: 'rate_limited' });
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      // Another node has its own budget.
      expect(
        (await post({ target_node_id: b.node_id, intent: CHAT }, bearer(a.node_token))).statusCode,
      ).toBe(201);
    });
  });

  describe('relay bind tickets', () => {
    const post = (payload: Record<string, unknown>, headers: Record<string, string> = {}) =>
      t.app.inject({ method: 'POST', url: '/api/v1/relay/ticket', headers, payload });

    it('401 without a token, 403 for another node id, 201 with a ticket the relay can verify', async () => {
      expect((await post({ node_id: a.node_id })).statusCode).toBe(401);
      const other = await post({ node_id: b.node_id }, bearer(a.node_token));
      expect(other.statusCode).toBe(403);
      const r = await post({ node_id: a.node_id }, bearer(a.node_token));
      expect(r.statusCode).toBe(201);
      const { ticket } = RelayTicketResponseSchema.parse(r.json());
      const opts = { directoryPublicKey: pub, workerId: a.node_id, issuer: ISSUER, clock: nowS };
      const ok = verifyRelayBindTicket(ticket, opts);
      expect(ok).toMatchObject({
        ok: true,
        claims: { node_id: a.node_id, aud: 'iicp.relay.bind' },
      });
      expect(ok.ok && ok.claims.exp - ok.claims.iat).toBe(120);
      expect(verifyRelayBindTicket(tamper(ticket), opts)).toEqual({
        ok: false,
        reason: 'bad_signature',
      });
      expect(verifyRelayBindTicket(ticket, { ...opts, workerId: b.node_id })).toEqual({
        ok: false,
        reason: 'wrong_node',
      });
      expect(verifyRelayBindTicket(ticket, { ...opts, clock: () => nowS() + 121 })).toEqual({
        ok: false,
        reason: 'expired',
      });
      // Each ticket carries its own single-use jti.
      const again = RelayTicketResponseSchema.parse(
        (await post({ node_id: a.node_id }, bearer(a.node_token))).json(),
      );
      const j1 = ok.ok ? ok.claims.jti : '';
      const j2 = verifyRelayBindTicket(again.ticket, opts);
      expect(j2.ok && j2.claims.jti).not.toBe(j1);
    });
  });

  describe('dispatch route tickets', () => {
    beforeAll(async () => {
      // Earlier tests moved the clock on: a heartbeat makes both nodes eligible now.
      for (const n of [a, b]) {
        const r = await t.app.inject({
          method: 'POST',
          url: '/v1/heartbeat',
          headers: bearer(n.node_token),
          payload: { node_id: n.node_id },
        });
        expect(r.statusCode).toBe(200);
      }
    });
    const post = (payload: Record<string, unknown>, prefix = '/v1') =>
      t.app.inject({ method: 'POST', url: `${prefix}/dispatch/ticket`, payload });

    it('DIR-DISPATCH-01: 201 with one route and a ticket that verifies, and fails after tampering, expiry, other node or intent', async () => {
      const r = await post({ intent: CODE, qos: 'batch' }, '/api/v1');
      expect(r.statusCode).toBe(201);
      const body = DispatchTicketResponseSchema.parse(r.json());
      expect(body).toMatchObject({
        intent: CODE,
        node_id: b.node_id,
        node_id_prefix: b.node_id.replace(/-/g, '').slice(0, 8),
        route: {
          node_id: b.node_id,
          endpoint: stub.url,
          transport_endpoint: 'iicp://node-b.example.com:9484',
        },
        prompt_payload_accepted: false,
      });
      expect(r.headers['cache-control']).toBe('no-store');
      const opts = {
        directoryPublicKey: pub,
        issuer: ISSUER,
        nodeId: b.node_id,
        intent: CODE,
        clock: nowS,
      };
      const ok = verifyDispatchRouteTicket(body.ticket, opts);
      expect(ok).toMatchObject({
        ok: true,
        claims: { jti: expect.stringMatching(/^[0-9a-f]{24}$/) },
      });
      expect(body.ticket_id_prefix).toBe(ok.ok ? ok.claims.jti.slice(0, 12) : '');
      expect(body.expires_at).toBe(nowS() + 60);
      expect(verifyDispatchRouteTicket(tamper(body.ticket), opts)).toEqual({
        ok: false,
        reason: 'bad_signature',
      });
      expect(verifyDispatchRouteTicket(body.ticket, { ...opts, nodeId: a.node_id })).toEqual({
        ok: false,
        reason: 'wrong_node',
      });
      expect(verifyDispatchRouteTicket(body.ticket, { ...opts, intent: CHAT })).toEqual({
        ok: false,
        reason: 'wrong_intent',
      });
      expect(
        verifyDispatchRouteTicket(body.ticket, { ...opts, issuer: 'https://evil.example' }),
      ).toEqual({ ok: false, reason: 'wrong_issuer' });
      expect(verifyDispatchRouteTicket(body.ticket, { ...opts, clock: () => nowS() + 60 })).toEqual(
        { ok: false, reason: 'expired' },
      );
    });

    it('honours node_id, node_id_prefix and exclusions; nothing eligible is 404', async () => {
      const byId = await post({ intent: CHAT, node_id: a.node_id });
      expect(byId.json().node_id).toBe(a.node_id);
      const pfx = a.node_id.replace(/-/g, '').slice(0, 8);
      expect((await post({ intent: CHAT, node_id_prefix: pfx })).json().node_id).toBe(a.node_id);
      const bpfx = b.node_id.replace(/-/g, '').slice(0, 8);
      const excl = await post({ intent: CODE, exclude_node_id_prefixes: [bpfx] });
      expect(excl.statusCode).toBe(404);
      expect(excl.json().error.code).toBe('not_found');
      expect((await post({ intent: 'urn:iicp:intent:nobody:serves:v1' })).statusCode).toBe(404);
    });

    it('DIR-DISPATCH-02/04/05: high-risk intent, selector conflict and bad qos are 422', async () => {
      const risky = await post({ intent: 'urn:iicp:intent:social:scoring:v1' });
      expect(risky.statusCode).toBe(422);
      expect(risky.json().error.code).toBe('IICP-POLICY-001');
      const both = await post({ intent: CHAT, node_id: a.node_id, node_id_prefix: 'abcd' });
      expect(both.statusCode).toBe(422);
      expect(both.json().error.code).toBe('validation_error');
      const qos = await post({ intent: CHAT, qos: 'warp-speed' });
      expect(qos.statusCode).toBe(422);
      expect(qos.json().error.code).toBe('validation_error');
    });

    it('DIR-DISPATCH-03: each task field is refused (422) and never echoed, whatever else is wrong', async () => {
      for (const key of DISPATCH_TICKET_FORBIDDEN_KEYS) {
        const canary = `canary-${key}-${Math.random().toString(36).slice(2)}`;
        for (const body of [
          { intent: CHAT, [key]: canary },
          { intent: 'not-an-urn', qos: 'warp', [key]: { nested: canary } },
          { [key]: [canary] },
        ]) {
          const r = await post(body);
          expect(r.statusCode).toBe(422);
          expect(r.json().error).toMatchObject({ code: 'validation_error', field: key });
          expect(r.body).not.toContain(canary);
        }
      }
    });
  });

  describe('endpoint probe', () => {
    const probe = (q: string) => t.app.inject(`/v1/probe?${q}`);

    it('DIR-PROBE-01/02: loopback, RFC 1918 and reserved names are 422 private_address (even in private-endpoints mode)', async () => {
      for (const host of [
        '127.0.0.1',
        '10.0.0.1',
        '192.168.1.1',
        '[::1]',
        'localhost',
        '169.254.169.254',
      ]) {
        const r = await probe(`host=${encodeURIComponent(host)}&port=9484`);
        expect(r.statusCode).toBe(422);
        expect(r.json().error.code).toBe('private_address');
      }
    });

    it('reports a reachable and an unreachable target; bad queries are 422', async () => {
      const up = await t.app.inject('/api/v1/probe?host=probe-open.example.com&port=443');
      expect(up.statusCode).toBe(200);
      expect(up.json()).toMatchObject({
        host: 'probe-open.example.com',
        port: 443,
        reachable: true,
        reason: null,
      });
      const down = (await probe('host=probe-closed.example.com&port=443')).json();
      expect(down).toMatchObject({ reachable: false, reason: 'connect_failed', latency_ms: null });
      for (const q of [
        'host=example.com',
        'host=example.com&port=0',
        'host=example.com&port=70000',
        'port=80',
      ]) {
        const r = await probe(q);
        expect(r.statusCode).toBe(422);
        expect(r.json().error.code).toBe('validation_error');
      }
    });
  });

  it('canary: no trust route echoes a task field, authenticated or not', async () => {
    const canary = `canary-${Math.random().toString(36).slice(2)}`;
    const task = Object.fromEntries(DISPATCH_TICKET_FORBIDDEN_KEYS.map((k) => [k, canary]));
    const posts = [
      '/consumer-token',
      '/relay/ticket',
      '/dispatch/ticket',
      '/register',
      '/heartbeat',
      '/deregister',
    ];
    for (const prefix of ['/v1', '/api/v1']) {
      for (const path of posts) {
        for (const headers of [{}, bearer(a.node_token)]) {
          for (const payload of [
            task,
            { ...task, node_id: a.node_id, intent: CHAT, target_node_id: b.node_id },
          ]) {
            const r = await t.app.inject({
              method: 'POST',
              url: `${prefix}${path}`,
              headers,
              payload,
            });
            expect(r.body, `${prefix}${path}`).not.toContain(canary);
          }
        }
      }
      for (const path of ['/events', '/probe', '/directory-key', '/snapshot']) {
        const q = DISPATCH_TICKET_FORBIDDEN_KEYS.map((k) => `${k}=${canary}`).join('&');
        const r = await t.app.inject(`${prefix}${path}?${q}&event_types=${canary}&host=${canary}`);
        expect(r.body, `${prefix}${path}`).not.toContain(canary);
      }
    }
  });
});
