import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHttpClient } from '@iicp/http';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startNode as startNodeProcess, type RunningNode } from '../src/main.ts';
import { RelayBindRefused, RelayLink, type RelayLinkOptions } from '../src/relay/link.ts';
import { LIFECYCLE_PROFILE } from '../src/lifecycle.ts';
import {
  callBody,
  NODE_ID,
  NODE_TOKEN,
  sharedHttp,
  startNode,
  type Harness,
} from './support/node-app.ts';
import {
  closedPort,
  fakeDirectory,
  logSink,
  ManualTimers,
  streamedText,
  untilReceived,
} from './support/relay-link.ts';
import { gate, startScriptedBackend } from './support/scripted-backend.ts';
import { startScriptedDirectory } from './support/scripted-directory.ts';
import {
  startScriptedRelay,
  type RelayedResult,
  type ScriptedRelay,
  type StreamedResult,
} from './support/scripted-relay.ts';

const http = createHttpClient({ timeoutMs: 30_000 });
afterAll(async () => {
  await http.close();
  await sharedHttp.close();
});

let h: Harness | undefined;
let link: RelayLink | undefined;
const relays: ScriptedRelay[] = [];
afterEach(async () => {
  await link?.stop();
  link = undefined;
  for (const r of relays.splice(0)) await r.kill();
  await h?.close();
  h = undefined;
});

async function relay(
  opts: { requireTicket?: boolean; nextCall?: boolean } = {},
): Promise<ScriptedRelay> {
  const r = await startScriptedRelay(opts);
  relays.push(r);
  return r;
}

/**
 * The link under test (stopped after each test), on the current node's app: one pull
 * loop, this node's id, no token and a throwaway log unless `o` says otherwise.
 */
function newLink(o: Partial<RelayLinkOptions> & Pick<RelayLinkOptions, 'relay'>): RelayLink {
  link = new RelayLink({
    http,
    app: h!.app,
    concurrency: 1,
    workerId: () => NODE_ID,
    nodeToken: () => undefined,
    log: logSink(),
    ...o,
  });
  return link;
}

describe('relay-worker link', () => {
  it('binds with the directory ticket and serves tasks and health through the relay', async () => {
    h = await startNode();
    const r = await relay({ requireTicket: true });
    const dir = fakeDirectory();
    const bound: string[] = [];
    const session = await newLink({
      relay: r.url,
      concurrency: 2,
      nodeToken: () => NODE_TOKEN,
      directory: dir,
      onBound: async (s) => void bound.push(s.endpoint),
    }).connect();
    expect(dir.tickets).toEqual([{ nodeId: NODE_ID, token: NODE_TOKEN }]);
    expect(r.binds).toEqual([{ worker_id: NODE_ID, ticket: 'ticket-1' }]);
    expect(session.endpoint).toBe(`${r.url}/v1/relay-for/${NODE_ID}`);
    expect(bound).toEqual([session.endpoint]);

    const res = (await r.call('/v1/task', callBody())) as RelayedResult;
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['content-length']).toBeUndefined();
    expect(JSON.parse(res.body.toString())).toMatchObject({ status: 'success' });

    const health = (await r.call('/iicp/health')) as RelayedResult;
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body.toString())).toMatchObject({ node_id: NODE_ID });

    // Errors come back as the node sends them (here: no credential → 401).
    const refused = (await r.call('/v1/task', callBody({ auth: undefined }))) as RelayedResult;
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body.toString())).toMatchObject({ error: { code: 'unauthorized' } });
  });

  it('takes its next call in the reply to a result, and still works with relays that answer 204', async () => {
    h = await startNode();
    for (const nextCall of [true, false]) {
      const r = await relay({ nextCall });
      await newLink({ relay: r.url }).connect();
      // One loop: the second call can only reach it in the reply to the first result
      // (nextCall relay) or through the plain pull that follows a 204.
      const first = (await r.call('/v1/task', callBody())) as RelayedResult;
      const second = (await r.call('/v1/task', callBody())) as RelayedResult;
      expect([first.status, second.status]).toEqual([200, 200]);
      expect(r.resultQueries[0]).toMatch(/^\?next_wait_ms=\d+$/);
      expect(r.nextCallReplies).toBe(nextCall ? 1 : 0);
      await link!.stop();
      link = undefined;
    }
  });

  it('streams lifecycle events as a streamed upload: the first token arrives before the last', async () => {
    const g = gate();
    h = await startNode({ script: { tokens: ['first', ' second'], gate: g.promise } });
    const r = await relay();
    await newLink({ relay: r.url }).connect();
    const out = (await r.call(
      '/v1/task',
      callBody({}, { required_profiles: [LIFECYCLE_PROFILE] }),
      { accept: 'text/event-stream' },
    )) as StreamedResult;
    expect(out.status).toBe(200);
    expect(out.headers['content-type']).toMatch(/^text\/event-stream/);
    const text = () => streamedText(out);
    await untilReceived(out, '"first"');
    expect(text()).toContain('event: accepted');
    expect(text()).not.toContain('second');
    g.open();
    await out.ended;
    expect(text()).toContain(' second');
    expect(text()).toMatch(/event: completed\ndata: .*"is_final":true/);
  });

  it('cancels the task in the node (and its backend request) when the consumer leaves mid-stream', async () => {
    const g = gate();
    h = await startNode({ script: { tokens: ['first', ' second'], gate: g.promise } });
    const r = await relay();
    await newLink({ relay: r.url }).connect();
    const out = (await r.call(
      '/v1/task',
      callBody({}, { required_profiles: [LIFECYCLE_PROFILE] }),
      { accept: 'text/event-stream' },
    )) as StreamedResult;
    await untilReceived(out, '"first"');
    const aborted = h.backend.nextAbort();
    out.abort();
    await aborted;
    expect(h.backend.aborted).toBe(1);
    g.open();
    // The worker goes on serving.
    const res = (await r.call('/iicp/health')) as RelayedResult;
    expect(res.status).toBe(200);
  });

  it('elects the least-loaded relay (never itself), and after losing it rebinds elsewhere with backoff', async () => {
    h = await startNode();
    const a = await relay();
    const b = await relay();
    const dir = fakeDirectory([
      { node_id: 'relay-a', endpoint: a.url, load: 0.5, relay_capable: true },
      { node_id: 'relay-b', endpoint: b.url, load: 0.1, relay_capable: true },
      // The node itself, even at load 0, is never elected.
      { node_id: NODE_ID, endpoint: 'http://127.0.0.1:1', load: 0, relay_capable: true },
    ]);
    const timers = new ManualTimers();
    const bound: string[] = [];
    await newLink({
      relay: 'auto',
      concurrency: 2,
      nodeToken: () => NODE_TOKEN,
      directory: dir,
      timers,
      random: () => 0.5,
      onBound: async (s) => void bound.push(s.relayUrl),
    }).connect();
    expect(bound).toEqual([b.url]);

    const lost = new Promise((res) => link!.once('lost', res));
    await b.kill();
    await lost;
    // First reconnect: base 500 ms minus at most 20 % jitter (here random 0.5 → 450).
    expect(await timers.next()).toBe(450);
    const rebound = new Promise<unknown>((res) => link!.once('bound', res));
    timers.fire();
    await rebound;
    expect(bound).toEqual([b.url, a.url]);
    expect(link!.attempts).toBe(0);
    const res = (await a.call('/v1/task', callBody())) as RelayedResult;
    expect(res.status).toBe(200);
  });

  it('backs off exponentially up to the cap while the relay stays down', async () => {
    h = await startNode();
    const timers = new ManualTimers();
    const port = await closedPort();
    const done = newLink({
      relay: `http://127.0.0.1:${port}`,
      timers,
      random: () => 0,
      startupAttempts: 9,
    })
      .connect()
      .catch((e: unknown) => e);
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      delays.push(await timers.next());
      timers.fire();
    }
    const err = (await done) as Error;
    expect(err.message).toMatch(/bind at relay .* failed/);
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });

  it('refuses at once, clearly, when the relay needs a ticket and the directory issues none', async () => {
    h = await startNode();
    const r = await relay({ requireTicket: true });
    const dir = fakeDirectory();
    dir.outcome = { reason: 'unsupported' };
    const log = logSink();
    const err = await newLink({ relay: r.url, nodeToken: () => NODE_TOKEN, directory: dir, log })
      .connect()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RelayBindRefused);
    expect((err as Error).message).toMatch(/requires a bind ticket .* the directory issued none/);
    expect(r.binds).toEqual([{ worker_id: NODE_ID }]);
    expect(log.lines.filter((l) => /issues no relay bind tickets/.test(l))).toHaveLength(1);
  });

  it('explains a refusal when a live session already holds the node id (non-displacement)', async () => {
    h = await startNode();
    const r = await relay();
    r.sessions.set(NODE_ID, 'someone-elses-session-id');
    const err = (await newLink({ relay: r.url, startupAttempts: 1 })
      .connect()
      .catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/still holds a live session/);
  });
});

describe('iicp-node serve --relay URL', () => {
  let running: RunningNode | undefined;
  let home: string | undefined;
  afterEach(async () => {
    await running?.shutdown.shutdown();
    running = undefined;
    if (home) await rm(home, { recursive: true, force: true });
  });

  it('binds before registering, registers the relay-for endpoint as turn_relay, unbinds at shutdown', async () => {
    const backend = await startScriptedBackend('openai', {});
    const directory = await startScriptedDirectory();
    const r = await relay();
    home = await mkdtemp(join(tmpdir(), 'node-relay-'));
    try {
      running = await startNodeProcess(
        {
          directoryUrl: directory.url,
          backendUrl: backend.url,
          backendType: 'openai',
          host: '127.0.0.1',
          port: 0,
          relay: r.url,
          logLevel: 'silent',
        },
        { home, print: () => undefined, signals: { source: new EventEmitter(), exit: () => {} } },
      );
      const reg = directory.calls.find((c) => c.path === '/v1/register' && c.method === 'POST');
      const nodeId = String(reg?.body?.['node_id']);
      const expected = `${r.url}/v1/relay-for/${nodeId}`;
      expect(r.binds[0]?.worker_id).toBe(nodeId);
      expect(reg?.body).toMatchObject({
        endpoint: expected,
        transport_method: 'turn_relay',
        relay_endpoint: expected,
        exposure_mode: null,
      });
      expect(running.startupLine).toContain(`via relay ${r.url} (turn_relay)`);
      // The scripted directory has no ticket route: asked (with the token, once it had
      // one) or not, the bind went ahead without a ticket.
      expect(r.binds[0]?.ticket).toBeUndefined();

      const token = running.state.nodeToken!;
      const res = (await r.call(
        '/v1/task',
        callBody({ auth: { node_token: token } }),
      )) as RelayedResult;
      expect(res.status).toBe(200);

      await running.shutdown.shutdown();
      running = undefined;
      expect(r.unbinds).toBe(1);
      expect(directory.calls.some((c) => c.method === 'DELETE')).toBe(true);
    } finally {
      await directory.close();
      await backend.close();
    }
  });
});
