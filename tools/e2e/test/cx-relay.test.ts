import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startApp,
  startScriptedBackend,
  type AppProcess,
  type ScriptedBackend,
  startLocalDirectory,
} from '../src/index.ts';

/*
 * IICP-CX through a relay, over real processes: iicp-proxy (defaults) → iicp-directory
 * (discover lists the node's relay-for endpoint and its key) → iicp-relay → iicp-node
 * (unreachable, `--relay auto`) → a scripted backend. The relay carries ciphertext
 * both ways (CX-03); the node's /metrics shows it opened and sealed the task.
 */
const CANARY = 'canary-e2e-cx-4e81';
const CHAT = 'urn:iicp:intent:llm:chat:v1';

/** A port nothing listens on (bound, then closed). */
function closedPort(): Promise<number> {
  return new Promise((r) => {
    const s = createTcpServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => r(port));
    });
  });
}

describe('IICP-CX end to end through a relay', () => {
  const dirs: string[] = [];
  const procs: AppProcess[] = [];
  let backend: ScriptedBackend | undefined;
  let nodeUrl = '';
  let proxyUrl = '';
  let relayUrl = '';
  const logs: AppProcess[] = [];

  beforeAll(async () => {
    backend = await startScriptedBackend({ model: 'cx-model', reply: 'relayed' });
    const backendUrl = backend.url;
    const dataDir = await mkdtemp(join(tmpdir(), 'e2e-cxr-dir-'));
    const home = await mkdtemp(join(tmpdir(), 'e2e-cxr-node-'));
    dirs.push(dataDir, home);

    const { proc: directory, url: directoryUrl } = await startLocalDirectory(dataDir);
    procs.push(directory);

    const relay = startApp('relay', [
      ...['serve', '--port', '0', '--directory-url', directoryUrl, '--no-require-ticket'],
      ...['--log-level', 'info'],
    ]);
    procs.push(relay);
    logs.push(relay);
    relayUrl = (await relay.waitFor(/iicp-relay listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;

    const init = startApp('node', [
      ...['init', '--yes', '--home', home, '--backend-url', backendUrl],
      ...['--backend-type', 'openai', '--directory-url', directoryUrl, '--intent', CHAT],
    ]);
    expect(await init.exited()).toBe(0);
    const unreachable = `http://127.0.0.1:${await closedPort()}`;
    const node = startApp('node', [
      ...['serve', '--home', home, '--port', '0', '--public-endpoint', unreachable],
      ...['--relay', 'auto', '--log-level', 'info'],
    ]);
    procs.push(node);
    logs.push(node);
    nodeUrl = (
      await node.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+),.* via relay .*\(turn_relay\)/)
    )[1]!;

    const proxy = startApp('proxy', ['serve', '--port', '0', '--log-level', 'info'], {
      IICP_PROXY_DIRECTORY_URL: directoryUrl,
    });
    procs.push(proxy);
    logs.push(proxy);
    proxyUrl = (await proxy.waitFor(/iicp-proxy listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;

    for (let i = 0; i < 150; i++) {
      const list = (await (await fetch(`${directoryUrl}/v1/discover?intent=${CHAT}`)).json()) as {
        nodes: { endpoint: string; cx_public_key?: unknown }[];
      };
      if (list.nodes.some((n) => n.endpoint.startsWith(relayUrl) && n.cx_public_key != null)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 120_000);

  afterAll(async () => {
    for (const p of procs.reverse()) {
      p.kill('SIGKILL');
      await p.exited();
    }
    await backend?.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('an encrypted chat crosses the relay sealed both ways; the prompt reaches no log', async () => {
    const res = await fetch(`${proxyUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'cx-model', messages: [{ role: 'user', content: CANARY }] }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: { message: { content: string } }[] };
    expect(body.choices[0]!.message.content).toBe('relayed');
    const metrics = await (await fetch(`${nodeUrl}/metrics`)).text();
    expect(metrics).toMatch(/^iicp_node_cx_tasks_total\{mode="encrypted_both"\} 1$/m);
    const relayMetrics = await (await fetch(`${relayUrl}/metrics`)).text();
    expect(relayMetrics).not.toContain(CANARY);
    for (const l of logs) expect(l.output()).not.toContain(CANARY);
  });
});
