import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type AppProcess, startLocalDirectory } from '../src/index.ts';

/*
 * The official openai client → iicp-proxy → iicp-directory (discover) → iicp-node →
 * a scripted OpenAI-compatible backend. The three apps run as their CLIs (real
 * processes); the backend runs in this process so the test can hold a stream open and
 * prove the first token reaches the client before the backend sends its last.
 */

let backend: Server;
let backendUrl = '';
/** Lets a held streamed answer go on; set while a stream is held after its first token. */
let release: (() => void) | undefined;
let backendSentLast = false;

function startBackend(): Promise<void> {
  backend = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const json = (v: unknown) =>
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(v));
      if (req.method === 'GET' && req.url === '/v1/models') {
        return json({ data: [{ id: 'e2e-model' }] });
      }
      const body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as { stream?: boolean };
      const usage = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 };
      if (req.url === '/v1/embeddings') {
        return json({ model: 'e2e-model', data: [{ index: 0, embedding: [0.5, -1, 2] }], usage });
      }
      if (req.url === '/v1/completions' && !body.stream) {
        return json({
          model: 'e2e-model',
          choices: [{ index: 0, text: 'upon a time', finish_reason: 'stop' }],
          usage,
        });
      }
      if (!body.stream) {
        return json({
          model: 'e2e-model',
          choices: [
            { index: 0, message: { role: 'assistant', content: 'pong' }, finish_reason: 'stop' },
          ],
          usage,
        });
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const frame = (content: string): string =>
        `data: ${JSON.stringify({ model: 'e2e-model', choices: [{ index: 0, delta: { content } }] })}\n\n`;
      res.write(frame('first'));
      backendSentLast = false;
      release = () => {
        res.write(frame(' second'));
        backendSentLast = true;
        res.end(
          `data: ${JSON.stringify({ model: 'e2e-model', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage })}\n\ndata: [DONE]\n\n`,
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

describe('openai client → iicp-proxy → directory → iicp-node → backend', () => {
  let home: string;
  let dataDir: string;
  let directory: AppProcess;
  let node: AppProcess | undefined;
  let proxy: AppProcess | undefined;
  let proxyUrl = '';
  let nodeId = '';

  beforeAll(async () => {
    await startBackend();
    home = await mkdtemp(join(tmpdir(), 'e2e-proxy-node-'));
    dataDir = await mkdtemp(join(tmpdir(), 'e2e-proxy-dir-'));
    const started = await startLocalDirectory(dataDir);
    directory = started.proc;
    const directoryUrl = started.url;
    const init = startApp('node', [
      'init',
      '--yes',
      '--home',
      home,
      '--backend-url',
      backendUrl,
      '--backend-type',
      'openai',
      '--directory-url',
      directoryUrl,
    ]);
    await init.waitFor(/Next: iicp-node serve/);
    expect(await init.exited()).toBe(0);
    node = startApp('node', ['serve', '--home', home, '--port', '0', '--log-level', 'warn']);
    nodeId = (
      await node.waitFor(/listening on http:\/\/127\.0\.0\.1:\d+,.* as ([0-9a-f-]{36})/)
    )[1]!;
    // Phase 1 credential (D-015): the operator's node_token, sent as auth.node_token.
    const saved = JSON.parse(await readFile(join(home, 'node-state.json'), 'utf8')) as {
      node_token: string;
    };
    proxy = startApp('proxy', ['serve', '--port', '0', '--log-level', 'warn'], {
      IICP_PROXY_DIRECTORY_URL: directoryUrl,
      IICP_PROXY_OPERATOR_TOKEN: saved.node_token,
    });
    proxyUrl = (await proxy.waitFor(/iicp-proxy listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
  }, 90_000);

  afterAll(async () => {
    proxy?.kill('SIGKILL');
    node?.kill('SIGKILL');
    directory?.kill('SIGTERM');
    await directory.exited();
    await new Promise<void>((r) => backend.close(() => r()));
    await rm(home, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
  });

  it('models, chat, streamed chat, completions and embeddings through the mesh', async () => {
    const client = new OpenAI({ baseURL: `${proxyUrl}/v1`, apiKey: 'unused', maxRetries: 0 });

    // The directory's discover index refreshes on its own clock: wait until it lists the node.
    let models: string[] = [];
    for (let i = 0; i < 100 && !models.includes('e2e-model'); i++) {
      models = (await client.models.list()).data.map((m) => m.id);
      if (!models.includes('e2e-model')) await new Promise((r) => setTimeout(r, 200));
    }
    expect(models).toContain('e2e-model');

    const { data: chat, response } = await client.chat.completions
      .create({ model: 'e2e-model', messages: [{ role: 'user', content: 'ping' }] })
      .withResponse();
    expect(chat.choices[0]?.message.content).toBe('pong');
    expect(chat.usage?.total_tokens).toBe(5);
    expect(response.headers.get('x-iicp-generated-by-ai')).toBe('true');
    expect(response.headers.get('x-iicp-node-id')).toBe(nodeId);

    const stream = await client.chat.completions.create({
      model: 'e2e-model',
      messages: [{ role: 'user', content: 'stream please' }],
      stream: true,
    });
    const parts: string[] = [];
    let lastSentWhenFirstArrived: boolean | undefined;
    for await (const chunk of stream) {
      const text = chunk.choices[0]?.delta.content;
      if (!text) continue;
      parts.push(text);
      if (lastSentWhenFirstArrived === undefined) {
        lastSentWhenFirstArrived = backendSentLast;
        release?.();
      }
    }
    expect(lastSentWhenFirstArrived).toBe(false);
    expect(parts.join('')).toBe('first second');

    const completion = await client.completions.create({ model: 'e2e-model', prompt: 'Once' });
    expect(completion.choices[0]?.text).toBe('upon a time');

    const emb = await client.embeddings.create({ model: 'e2e-model', input: 'vector' });
    expect(emb.data[0]?.embedding).toEqual([0.5, -1, 2]);

    const status = (await (await fetch(`${proxyUrl}/status`)).json()) as {
      directory: { reachable: boolean };
      last_route: { ok: boolean; node_id: string; intent: string };
    };
    expect(status.directory.reachable).toBe(true);
    expect(status.last_route).toMatchObject({ ok: true, node_id: nodeId });

    proxy!.kill('SIGTERM');
    expect(await proxy!.exited()).toBe(0);
    proxy = undefined;
  }, 90_000);
});
