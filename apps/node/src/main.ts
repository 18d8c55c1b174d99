import type { AddressInfo } from 'node:net';
import {
  installGracefulShutdown,
  type GracefulShutdown,
  type IicpFastifyInstance,
} from '@iicp/http';
import type { Capability } from '@iicp/wire';
import { buildApp, DEFAULT_MAX_CONCURRENT, nodeRuntime } from './app.ts';
import { createBackend, createBackendHttpClient, DEFAULT_BACKEND_URLS } from './backends/index.ts';
import { OPERATION_INTENTS, operationForIntent, type BackendType } from './backends/types.ts';
import { DEFAULT_NODE_HOST, DEFAULT_NODE_PORT, type NodeConfig } from './config.ts';
import { NodeLifecycle } from './directory/lifecycle.ts';
import { NodeStateStore } from './directory/store.ts';
import { loadOperatorKey } from './identity.ts';
import { LIFECYCLE_PROFILE } from './lifecycle.ts';
import { detectBackend } from './probe.ts';
import { NodeRuntimeState } from './state.ts';

export const NODE_VERSION = '0.0.0';

export interface RunningNode {
  app: IicpFastifyInstance;
  url: string;
  state: NodeRuntimeState;
  lifecycle: NodeLifecycle | undefined;
  shutdown: GracefulShutdown;
  startupLine: string;
}

export interface StartOptions {
  home: string;
  /** Where the startup line and warnings go. */
  print?: (line: string) => void;
  /** Process signals by default; tests pass an EventEmitter. */
  signals?: Parameters<typeof installGracefulShutdown>[1];
}

/** Capabilities advertised for the served intents (models are added per registration). */
export function capabilitiesFor(intents: readonly string[], backend: BackendType): Capability[] {
  return intents.map((intent) => {
    const op = operationForIntent(intent);
    const streams = op === 'chat' || op === 'completion';
    return {
      intent,
      inference_engine: backend,
      supports_streaming: streams,
      ...(streams ? { supported_profiles: [LIFECYCLE_PROFILE] } : {}),
    };
  });
}

/**
 * `iicp-node serve`: build the backend client and the app, listen, register with
 * the directory and heartbeat; on SIGTERM/SIGINT refuse new tasks, drain in-flight
 * ones, then deregister.
 */
export async function startNode(config: NodeConfig, opts: StartOptions): Promise<RunningNode> {
  const print = opts.print ?? ((l: string) => process.stderr.write(`${l}\n`));
  const http = createBackendHttpClient();
  let type = config.backendType;
  let baseUrl = config.backendUrl;
  if (!type) {
    const found = await detectBackend(baseUrl ?? DEFAULT_BACKEND_URLS.ollama, http);
    if (!found) {
      throw new Error(
        `no backend answered at ${baseUrl ?? DEFAULT_BACKEND_URLS.ollama}; pass --backend-type and --backend-url (or run iicp-node init)`,
      );
    }
    type = found.type;
  }
  baseUrl ??= DEFAULT_BACKEND_URLS[type];
  const backend = createBackend({
    type,
    baseUrl,
    http,
    ...(config.backendApiKey ? { apiKey: config.backendApiKey } : {}),
  });
  const state = new NodeRuntimeState();
  try {
    state.models = await backend.listModels({ timeoutMs: 5_000 });
  } catch {
    state.backendHealthy = false;
    print(
      `warning: backend ${type} at ${baseUrl} did not list its models; health is degraded until it does`,
    );
  }
  const intents = config.intents ?? backend.operations.map((op) => OPERATION_INTENTS[op]);
  const maxConcurrent = config.maxConcurrent ?? DEFAULT_MAX_CONCURRENT;
  const app = await buildApp({
    backend,
    state,
    intents,
    ...(config.model ? { model: config.model } : {}),
    maxConcurrent,
    auth: config.auth ?? 'token',
    logger: { level: config.logLevel ?? 'info' },
  });
  app.addHook('preClose', async () => {
    state.draining = true;
  });
  const host = config.host ?? DEFAULT_NODE_HOST;
  await app.listen({ host, port: config.port ?? DEFAULT_NODE_PORT });
  const addr = app.server.address() as AddressInfo;
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${shown}:${addr.port}`;

  let lifecycle: NodeLifecycle | undefined;
  let registered = 'not registered (no --directory-url)';
  if (config.directoryUrl) {
    const endpoint =
      config.publicEndpoint ??
      `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${addr.port}`;
    const operator = await loadOperatorKey(opts.home);
    lifecycle = new NodeLifecycle({
      directoryUrl: config.directoryUrl,
      state,
      store: new NodeStateStore(opts.home),
      profile: {
        endpoint,
        region: config.region ?? 'global',
        maxConcurrent,
        capabilities: capabilitiesFor(intents, type),
        backend: type,
        implementationVersion: NODE_VERSION,
        ...(config.nodeId ? { preferredNodeId: config.nodeId } : {}),
        ...(operator ? { operator } : {}),
      },
      load: () => {
        const a = nodeRuntime(app).admission;
        return { load: a.active / a.max, activeJobs: a.active };
      },
      backend,
    });
    lifecycle.on('warn', (err) =>
      app.log.warn({ err: { message: err.message } }, 'directory lifecycle'),
    );
    lifecycle.on('registered', (ack) => {
      app.log.info({ node_id: ack.node_id }, 'registered');
      const host = new URL(endpoint).hostname;
      if (ack.observed_source_ip && ack.observed_source_ip !== host) {
        // iicp-core.md §11.2
        app.log.warn(
          `Observed external IP ${ack.observed_source_ip} does not match endpoint host ${host} — this node may be behind NAT or a misconfigured reverse proxy.`,
        );
      }
    });
    try {
      const ack = await lifecycle.start();
      registered = `registered with ${config.directoryUrl} as ${ack.node_id}`;
    } catch (err) {
      await app.close();
      await http.close();
      throw new Error(`registration with ${config.directoryUrl} failed: ${(err as Error).message}`);
    }
  }

  const shutdown = installGracefulShutdown(app, {
    timeoutMs: 310_000, // the longest task budget (300 s) plus a margin
    ...opts.signals,
    onClosed: async () => {
      await lifecycle?.stop();
      await http.close();
    },
  });
  const short = intents.map((i) => i.replace('urn:iicp:intent:', '')).join(', ');
  const startupLine = `iicp-node listening on ${url}, serving ${short} from ${type} at ${baseUrl} (${state.models.length} models), ${registered}`;
  print(startupLine);
  return { app, url, state, lifecycle, shutdown, startupLine };
}
