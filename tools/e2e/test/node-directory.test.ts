import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
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
 * init → serve → discover finds the node with a score → a task succeeds → a streamed
 * task delivers tokens incrementally → SIGTERM drains and deregisters. The directory
 * and the node run as their CLIs (real processes); the model backend is a scripted
 * OpenAI-compatible server in this process, so the test can hold a stream open.
 */
const CHAT = 'urn:iicp:intent:llm:chat:v1';
const LIFECYCLE = 'urn:iicp:profile:service-lifecycle:v1';

describe('iicp-node with the real directory', () => {
  let home: string;
  let dataDir: string;
  let backend: ScriptedBackend;
  let directory: AppProcess;
  let directoryUrl: string;
  let node: AppProcess | undefined;

  beforeAll(async () => {
    backend = await startScriptedBackend();
    home = await mkdtemp(join(tmpdir(), 'e2e-node-'));
    dataDir = await mkdtemp(join(tmpdir(), 'e2e-dir-'));
    ({ proc: directory, url: directoryUrl } = await startLocalDirectory(dataDir));
  }, 60_000);

  afterAll(async () => {
    node?.kill('SIGKILL');
    directory?.kill('SIGTERM');
    await directory?.exited();
    await backend?.close();
    await rm(home, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
  });

  it('init → serve → discover → task → streamed task → SIGTERM deregisters', async () => {
    const init = startApp('node', [
      'init',
      '--yes',
      '--home',
      home,
      '--backend-url',
      backend.url,
      '--directory-url',
      directoryUrl,
      '--region',
      'eu-west',
    ]);
    await init.waitFor(/Next: iicp-node serve/);
    expect(await init.exited()).toBe(0);

    node = startApp('node', ['serve', '--home', home, '--port', '0', '--log-level', 'warn']);
    const [, nodeUrl, nodeId] = await node.waitFor(
      /listening on (http:\/\/127\.0\.0\.1:\d+),.* as ([0-9a-f-]{36})/,
    );

    // Discover finds the node with a score (the directory's index refreshes on its own clock).
    const discoverUrl = `${directoryUrl}/v1/discover?intent=${encodeURIComponent(CHAT)}`;
    const listed = async () =>
      ((await (await fetch(discoverUrl)).json()) as { nodes: { node_id: string; score: number }[] })
        .nodes;
    const found = await poll(async () => (await listed()).find((n) => n.node_id === nodeId));
    expect(found).toBeDefined();
    expect(found!.score).toBeGreaterThan(0);

    const saved = JSON.parse(await readFile(join(home, 'node-state.json'), 'utf8')) as {
      node_token: string;
    };
    const call = (constraints: Record<string, unknown> = {}) => ({
      task_id: randomUUID(),
      intent: CHAT,
      payload: { messages: [{ role: 'user', content: 'ping' }] },
      constraints: { timeout_ms: 20_000, ...constraints },
      auth: { node_token: saved.node_token },
    });

    const res = await fetch(`${nodeUrl}/v1/task`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(call()),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      status: 'success',
      model_used: 'e2e-model',
      generated_by_ai: true,
      metrics: { tokens_used: 4 },
    });

    // Streamed: the first token arrives while the backend still holds the rest.
    const stream = await fetch(`${nodeUrl}/v1/task`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify(call({ required_profiles: [LIFECYCLE] })),
    });
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

    // SIGTERM: drains, deregisters, exits 0; the directory stops listing the node.
    node.kill('SIGTERM');
    expect(await node.exited()).toBe(0);
    node = undefined;
    const gone = await poll(async () =>
      (await listed()).some((n) => n.node_id === nodeId) ? undefined : true,
    );
    expect(gone).toBe(true);
  }, 90_000);
});
