import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startApp,
  startScriptedBackend,
  type AppProcess,
  startLocalDirectory,
} from '../src/index.ts';

/*
 * IICP-CX end to end over real processes: iicp-proxy (default settings: CX on, no
 * operator token) → iicp-directory → iicp-node (default open mesh) → a scripted
 * OpenAI-compatible backend. The node's /metrics counts encrypted tasks, so the test
 * sees that the payload crossed encrypted without anyone logging it. A keyless node,
 * registered by hand with the extra fields deployed nodes send, is refused by default.
 */
const CANARY = 'canary-e2e-cx-4e81';
const CHAT = 'urn:iicp:intent:llm:chat:v1';
const COMPLETION = 'urn:iicp:intent:llm:completion:v1';

function listen(server: Server): Promise<string> {
  return new Promise((r) =>
    server.listen(0, '127.0.0.1', () =>
      r(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );
}

describe('IICP-CX end to end: proxy → directory → node', () => {
  const dirs: string[] = [];
  const procs: AppProcess[] = [];
  const servers: Server[] = [];
  let backendBodies: readonly string[] = [];
  let closeBackend: () => Promise<void> = async () => undefined;
  const keylessTasks: unknown[] = [];
  let directoryUrl = '';
  let nodeUrl = '';
  let proxyUrl = '';
  let nodeLog: AppProcess;
  let proxyLog: AppProcess;
  let keylessUrl = '';

  beforeAll(async () => {
    const backend = await startScriptedBackend({
      model: 'cx-model',
      reply: 'sealed',
      streamTokens: ['sealed'],
      holdStreams: false,
    });
    backendBodies = backend.bodies;
    closeBackend = () => backend.close();
    const backendUrl = backend.url;

    // A node that advertises no CX key (an older deployment, say).
    const keyless = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url === '/iicp/health') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ status: 'ok', load: 0, active_jobs: 0 }));
          return;
        }
        keylessTasks.push(Buffer.concat(chunks).toString());
        res.writeHead(500).end();
      });
    });
    servers.push(keyless);
    keylessUrl = await listen(keyless);

    const dataDir = await mkdtemp(join(tmpdir(), 'e2e-cx-dir-'));
    const home = await mkdtemp(join(tmpdir(), 'e2e-cx-node-'));
    dirs.push(dataDir, home);
    const started = await startLocalDirectory(dataDir);
    procs.push(started.proc);
    directoryUrl = started.url;

    const init = startApp('node', [
      ...['init', '--yes', '--home', home, '--backend-url', backendUrl],
      ...['--backend-type', 'openai', '--directory-url', directoryUrl, '--intent', CHAT],
    ]);
    expect(await init.exited()).toBe(0);
    expect(init.output()).toMatch(/IICP-CX key created: .*\(cx-[0-9a-f]{16}\)/);

    const node = startApp('node', ['serve', '--home', home, '--port', '0', '--log-level', 'info']);
    procs.push(node);
    nodeLog = node;
    const m = await nodeLog.waitFor(
      /iicp-node listening on (http:\/\/127\.0\.0\.1:\d+),.*IICP-CX key cx-[0-9a-f]{16}.*registered/,
    );
    nodeUrl = m[1]!;

    // No operator token, no allowPlaintext: CX on, and the node serves the open mesh.
    const proxy = startApp('proxy', ['serve', '--port', '0', '--log-level', 'info'], {
      IICP_PROXY_DIRECTORY_URL: directoryUrl,
    });
    procs.push(proxy);
    proxyLog = proxy;
    proxyUrl = (await proxyLog.waitFor(/iicp-proxy listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;

    // Discover refreshes on its own clock: wait until it lists the node with its key.
    for (let i = 0; i < 100; i++) {
      const list = (await (await fetch(`${directoryUrl}/v1/discover?intent=${CHAT}`)).json()) as {
        nodes: { cx_public_key?: unknown }[];
      };
      if (list.nodes.some((n) => n.cx_public_key != null)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 90_000);

  afterAll(async () => {
    for (const p of procs.reverse()) {
      p.kill('SIGTERM');
      await p.exited();
    }
    await closeBackend();
    for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  async function cxCounters(): Promise<Record<string, number>> {
    const text = await (await fetch(`${nodeUrl}/metrics`)).text();
    const out: Record<string, number> = {};
    for (const m of text.matchAll(/^iicp_node_cx_tasks_total\{mode="(\w+)"\} (\d+)/gm)) {
      out[m[1]!] = Number(m[2]);
    }
    return out;
  }

  it('discover shows the node key (CX-01); a chat through the proxy is encrypted both ways', async () => {
    const list = (await (await fetch(`${directoryUrl}/v1/discover?intent=${CHAT}`)).json()) as {
      nodes: { cx_public_key?: Record<string, unknown> }[];
    };
    expect(list.nodes[0]!.cx_public_key).toMatchObject({
      algorithm: 'X25519',
      encoding: 'base64url',
      features: ['response_encryption_v1'],
    });

    const res = await fetch(`${proxyUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'cx-model', messages: [{ role: 'user', content: CANARY }] }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: { message: { content: string } }[] };
    expect(body.choices[0]!.message.content).toBe('sealed');
    // The node opened an iicp_conf envelope and sealed its answer (cx_response_encryption).
    expect(await cxCounters()).toMatchObject({ encrypted_both: 1 });
    expect((await cxCounters()).plaintext ?? 0).toBe(0);
    // The backend got the decrypted prompt: the round trip really carried it.
    expect(backendBodies.some((b) => b.includes(CANARY))).toBe(true);
  });

  it('a streamed chat encrypts the request (Tier 1) and streams the answer', async () => {
    const res = await fetch(`${proxyUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'cx-model',
        stream: true,
        messages: [{ role: 'user', content: CANARY }],
      }),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('sealed');
    expect(await cxCounters()).toMatchObject({ encrypted: 1, encrypted_both: 1 });
  });

  it('a tampered envelope sent straight to the node is 422 IICP-E050', async () => {
    const res = await fetch(`${nodeUrl}/v1/task`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        task_id: '7d7c5b1e-3f0a-4b2c-8d9e-0a1b2c3d4e5f',
        intent: CHAT,
        constraints: { timeout_ms: 5000 },
        iicp_conf: {
          version: 1,
          recipient_key_id: 'cx-0000000000000000',
          kem_ciphertext: 'AAAA',
          encrypted_body: 'AAAA',
          nonce: 'AAAA',
          aad: 'AAAA',
          plaintext_size: 1,
        },
      }),
    });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('IICP-E050');
  });

  it('a keyless node registering extra fields is accepted, and refused by the proxy by default', async () => {
    const reg = await fetch(`${directoryUrl}/v1/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        endpoint: keylessUrl,
        region: 'global',
        capabilities: [{ intent: COMPLETION, models: ['cx-model'] }],
        limits: { max_concurrent: 2 },
        // What deployed nodes send beyond our own REGISTER.
        transport_endpoint: 'iicp://127.0.0.1:9999',
        backend: 'ollama',
        sdk_language: 'python',
        sdk_version: '0.7.107',
        auto_update_enabled: true,
        auto_update_interval_s: 3600,
        x_vendor_field: { kept: true },
      }),
    });
    expect(reg.status).toBe(201);
    const ack = (await reg.json()) as { node_id: string };
    const detail = (await (await fetch(`${directoryUrl}/v1/node/${ack.node_id}`)).json()) as Record<
      string,
      unknown
    >;
    expect(detail.transport_endpoint).toBe('iicp://127.0.0.1:9999');
    expect(detail.cx_public_key ?? null).toBeNull();

    for (let i = 0; i < 100; i++) {
      const list = (await (
        await fetch(`${directoryUrl}/v1/discover?intent=${COMPLETION}`)
      ).json()) as { nodes: unknown[] };
      if (list.nodes.length > 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const res = await fetch(`${proxyUrl}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'cx-model', prompt: CANARY }),
    });
    const text = await res.text();
    expect(res.status).toBe(503);
    expect(text).toContain('IICP-E033');
    expect(text).toContain('allowPlaintext');
    expect(keylessTasks).toHaveLength(0);
  });

  it('the prompt never reaches a log', () => {
    expect(nodeLog.output()).not.toContain(CANARY);
    expect(proxyLog.output()).not.toContain(CANARY);
  });
});
