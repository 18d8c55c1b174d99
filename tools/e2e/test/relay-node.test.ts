import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  poll,
  startApp,
  startScriptedBackend,
  type AppProcess,
  type ScriptedBackend,
  startLocalDirectory,
} from '../src/index.ts';

/*
 * A node the consumers cannot reach serves through a relay (iicp-dir.md §7): the real
 * directory, two real relays and the node run as their CLIs. The node registers an
 * endpoint nothing listens on, so the directory's liveness probe fails and
 * `--relay auto` elects a relay from the directory, binds, and registers its
 * relay-for endpoint. Consumers use plain fetch against what discover returns.
 *
 * The relays run with --no-require-ticket: a node's first registration cannot carry a
 * bind ticket (tickets need the node token that registration issues; see the node
 * README). Ticket refusals (forged, expired, replayed, wrong node) are proven at the
 * relay in apps/relay/test/bind.test.ts, and the node's ticket flow in
 * apps/node/test/relay-link.test.ts.
 */
const CHAT = 'urn:iicp:intent:llm:chat:v1';
/** Sent in every task payload; must never show up in a log. */
const CANARY = 'canary-relay-payload-5f0c2e';
const LIFECYCLE = 'urn:iicp:profile:service-lifecycle:v1';
const RELAY_INTENT = 'urn:iicp:intent:x.iicp:relay:v1';
/** The node's default max_concurrent (4) plus the one spare pull it parks. */
const NODE_PULLS = 5;
/** The relay's default per-session queue cap. */
const QUEUE_CAP = 64;

interface Listed {
  node_id: string;
  endpoint: string;
  transport_method?: string | null;
  relay_endpoint?: string | null;
}

/** A port nothing listens on (bound, then closed). */
function closedPort(): Promise<number> {
  return new Promise((r) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => r(port));
    });
  });
}

async function discover(directoryUrl: string, intent: string): Promise<Listed[]> {
  const res = await fetch(`${directoryUrl}/v1/discover?intent=${encodeURIComponent(intent)}`);
  return ((await res.json()) as { nodes: Listed[] }).nodes;
}

describe('iicp-node --relay auto with the real directory and relays', () => {
  let backend: ScriptedBackend;
  let home: string;
  let dataDir: string;
  let directory: AppProcess;
  let directoryUrl: string;
  const relays = new Map<string, AppProcess>();
  let node: AppProcess;
  let nodeId: string;
  let boundRelay: string;
  let unreachable: string;
  let nodeToken: string;

  const call = (constraints: Record<string, unknown> = {}) => ({
    task_id: randomUUID(),
    intent: CHAT,
    payload: { messages: [{ role: 'user', content: CANARY }] },
    constraints: { timeout_ms: 60_000, ...constraints },
    auth: { node_token: nodeToken },
  });
  const postTask = (endpoint: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${endpoint}/v1/task`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  const listedNode = async (): Promise<Listed | undefined> =>
    (await discover(directoryUrl, CHAT)).find((n) => n.node_id === nodeId);

  beforeAll(async () => {
    backend = await startScriptedBackend();
    home = await mkdtemp(join(tmpdir(), 'e2e-relay-node-'));
    dataDir = await mkdtemp(join(tmpdir(), 'e2e-relay-dir-'));
    ({ proc: directory, url: directoryUrl } = await startLocalDirectory(dataDir));
    for (let i = 0; i < 2; i++) {
      const relay = startApp('relay', [
        'serve',
        '--port',
        '0',
        '--directory-url',
        directoryUrl,
        '--no-require-ticket',
        '--log-level',
        'warn',
      ]);
      const url = (await relay.waitFor(/iicp-relay listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
      relays.set(url, relay);
    }
    // Both relays registered and listed under the relay intent.
    const listed = await poll(async () => {
      const l = await discover(directoryUrl, RELAY_INTENT);
      return l.length >= 2 ? l : undefined;
    });
    expect(listed?.map((r) => r.endpoint).sort()).toEqual([...relays.keys()].sort());

    const init = startApp('node', [
      'init',
      '--yes',
      '--home',
      home,
      '--backend-url',
      backendUrl(),
      '--directory-url',
      directoryUrl,
    ]);
    await init.waitFor(/Next: iicp-node serve/);
    expect(await init.exited()).toBe(0);

    unreachable = `http://127.0.0.1:${await closedPort()}`;
    node = startApp('node', [
      'serve',
      '--home',
      home,
      '--port',
      '0',
      '--public-endpoint',
      unreachable,
      '--relay',
      'auto',
      '--log-level',
      'info',
    ]);
    const m = await node.waitFor(
      /listening on http:\/\/127\.0\.0\.1:\d+,.* as ([0-9a-f-]{36}) via relay (http:\/\/127\.0\.0\.1:\d+) \(turn_relay\)/,
    );
    nodeId = m[1]!;
    boundRelay = m[2]!;
    nodeToken = (
      JSON.parse(await readFile(join(home, 'node-state.json'), 'utf8')) as { node_token: string }
    ).node_token;
  }, 120_000);

  function backendUrl(): string {
    return backend.url;
  }

  afterAll(async () => {
    node?.child.kill('SIGCONT');
    node?.kill('SIGKILL');
    for (const r of relays.values()) r.kill('SIGKILL');
    directory?.kill('SIGTERM');
    await directory?.exited();
    await backend?.close();
    await rm(home, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
  });

  it('falls back to a relay when the directory cannot reach the node, and says so', () => {
    expect(node.output()).toContain('liveness_failed');
    expect(relays.has(boundRelay)).toBe(true);
  });

  it('registers the relay-for endpoint with turn_relay; tasks and streams go through the relay', async () => {
    const listed = await poll(listedNode);
    const expected = `${boundRelay}/v1/relay-for/${nodeId}`;
    expect(listed).toMatchObject({
      endpoint: expected,
      transport_method: 'turn_relay',
      relay_endpoint: expected,
    });
    // The node's own endpoint is not reachable.
    await expect(fetch(`${unreachable}/iicp/health`)).rejects.toThrow();

    const res = await postTask(listed!.endpoint, call());
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      status: 'success',
      model_used: 'e2e-model',
      result: { choices: [{ message: { content: 'pong' } }] },
    });

    // Streamed: the first token reaches the consumer while the backend holds the rest.
    const stream = await postTask(listed!.endpoint, call({ required_profiles: [LIFECYCLE] }), {
      accept: 'text/event-stream',
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = stream.body!.getReader();
    let text = '';
    while (!text.includes('"first"')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
    }
    expect(text).toContain('event: accepted');
    expect(text).toContain('"first"');
    expect(text).not.toContain('second');
    backend.releaseStreams();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
    }
    expect(text).toContain(' second');
    expect(text).toMatch(/event: completed\ndata: .*"is_final":true/);

    const health = await fetch(`${listed!.endpoint}/iicp/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ node_id: nodeId });
  });

  it('refuses a second bind for the live session and keeps serving the first', async () => {
    const res = await fetch(`${boundRelay}/v1/relay/bind`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ worker_id: nodeId }),
    });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({
      error: { code: 'conflict', reason: 'relay_session_alive' },
    });
    const ok = await postTask(`${boundRelay}/v1/relay-for/${nodeId}`, call());
    expect(ok.status).toBe(200);
  });

  it('holds the relay queue cap under a burst, and serves the queued calls afterwards', async () => {
    const endpoint = `${boundRelay}/v1/relay-for/${nodeId}`;
    const burst = QUEUE_CAP + NODE_PULLS + 16;
    // Freeze the node: its parked pulls take at most NODE_PULLS calls, the rest queue.
    node.child.kill('SIGSTOP');
    let answers: { status: number; body: { error?: { code?: string; reason?: string } } }[];
    try {
      const pending = Array.from({ length: burst }, () =>
        postTask(endpoint, call()).then(async (r) => ({
          status: r.status,
          body: (await r.json()) as { error?: { code?: string; reason?: string } },
        })),
      );
      const queued = await poll(async () => {
        const text = await (await fetch(`${boundRelay}/metrics`)).text();
        const n = Number(/^iicp_relay_queued_calls (\d+)/m.exec(text)?.[1]);
        return n === QUEUE_CAP ? n : undefined;
      });
      expect(queued).toBe(QUEUE_CAP);
      node.child.kill('SIGCONT');
      answers = await Promise.all(pending);
    } finally {
      node.child.kill('SIGCONT');
    }
    const full = answers.filter((a) => a.status === 503);
    for (const a of full)
      expect(a.body.error).toMatchObject({ code: 'IICP-E039', reason: 'relay_queue_full' });
    expect(full.length).toBeGreaterThanOrEqual(burst - QUEUE_CAP - NODE_PULLS);
    expect(full.length).toBeLessThanOrEqual(burst - QUEUE_CAP);
    // Everything else was served by the node: a result, or its own capacity answer.
    for (const a of answers.filter((x) => x.status !== 503)) expect([200, 429]).toContain(a.status);
    expect(answers.filter((a) => a.status === 200).length).toBeGreaterThan(0);
  });

  it('rebinds to the other relay when its relay dies, and consumers recover', async () => {
    const other = [...relays.keys()].find((u) => u !== boundRelay)!;
    relays.get(boundRelay)!.kill('SIGKILL');
    await relays.get(boundRelay)!.exited();

    // The node schedules the rebind within the backoff cap (30 s) and lands on the other relay.
    const delay = Number((await node.waitFor(/rebinding to a relay in (\d+) ms/))[1]);
    expect(delay).toBeGreaterThan(0);
    expect(delay).toBeLessThanOrEqual(30_000);
    await node.waitFor(new RegExp(`bound to relay ${other.replace(/[.:/]/g, '\\$&')}`));

    const expected = `${other}/v1/relay-for/${nodeId}`;
    const listed = await poll(async () => {
      const n = await listedNode();
      return n?.endpoint === expected ? n : undefined;
    });
    expect(listed).toMatchObject({ endpoint: expected, transport_method: 'turn_relay' });

    // A consumer that discovers again reaches the node through the new relay.
    const state = JSON.parse(await readFile(join(home, 'node-state.json'), 'utf8')) as {
      node_token: string;
    };
    nodeToken = state.node_token; // re-registration rotated it
    // The burst test before this one may have emptied the node's per-source bucket (every
    // relayed call comes from the relay's address): a consumer waits out a 429
    // `rate_limited` for its `retry_after_ms`, as the answer asks.
    let res = await postTask(listed!.endpoint, call());
    for (let attempt = 0; res.status === 429 && attempt < 20; attempt++) {
      const refusal = (await res.json()) as { error?: { code?: string; retry_after_ms?: number } };
      expect(refusal.error?.code).toBe('rate_limited');
      await new Promise((r) => setTimeout(r, Math.max(50, refusal.error?.retry_after_ms ?? 0)));
      res = await postTask(listed!.endpoint, call());
    }
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'success' });
  });

  it('never writes a task payload to the node log', () => {
    expect(node.output()).toContain('bound to relay'); // the log is being captured
    expect(node.output()).not.toContain(CANARY);
  });

  it('drains, unbinds and deregisters on SIGTERM', async () => {
    const endpoint = (await listedNode())!.endpoint;
    node.kill('SIGTERM');
    expect(await node.exited()).toBe(0);
    // Unbound: the relay answers IICP-E030 at once instead of queueing.
    const res = await fetch(`${endpoint}/iicp/health`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'IICP-E030' } });
    const gone = await poll(async () => ((await listedNode()) ? undefined : true));
    expect(gone).toBe(true);
  });
});
