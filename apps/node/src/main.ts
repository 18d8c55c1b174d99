import type { AddressInfo } from 'node:net';
import {
  installGracefulShutdown,
  type GracefulShutdown,
  type IicpFastifyInstance,
} from '@iicp/http';
import type { Capability } from '@iicp/wire';
import { buildApp, DEFAULT_MAX_CONCURRENT, nodeRuntime } from './app.ts';
import { createBackend, createBackendHttpClient, DEFAULT_BACKEND_URLS } from './backends/index.ts';
import {
  OPERATION_INTENTS,
  operationForIntent,
  type Backend,
  type BackendType,
} from './backends/types.ts';
import { DEFAULT_NODE_HOST, DEFAULT_NODE_PORT, type NodeConfig } from './config.ts';
import { NodeLifecycle } from './directory/lifecycle.ts';
import { NodeStateStore } from './directory/store.ts';
import { loadOperatorKey } from './identity.ts';
import { LIFECYCLE_PROFILE } from './lifecycle.ts';
import { McpGateway, MCP_TOOLS_CALL_INTENT } from './mcp/gateway.ts';
import { isSafeSandboxProfile } from './mcp/taxonomy.ts';
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
export function capabilitiesFor(
  intents: readonly string[],
  backend: BackendType | 'mcp',
  mcp?: McpGateway,
): Capability[] {
  return intents.map((intent) => {
    if (intent === MCP_TOOLS_CALL_INTENT && mcp) {
      return {
        intent,
        mcp_tools: mcp.advertisedTools,
        mcp_version: mcp.mcpVersion,
        mcp_versions: [mcp.mcpVersion],
        sandboxed: isSafeSandboxProfile(mcp.policy.sandbox),
      };
    }
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
  const state = new NodeRuntimeState();
  const wantsMcp =
    config.backendType === 'mcp' || config.mcpCommand !== undefined || config.mcpUrl !== undefined;

  // The model backend (none when the node serves MCP tools only).
  let backend: Backend | undefined;
  let type: BackendType | undefined = config.backendType === 'mcp' ? undefined : config.backendType;
  let baseUrl = config.backendUrl;
  if (config.backendType !== 'mcp' && (type || baseUrl || !wantsMcp)) {
    if (!type) {
      const found = await detectBackend(baseUrl ?? DEFAULT_BACKEND_URLS.ollama, http);
      if (!found) {
        await http.close();
        throw new Error(
          `no backend answered at ${baseUrl ?? DEFAULT_BACKEND_URLS.ollama}; pass --backend-type and --backend-url (or run iicp-node init)`,
        );
      }
      type = found.type;
    }
    baseUrl ??= DEFAULT_BACKEND_URLS[type];
    backend = createBackend({
      type,
      baseUrl,
      http,
      ...(config.backendApiKey ? { apiKey: config.backendApiKey } : {}),
    });
    try {
      state.models = await backend.listModels({ timeoutMs: 5_000 });
    } catch {
      state.backendHealthy = false;
      print(
        `warning: backend ${type} at ${baseUrl} did not list its models; health is degraded until it does`,
      );
    }
  }

  // The MCP server, if any.
  let mcp: McpGateway | undefined;
  if (wantsMcp) {
    if (!config.mcpCommand && !config.mcpUrl) {
      await http.close();
      throw new Error(
        '--backend-type mcp needs --mcp-command (stdio) or --mcp-url (Streamable HTTP)',
      );
    }
    mcp = new McpGateway(
      config.mcpCommand
        ? { transport: 'stdio', command: config.mcpCommand, args: config.mcpArgs ?? [] }
        : { transport: 'http', url: config.mcpUrl! },
      {
        ...(config.mcpAllowTools ? { allowTools: config.mcpAllowTools } : {}),
        ...(config.mcpSandbox ? { sandbox: config.mcpSandbox } : {}),
      },
    );
    await mcp.connect();
    const denied = mcp.tools.filter((t) => !t.allowed).map((t) => `${t.name} (${t.riskClass})`);
    if (denied.length > 0) print(`MCP tools refused by the risk policy: ${denied.join(', ')}`);
  }

  const intents = config.intents ?? [
    ...(backend ? backend.operations.map((op) => OPERATION_INTENTS[op]) : []),
    ...(mcp ? [MCP_TOOLS_CALL_INTENT] : []),
  ];
  const maxConcurrent = config.maxConcurrent ?? DEFAULT_MAX_CONCURRENT;
  const app = await buildApp({
    ...(backend ? { backend } : {}),
    ...(mcp ? { mcp } : {}),
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
        capabilities: capabilitiesFor(intents, type ?? 'mcp', mcp),
        backend: type ?? 'mcp',
        implementationVersion: NODE_VERSION,
        ...(config.nodeId ? { preferredNodeId: config.nodeId } : {}),
        ...(operator ? { operator } : {}),
      },
      load: () => {
        const a = nodeRuntime(app).admission;
        return { load: a.active / a.max, activeJobs: a.active };
      },
      ...(backend ? { backend } : {}),
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
      await mcp?.close();
      throw new Error(`registration with ${config.directoryUrl} failed: ${(err as Error).message}`);
    }
  }

  const shutdown = installGracefulShutdown(app, {
    timeoutMs: 310_000, // the longest task budget (300 s) plus a margin
    ...opts.signals,
    onClosed: async () => {
      await lifecycle?.stop();
      await http.close();
      await mcp?.close();
    },
  });
  const short = intents.map((i) => i.replace('urn:iicp:intent:', '')).join(', ');
  const startupLine = `iicp-node listening on ${url}, serving ${short} from ${backend ? `${type} at ${baseUrl} (${state.models.length} models)` : ''}${backend && mcp ? ' and ' : ''}${mcp ? `MCP server ${mcp.serverName} (${mcp.advertisedTools.length} tools)` : ''}, ${registered}`;
  print(startupLine);
  return { app, url, state, lifecycle, shutdown, startupLine };
}
