/* eslint-disable @typescript-eslint/no-explicit-any -- recorded JSON bodies are inspected freely */
import { afterEach, describe, expect, it } from 'vitest';
import { IicpLocalError, IicpProtocolError, createClient } from '../src/index.ts';
import type { AttemptInfo, ClientOptions } from '../src/index.ts';
import {
  entry,
  fail,
  fakeTime,
  hang,
  ok,
  startDirectory,
  startNode,
  ticketFor,
} from './support/mesh.ts';
import type { EventLog, ScriptedNode } from './support/mesh.ts';

const INTENT = 'urn:iicp:intent:x.test:echo:v1';
let servers: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function mesh(
  handlers: Parameters<typeof startNode>[1][],
  opts: { regions?: string[] } = {},
) {
  const log: EventLog = [];
  const nodes: ScriptedNode[] = [];
  for (const h of handlers) nodes.push(await startNode(log, h));
  const dir = await startDirectory(log, {
    nodes: () =>
      nodes.map((n, i) => entry(n, 0.9 - i * 0.1, { region: opts.regions?.[i] ?? 'eu-central' })),
  });
  servers.push(dir, ...nodes);
  const time = fakeTime();
  const make = (extra: Partial<ClientOptions> = {}) =>
    createClient({
      directoryUrl: dir.url,
      nodeToken: 'operator-secret-token-0123456789',
      now: time.now,
      sleep: time.sleep,
      random: () => 0.5,
      attemptGraceMs: 0,
      // Scripted nodes advertise no IICP-CX key (test/cx.test.ts covers encryption).
      allowPlaintext: true,
      ...extra,
    });
  return { log, nodes, dir, time, make };
}

async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('routing over the directory order (PROXY-ROUTE-01/02)', () => {
  it('discovers first, then sends to the first node of the directory order only', async () => {
    const { log, nodes, make } = await mesh([ok(), ok(), ok()]);
    const client = make();
    const res = await client.call(INTENT, { q: 1 });
    expect(res.status).toBe('success');
    expect(log).toEqual(['directory:discover', `node:${nodes[0]!.id}`]);
    expect(nodes[1]!.requests).toHaveLength(0);
    const body = nodes[0]!.requests[0]!.body;
    expect(body.intent).toBe(INTENT);
    expect(body.payload).toEqual({ q: 1 });
    expect(body.auth).toEqual({ node_token: 'operator-secret-token-0123456789' });
    expect(body.constraints.timeout_ms).toBe(30000);
    expect(nodes[0]!.requests[0]!.url).toBe('/v1/task');
  });

  it('keeps the directory order on failures: every retry goes to the next node, same task_id', async () => {
    const { nodes, make, time } = await mesh([
      fail(503, 'service_unavailable'),
      fail(500, 'internal_error'),
      ok(),
    ]);
    const attempts: AttemptInfo[] = [];
    const res = await make().call(INTENT, {}, {}, { onAttempt: (a) => attempts.push(a) });
    expect(res.status).toBe('success');
    expect(attempts.map((a) => a.nodeId)).toEqual(nodes.map((n) => n.id));
    const ids = nodes.map((n) => n.requests[0]!.body.task_id);
    expect(new Set(ids).size).toBe(1);
    expect(res.task_id).toBe(ids[0]);
    // Two §6.1 backoffs: 200 ms then 400 ms (random 0.5 = no jitter).
    expect(time.sleeps).toEqual([200, 400]);
  });

  it('makes at most 3 attempts, then answers no_available_node (SDK-01, PROXY-ROUTE-03/04, PROXY-ERR-02)', async () => {
    const { nodes, make } = await mesh([
      fail(503, 'service_unavailable'),
      fail(503, 'service_unavailable'),
      fail(503, 'service_unavailable'),
      ok(),
    ]);
    const err = await rejection(make().call(INTENT, {}));
    expect(err).toBeInstanceOf(IicpProtocolError);
    expect(err.code).toBe('no_available_node');
    expect(err.status).toBe(503);
    expect(err.details.attempts).toBe(3);
    expect(nodes.map((n) => n.requests.length)).toEqual([1, 1, 1, 0]);
  });

  it('answers 503 IICP-E033 when the directory has no node (PROXY-ERR-01)', async () => {
    const { make } = await mesh([]);
    const err = await rejection(make().call(INTENT, {}));
    expect(err).toBeInstanceOf(IicpProtocolError);
    expect(err.code).toBe('IICP-E033');
    expect(err.status).toBe(503);
  });

  it('does not retry a terminal 422', async () => {
    const { nodes, make, time } = await mesh([fail(422, 'validation_error'), ok()]);
    const err = await rejection(make().call(INTENT, {}));
    expect(err.code).toBe('validation_error');
    expect(nodes[1]!.requests).toHaveLength(0);
    expect(time.sleeps).toEqual([]);
  });
});

describe('capacity_exceeded (iicp-semantics.md §2.2, QOS-ADMIT-02)', () => {
  it('switches to the next node with no backoff scheduled', async () => {
    const { nodes, make, time } = await mesh([
      fail(429, 'capacity_exceeded', 'full', { qos_class: 'batch', retry_after_ms: 5000 }),
      ok(),
    ]);
    const attempts: AttemptInfo[] = [];
    const res = await make().call(INTENT, {}, {}, { onAttempt: (a) => attempts.push(a) });
    expect(res.status).toBe('success');
    expect(time.sleeps).toEqual([]);
    expect(attempts[0]!.nextDelayMs).toBe(0);
    expect(nodes[1]!.requests[0]!.body.task_id).toBe(nodes[0]!.requests[0]!.body.task_id);
  });

  it('backs off before the next node on a plain 503 (contrast)', async () => {
    const { make, time } = await mesh([fail(503, 'service_unavailable'), ok()]);
    await make().call(INTENT, {});
    expect(time.sleeps).toHaveLength(1);
    expect(time.sleeps[0]).toBeGreaterThanOrEqual(160);
    expect(time.sleeps[0]).toBeLessThanOrEqual(240);
  });
});

describe('circuit breaker (iicp-semantics.md §7.1)', () => {
  it('opens after 5 failures of a node, which is then skipped until the open period ends', async () => {
    const { nodes, make, time } = await mesh([fail(503, 'service_unavailable'), ok()]);
    const client = make();
    for (let i = 0; i < 5; i++) await client.call(INTENT, {});
    expect(nodes[0]!.requests).toHaveLength(5);
    expect(client.breakerState(nodes[0]!.id)).toBe('open');
    expect(client.breakerStates()).toEqual({ [nodes[0]!.id]: 'open' });
    const before = time.sleeps.length;
    await client.call(INTENT, {});
    expect(nodes[0]!.requests).toHaveLength(5);
    expect(nodes[1]!.requests).toHaveLength(6);
    expect(time.sleeps.length).toBe(before); // no failure, no backoff
    // After 30 s the breaker lets one probe through.
    time.advance(30_000);
    await client.call(INTENT, {});
    expect(nodes[0]!.requests).toHaveLength(6);
  });

  it('answers no_available_node when every candidate is behind an open breaker', async () => {
    const { make } = await mesh([fail(503, 'service_unavailable')]);
    const client = make();
    for (let i = 0; i < 5; i++) await rejection(client.call(INTENT, {}));
    const err = await rejection(client.call(INTENT, {}));
    expect(err.code).toBe('no_available_node');
    expect(err.details.attempts).toBe(0);
  });
});

describe('timeouts (PROXY-TIMEOUT-01/02)', () => {
  it('moves a timed-out task to the next node', async () => {
    const { nodes, make } = await mesh([hang, ok()]);
    // Long enough for the healthy node to answer on a busy machine.
    const res = await make().call(INTENT, {}, { timeout_ms: 1000 });
    expect(res.status).toBe('success');
    expect(nodes[1]!.requests[0]!.body.task_id).toBe(nodes[0]!.requests[0]!.body.task_id);
  });

  it('answers timeout when every node times out', async () => {
    const { make } = await mesh([hang, fail(504, 'task_timeout'), hang]);
    const err = await rejection(make().call(INTENT, {}, { timeout_ms: 100 }));
    expect(err).toBeInstanceOf(IicpProtocolError);
    expect(err.code).toBe('timeout');
    expect(err.status).toBe(504);
  });
});

describe('cancellation', () => {
  it('an AbortSignal cancels an in-flight call and the node sees the connection close', async () => {
    const { nodes, make } = await mesh([hang, ok()]);
    const ctl = new AbortController();
    const arrived = nodes[0]!.nextRequest();
    const closed = nodes[0]!.nextAbort();
    const p = rejection(make().call(INTENT, {}, {}, { signal: ctl.signal }));
    await arrived;
    ctl.abort();
    const err = await p;
    await closed;
    expect(err).toBeInstanceOf(IicpLocalError);
    expect(err.code).toBe('aborted');
    expect(nodes[1]!.requests).toHaveLength(0);
  });

  it('an already aborted signal sends nothing', async () => {
    const { log, make } = await mesh([ok()]);
    const err = await rejection(make().call(INTENT, {}, {}, { signal: AbortSignal.abort() }));
    expect(err.code).toBe('aborted');
    expect(log).toEqual([]);
  });
});

describe('discover', () => {
  it('caches the node list for the directory max-age (5 s) and no longer', async () => {
    const { dir, make, time } = await mesh([ok()]);
    const client = make();
    await client.call(INTENT, {});
    await client.call(INTENT, {});
    expect(dir.discovers).toHaveLength(1);
    time.advance(4_999);
    await client.call(INTENT, {});
    expect(dir.discovers).toHaveLength(1);
    time.advance(1);
    await client.call(INTENT, {});
    expect(dir.discovers).toHaveLength(2);
    dir.script.cacheControl = 'no-store';
    time.advance(5_000);
    await client.call(INTENT, {});
    await client.call(INTENT, {});
    expect(dir.discovers).toHaveLength(4);
  });

  it('returns scores in [0, 1] and at most `limit` nodes (SDK-DISC-01/02)', async () => {
    const { dir, make } = await mesh([ok(), ok(), ok()]);
    const client = make();
    const list = await client.discover(INTENT, { limit: 2, qos: 'batch', region: 'eu-central' });
    expect(list.nodes.length).toBeLessThanOrEqual(2);
    for (const n of list.nodes) {
      expect(n.score).toBeGreaterThanOrEqual(0);
      expect(n.score).toBeLessThanOrEqual(1);
    }
    const q = new URL(dir.discovers[0]!.url, 'http://x').searchParams;
    expect(Object.fromEntries(q)).toEqual({
      intent: INTENT,
      limit: '2',
      qos: 'batch',
      region: 'eu-central',
    });
    dir.script.nodes = () => [{ node_id: 'x', endpoint: 'http://a', score: 1.5, available: true }];
    const err = await rejection(client.discover(INTENT, { fresh: true }));
    expect(err).toBeInstanceOf(IicpProtocolError);
  });

  it('maps an unreachable directory to a typed error (SDK-ERR-01)', async () => {
    const { dir, make } = await mesh([ok()]);
    const client = make();
    await dir.close();
    servers = servers.filter((s) => s !== dir);
    const err = await rejection(client.call(INTENT, {}));
    expect(err).toBeInstanceOf(IicpProtocolError);
    expect(err.code).toBe('service_unavailable');
  });
});

describe('credentials', () => {
  it('fetches a consumer token with the node identity, sends it as X-IICP-Consumer-Token, caches it until near expiry', async () => {
    const { dir, nodes, make, time } = await mesh([ok(), ok()]);
    dir.script.nowS = () => Math.floor(time.now() / 1000);
    const client = make({
      identity: { nodeId: 'caller-node', nodeToken: 'caller-node-token-abcdef' },
    });
    await client.call(INTENT, {});
    expect(dir.tokens).toHaveLength(1);
    expect(dir.tokens[0]!.headers.authorization).toBe('Bearer caller-node-token-abcdef');
    expect(dir.tokens[0]!.body).toEqual({ target_node_id: nodes[0]!.id, intent: INTENT });
    const task = nodes[0]!.requests[0]!;
    expect(task.headers['x-iicp-consumer-token']).toBe('dG9rLSR7bn0.0001');
    expect(task.body.auth).toBeUndefined();
    expect(JSON.stringify(task)).not.toContain('caller-node-token-abcdef');
    await client.call(INTENT, {});
    expect(dir.tokens).toHaveLength(1);
    expect(nodes[0]!.requests[1]!.headers['x-iicp-consumer-token']).toBe('dG9rLSR7bn0.0001');
    time.advance(271_000); // within 30 s of the 300 s expiry
    await client.call(INTENT, {});
    expect(dir.tokens).toHaveLength(2);
    expect(nodes[0]!.requests[2]!.headers['x-iicp-consumer-token']).toBe('dG9rLSR7bn0.0002');
  });

  it('stops when the directory refuses the identity (401)', async () => {
    const { dir, nodes, make } = await mesh([ok()]);
    dir.script.consumerToken = () => ({
      status: 401,
      body: { error: { code: 'unauthorized', message: 'bad token' } },
    });
    const err = await rejection(
      make({ identity: { nodeId: 'c', nodeToken: 'caller-token-xyz' } }).call(INTENT, {}),
    );
    expect(err.code).toBe('unauthorized');
    expect(nodes[0]!.requests).toHaveLength(0);
  });

  it('never shows the node token in an error, even when a node echoes it (SDK-06)', async () => {
    const secret = 'operator-secret-token-0123456789';
    const { make } = await mesh([
      fail(401, 'unauthorized', `token ${secret} is wrong`, { hint: secret }),
    ]);
    const err = await rejection(make().call(INTENT, {}));
    expect(err.code).toBe('unauthorized');
    expect(err.message).not.toContain(secret);
    expect(JSON.stringify(err.toWire())).not.toContain(secret);
    expect(String(err.stack)).not.toContain(secret);
  });
});

describe('trace context (iicp-semantics.md §10.1)', () => {
  it('sends one 32-hex trace id in the body, X-IICP-Trace-Id and traceparent, on every attempt', async () => {
    const { nodes, make } = await mesh([fail(503, 'service_unavailable'), ok()]);
    await make().call(INTENT, {});
    const [a, b] = [nodes[0]!.requests[0]!, nodes[1]!.requests[0]!];
    expect(a.body.trace.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(a.headers['x-iicp-trace-id']).toBe(a.body.trace.trace_id);
    expect(a.headers.traceparent).toMatch(
      new RegExp(`^00-${a.body.trace.trace_id}-[0-9a-f]{16}-01$`),
    );
    expect(b.body.trace.trace_id).toBe(a.body.trace.trace_id);
    expect(a.headers['x-iicp-version']).toBe('1.5');
  });

  it('propagates a caller trace id', async () => {
    const { nodes, make } = await mesh([ok()]);
    await make().call(
      INTENT,
      {},
      {},
      { traceparent: `00-${'ab'.repeat(16)}-${'01'.repeat(8)}-01` },
    );
    expect(nodes[0]!.requests[0]!.headers['x-iicp-trace-id']).toBe('ab'.repeat(16));
  });
});

describe('routing profiles (iicp-dir.md §3.4.1)', () => {
  it('eu_restricted keeps only allow-listed regions, in directory order', async () => {
    const { nodes, make } = await mesh([ok(), ok(), ok()], {
      regions: ['us-east', 'eu-west', 'eu-central'],
    });
    const res = await make({
      routingProfile: 'eu_restricted',
      allowedRegions: ['eu-west', 'eu-central'],
    }).call(INTENT, {});
    expect(res.status).toBe('success');
    expect(nodes.map((n) => n.requests.length)).toEqual([0, 1, 0]);
  });

  it('refuses before any payload leaves when no node passes the profile', async () => {
    const { nodes, make } = await mesh([ok()], { regions: ['us-east'] });
    const err = await rejection(
      make({ routingProfile: 'eu_restricted', allowedRegions: ['eu-west'] }).call(INTENT, {}),
    );
    expect(err.code).toBe('IICP-E033');
    expect(nodes[0]!.requests).toHaveLength(0);
  });

  it('requireKeyReady keeps key-ready nodes only', async () => {
    const log: EventLog = [];
    const a = await startNode(log);
    const b = await startNode(log);
    const dir = await startDirectory(log, {
      nodes: () => [entry(a, 0.9, { key_ready: false }), entry(b, 0.8, { key_ready: true })],
    });
    servers.push(a, b, dir);
    await createClient({ directoryUrl: dir.url, requireKeyReady: true, allowPlaintext: true }).call(
      INTENT,
      {},
    );
    expect([a.requests.length, b.requests.length]).toEqual([0, 1]);
  });

  it('sensitive sends nothing to remote nodes; only the local fallback runs the task', async () => {
    const { dir, nodes, make } = await mesh([ok()]);
    const err = await rejection(make({ routingProfile: 'sensitive' }).call(INTENT, {}));
    expect(err.code).toBe('IICP-E033');
    const local = await startNode([], ok({ local: true }));
    servers.push(local);
    const res = await make({
      routingProfile: 'sensitive',
      localFallback: { endpoint: local.url, nodeToken: 'local-node-token' },
    }).call(INTENT, {});
    expect(res.result).toEqual({ local: true });
    expect(local.requests[0]!.body.auth).toEqual({ node_token: 'local-node-token' });
    expect(nodes[0]!.requests).toHaveLength(0);
    expect(dir.discovers).toHaveLength(0);
  });
});

describe('fallback chain (iicp-semantics.md §8)', () => {
  it('tries the local fallback after the remote nodes fail', async () => {
    const { make } = await mesh([
      fail(503, 'service_unavailable'),
      fail(503, 'service_unavailable'),
    ]);
    const local = await startNode([], ok({ local: true }));
    servers.push(local);
    const res = await make({ localFallback: { endpoint: local.url } }).call(INTENT, {});
    expect(res.result).toEqual({ local: true });
  });
});

describe('intent risk (iicp-semantics.md §1.3)', () => {
  it('refuses a prohibited intent with IICP-POLICY-001 before discovery', async () => {
    const { log, make } = await mesh([ok()]);
    const err = await rejection(make().call('urn:iicp:intent:social-scoring:rank:v1', {}));
    expect(err).toBeInstanceOf(IicpProtocolError);
    expect(err.code).toBe('IICP-POLICY-001');
    const err2 = await rejection(make().discover('urn:iicp:intent:employment:screen:v1'));
    expect(err2.code).toBe('IICP-POLICY-001');
    expect(log).toEqual([]);
  });
});

describe('ticketed dispatch (iicp-dir.md §3.4)', () => {
  it('asks for one route per attempt and excludes the failed node next time', async () => {
    const { dir, nodes, make } = await mesh([fail(503, 'service_unavailable'), ok()]);
    dir.script.ticket = (_req, n) => ({ status: 201, body: ticketFor(nodes[n - 1]!, INTENT) });
    const res = await make({ dispatch: 'ticket', qos: 'batch' }).call(INTENT, {
      secret: 'never-in-ticket',
    });
    expect(res.status).toBe('success');
    expect(dir.discovers).toHaveLength(0);
    expect(dir.tickets.map((t) => t.body)).toEqual([
      { intent: INTENT, qos: 'batch' },
      {
        intent: INTENT,
        qos: 'batch',
        exclude_node_id_prefixes: [nodes[0]!.id.replace(/-/g, '').slice(-8)],
      },
    ]);
    expect(JSON.stringify(dir.tickets)).not.toContain('never-in-ticket');
  });

  it('answers IICP-E033 when the directory has no route', async () => {
    const { dir, make } = await mesh([]);
    dir.script.ticket = () => ({
      status: 503,
      body: { error: { code: 'IICP-E033', message: 'none' } },
    });
    const err = await rejection(make({ dispatch: 'ticket' }).call(INTENT, {}));
    expect(err.code).toBe('IICP-E033');
  });
});
