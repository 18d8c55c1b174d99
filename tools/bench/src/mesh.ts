/**
 * The task path on loopback, every part its real CLI: iicp-directory (SQLite in a
 * temporary directory), iicp-node in front of the scripted backend, iicp-proxy
 * pointed at the directory with the node's operator token. Used by the task-path and
 * memory scenarios.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { poll, startApp, type AppProcess } from '@iicp/tools-e2e';
import { BACKEND_MODEL } from './backend-spec.ts';
import { startBackend, stop } from './procs.ts';

export interface Mesh {
  readonly backendUrl: string;
  readonly directoryUrl: string;
  readonly nodeUrl: string;
  readonly nodeId: string;
  readonly nodeToken: string;
  readonly proxyUrl: string;
  readonly procs: {
    readonly backend: AppProcess;
    readonly directory: AppProcess;
    readonly node: AppProcess;
    readonly proxy: AppProcess;
  };
  close(): Promise<void>;
}

/** `--max-concurrent` of the node: above every connection count the scenarios use. */
export const NODE_MAX_CONCURRENT = 64;

export interface MeshOptions {
  /** `--relay` of the node (a relay URL: always serve through it), known after beforeNode. */
  readonly relayUrl?: () => string;
  /** Extra processes to start before the node (e.g. a relay), given the directory URL. */
  readonly beforeNode?: (directoryUrl: string) => Promise<void>;
}

export async function startMesh(dir: string, opts: MeshOptions = {}): Promise<Mesh> {
  const started: AppProcess[] = [];
  try {
    const backend = await startBackend();
    started.push(backend.proc);
    const directory = startApp('directory', [
      'serve',
      '--port',
      '0',
      '--data-dir',
      join(dir, 'directory'),
      '--allow-private-endpoints',
      '--log-level',
      'warn',
    ]);
    started.push(directory);
    const directoryUrl = (await directory.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
    await opts.beforeNode?.(directoryUrl);
    const home = join(dir, 'node-home');
    const init = startApp('node', [
      'init',
      '--yes',
      '--home',
      home,
      '--backend-url',
      backend.url,
      '--backend-type',
      'openai',
      '--directory-url',
      directoryUrl,
    ]);
    await init.waitFor(/Next: iicp-node serve/);
    if ((await init.exited()) !== 0) throw new Error(`iicp-node init failed: ${init.output()}`);
    const node = startApp('node', [
      'serve',
      '--home',
      home,
      '--port',
      '0',
      '--max-concurrent',
      String(NODE_MAX_CONCURRENT),
      // Token mode: open-mesh mode rate-limits each source IP to 60 calls a minute.
      '--auth',
      'token',
      ...(opts.relayUrl ? ['--relay', opts.relayUrl()] : []),
      '--log-level',
      'warn',
    ]);
    started.push(node);
    const m = await node.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+),.* as ([0-9a-f-]{36})/);
    const nodeUrl = m[1]!;
    const nodeId = m[2]!;
    const nodeToken = (
      JSON.parse(await readFile(join(home, 'node-state.json'), 'utf8')) as { node_token: string }
    ).node_token;
    const proxy = startApp('proxy', ['serve', '--port', '0', '--log-level', 'warn'], {
      IICP_PROXY_DIRECTORY_URL: directoryUrl,
      IICP_PROXY_OPERATOR_TOKEN: nodeToken,
    });
    started.push(proxy);
    const proxyUrl = (
      await proxy.waitFor(/iicp-proxy listening on (http:\/\/127\.0\.0\.1:\d+)/)
    )[1]!;
    // The directory's discover index refreshes on its own clock: wait until the
    // proxy can route a call.
    const ready = await poll(async () => {
      const res = await fetch(`${proxyUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: BACKEND_MODEL, messages: [{ role: 'user', content: 'hi' }] }),
      });
      await res.arrayBuffer();
      return res.status === 200 ? true : undefined;
    });
    if (!ready) throw new Error(`the proxy never routed a call: ${proxy.output().slice(-2000)}`);
    return {
      backendUrl: backend.url,
      directoryUrl,
      nodeUrl,
      nodeId,
      nodeToken,
      proxyUrl,
      procs: { backend: backend.proc, directory, node, proxy },
      close: async () => {
        for (const p of [proxy, node, directory, backend.proc]) await stop(p);
      },
    };
  } catch (e) {
    for (const p of started.reverse()) await stop(p, 'SIGKILL');
    throw e;
  }
}
