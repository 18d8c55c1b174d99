import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, watchProcess, type AppName } from '../src/index.ts';

/*
 * init → serve → discover finds the node with a score → a task succeeds → a streamed
 * task delivers tokens incrementally → SIGTERM drains and deregisters. The directory
 * and the node run as their CLIs (real processes); the model backend is a scripted
 * OpenAI-compatible server in this process, so the test can hold a stream open.
 */
const CHAT = 'urn:iicp:intent:llm:chat:v1';
const LIFECYCLE = 'urn:iicp:profile:service-lifecycle:v1';

function cli(app: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return startApp(app as AppName, args, env).child;
}

function waitForLine(child: ChildProcess, re: RegExp): Promise<RegExpMatchArray> {
  return watchProcess(child, 'app').waitFor(re);
}

function exitCode(child: ChildProcess): Promise<number | null> {
  return watchProcess(child, 'app').exited();
}

let backend: Server;
let backendUrl = '';
let release: () => void = () => undefined;

/** OpenAI-compatible: /v1/models, /v1/chat/completions (buffered, or SSE held after the first token). */
function startBackend(): Promise<void> {
  backend = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/v1/models') {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ data: [{ id: 'e2e-model' }] }));
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as { stream?: boolean };
      if (!body.stream) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            model: 'e2e-model',
            choices: [
              { index: 0, message: { role: 'assistant', content: 'pong' }, finish_reason: 'stop' },
            ],
            usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
          }),
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const frame = (content: string): string =>
        `data: ${JSON.stringify({ model: 'e2e-model', choices: [{ index: 0, delta: { content } }] })}\n\n`;
      res.write(frame('first'));
      release = () => {
        res.write(frame(' second'));
        res.end(
          `data: ${JSON.stringify({ model: 'e2e-model', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`,
        );
      };
    });
  });
  return new Promise((r) =>
    backend.listen(0, '127.0.0.1', () => {
      backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
      r();
    }),
  );
}

describe('iicp-node with the real directory', () => {
  let home: string;
  let dataDir: string;
  let directory: ChildProcess;
  let directoryUrl: string;
  let node: ChildProcess | undefined;

  beforeAll(async () => {
    await startBackend();
    home = await mkdtemp(join(tmpdir(), 'e2e-node-'));
    dataDir = await mkdtemp(join(tmpdir(), 'e2e-dir-'));
    directory = cli('directory', [
      'serve',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--allow-private-endpoints',
      '--log-level',
      'warn',
    ]);
    directoryUrl = (await waitForLine(directory, /listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
  }, 60_000);

  afterAll(async () => {
    node?.kill('SIGKILL');
    directory?.kill('SIGTERM');
    await exitCode(directory);
    await new Promise<void>((r) => backend.close(() => r()));
    await rm(home, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
  });

  it('init → serve → discover → task → streamed task → SIGTERM deregisters', async () => {
    const init = cli('node', [
      'init',
      '--yes',
      '--home',
      home,
      '--backend-url',
      backendUrl,
      '--directory-url',
      directoryUrl,
      '--region',
      'eu-west',
    ]);
    await waitForLine(init, /Next: iicp-node serve/);
    expect(await exitCode(init)).toBe(0);

    node = cli('node', ['serve', '--home', home, '--port', '0', '--log-level', 'warn']);
    const [, nodeUrl, nodeId] = await waitForLine(
      node,
      /listening on (http:\/\/127\.0\.0\.1:\d+),.* as ([0-9a-f-]{36})/,
    );

    // Discover finds the node with a score (the directory's index refreshes on its own clock).
    let found: { node_id: string; score: number } | undefined;
    for (let i = 0; i < 100 && !found; i++) {
      const res = await fetch(`${directoryUrl}/v1/discover?intent=${encodeURIComponent(CHAT)}`);
      const list = (await res.json()) as { nodes: { node_id: string; score: number }[] };
      found = list.nodes.find((n) => n.node_id === nodeId);
      if (!found) await new Promise((r) => setTimeout(r, 200));
    }
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
    release();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
    }
    expect(text).toContain(' second');
    expect(text).toMatch(/event: completed\ndata: .*"is_final":true/);

    // SIGTERM: drains, deregisters, exits 0; the directory stops listing the node.
    node.kill('SIGTERM');
    expect(await exitCode(node)).toBe(0);
    node = undefined;
    let gone = false;
    for (let i = 0; i < 100 && !gone; i++) {
      const list = (await (
        await fetch(`${directoryUrl}/v1/discover?intent=${encodeURIComponent(CHAT)}`)
      ).json()) as { nodes: { node_id: string }[] };
      gone = !list.nodes.some((n) => n.node_id === nodeId);
      if (!gone) await new Promise((r) => setTimeout(r, 200));
    }
    expect(gone).toBe(true);
  }, 90_000);
});
