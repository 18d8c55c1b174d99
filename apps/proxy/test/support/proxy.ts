import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { ClientOptions } from '@iicp/client';
import { buildProxy, type ProxyHandle } from '../../src/index.ts';
import {
  entry,
  fakeTime,
  startDirectory,
  startNode,
  type NodeHandler,
  type ScriptedDirectory,
  type ScriptedNode,
} from './mesh.ts';

export interface TestProxy {
  readonly url: string;
  readonly dir: ScriptedDirectory;
  readonly nodes: ScriptedNode[];
  readonly time: ReturnType<typeof fakeTime>;
  readonly handle: ProxyHandle;
  /** Every log line the proxy wrote (JSON text). */
  readonly logs: string[];
  metrics(): Promise<string>;
  close(): Promise<void>;
}

/**
 * Scripted nodes (in directory order), a scripted directory listing them, and the proxy
 * listening on 127.0.0.1:0 with an injected sleep (backoff is recorded, never waited).
 */
export async function startProxy(
  handlers: NodeHandler[],
  client: Partial<ClientOptions> = {},
): Promise<TestProxy> {
  const nodes: ScriptedNode[] = [];
  for (const h of handlers) nodes.push(await startNode(h));
  const dir = await startDirectory({ nodes: () => nodes.map((n, i) => entry(n, 0.9 - i * 0.1)) });
  const time = fakeTime();
  const logs: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const handle = await buildProxy({
    client: {
      directoryUrl: dir.url,
      nodeToken: 'operator-token-1234',
      sleep: time.sleep,
      timeoutMs: 5_000,
      attemptGraceMs: 500,
      // Scripted nodes advertise no IICP-CX key.
      allowPlaintext: true,
      ...client,
    },
    logger: { level: 'debug', stream },
  });
  await handle.app.listen({ host: '127.0.0.1', port: 0 });
  const port = (handle.app.server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    dir,
    nodes,
    time,
    handle,
    logs,
    metrics: async () => (await fetch(`${url}/metrics`)).text(),
    close: async () => {
      await handle.app.close();
      await Promise.all([dir.close(), ...nodes.map((n) => n.close())]);
    },
  };
}

/** The value of one Prometheus sample, e.g. `iicp_proxy_retries_total{intent="…"}`; 0 when absent. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => ls.includes(`${k}="${v}"`))) total += Number(m[3]);
  }
  return total;
}
