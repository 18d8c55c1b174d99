import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import {
  createHttpClient,
  installGracefulShutdown,
  type GracefulShutdown,
  type IicpFastifyInstance,
} from '@iicp/http';
import { IicpProtocolError, type Capability } from '@iicp/wire';
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
import {
  cxAdvertisement,
  CX_KEY_EXPIRY_WARNING_MS,
  decryptionKeys,
  ensureCxKeys,
} from './cx/key-store.ts';
import { loadOperatorKey } from './identity.ts';
import { LIFECYCLE_PROFILE } from './lifecycle.ts';
import { McpGateway, MCP_TOOLS_CALL_INTENT } from './mcp/gateway.ts';
import { isSafeSandboxProfile } from './mcp/taxonomy.ts';
import { detectBackend } from './probe.ts';
import { RelayDirectoryClient } from './relay/directory.ts';
import { RelayLink } from './relay/link.ts';
import { NodeRuntimeState } from './state.ts';

export const NODE_VERSION = '0.0.0';

export interface RunningNode {
  app: IicpFastifyInstance;
  url: string;
  state: NodeRuntimeState;
  lifecycle: NodeLifecycle | undefined;
  /** Relay-worker mode (`--relay`), when bound or allowed to bind. */
  relay: RelayLink | undefined;
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
  // IICP-CX key: made by init (or here, for a home made before CX), rotated only by
  // `iicp-node rotate-cx-key`; serve re-registers with current_node_token to advertise it.
  const cx = await ensureCxKeys(opts.home);
  const cxLeft = cx.keys.current.notAfter.getTime() - Date.now();
  if (cxLeft < CX_KEY_EXPIRY_WARNING_MS) {
    print(
      `warning: IICP-CX key ${cx.keys.current.keyId} ${cxLeft <= 0 ? 'has expired: consumers will refuse this node' : 'expires within 7 days'}; run iicp-node rotate-cx-key`,
    );
  }
  const app = await buildApp({
    ...(backend ? { backend } : {}),
    ...(mcp ? { mcp } : {}),
    state,
    intents,
    ...(config.model ? { model: config.model } : {}),
    maxConcurrent,
    // Open mesh by default, as deployed nodes are (spec/decisions.md D-071).
    auth: config.auth ?? 'open',
    cx: {
      keys: () => decryptionKeys(cx.keys),
      ...(config.requireEncryption ? { requireEncryption: true } : {}),
    },
    logger: { level: config.logLevel ?? 'info' },
  });
  let relay: RelayLink | undefined;
  app.addHook('preClose', async () => {
    state.draining = true;
    relay?.halt();
  });
  const host = config.host ?? DEFAULT_NODE_HOST;
  await app.listen({ host, port: config.port ?? DEFAULT_NODE_PORT });
  const addr = app.server.address() as AddressInfo;
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${shown}:${addr.port}`;

  let lifecycle: NodeLifecycle | undefined;
  let registered = 'not registered (no --directory-url)';
  const endpoint =
    config.publicEndpoint ??
    `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${addr.port}`;
  // Relay-worker mode (iicp-dir.md §7): `auto` binds only when the directory cannot
  // reach the node; a URL always serves through that relay.
  const relayMode = config.relay && config.relay !== 'off' ? config.relay : undefined;
  const store = new NodeStateStore(opts.home);
  const relayClient =
    relayMode && config.directoryUrl ? new RelayDirectoryClient(config.directoryUrl) : undefined;
  let relayRegistered = false;
  let relayHttp: ReturnType<typeof createHttpClient> | undefined;
  if (relayMode) {
    if (relayMode === 'auto' && !config.directoryUrl) {
      await app.close();
      await http.close();
      await mcp?.close();
      throw new Error(
        '--relay auto needs --directory-url (relays are found through the directory)',
      );
    }
    // The worker id is the node id, known before registering: the saved one, the one
    // init chose, or a fresh one claimed at first registration.
    const saved = await store.load();
    const mine = saved && saved.directory_url === config.directoryUrl ? saved : undefined;
    const workerId = mine?.node_id ?? config.nodeId ?? randomUUID();
    config = { ...config, nodeId: workerId };
    relayHttp = createHttpClient({ timeoutMs: 30_000, connections: maxConcurrent + 8 });
    relay = new RelayLink({
      relay: relayMode,
      http: relayHttp,
      app,
      // One pull more than slots: a parked pull keeps the session alive during long
      // tasks (§7.2), and an excess call gets the node's own capacity_exceeded
      // instead of waiting in the relay's queue (admission never queues).
      concurrency: maxConcurrent + 1,
      workerId: () => state.nodeId ?? workerId,
      nodeToken: () => state.nodeToken ?? mine?.node_token,
      ...(relayClient ? { directory: relayClient } : {}),
      selfEndpoints: [endpoint, url],
      log: app.log,
      startupAttempts: 10,
      onBound: async (session) => {
        if (relayClient) relayClient.route = { endpoint: session.endpoint };
        if (relayRegistered) await lifecycle?.register();
      },
    });
  }
  const stopRelay = async (): Promise<void> => {
    await relay?.stop();
    await relayHttp?.close();
  };
  if (config.directoryUrl) {
    const operator = await loadOperatorKey(opts.home);
    lifecycle = new NodeLifecycle({
      directoryUrl: config.directoryUrl,
      state,
      store,
      ...(relayClient ? { client: relayClient } : {}),
      profile: {
        endpoint,
        region: config.region ?? 'global',
        maxConcurrent,
        capabilities: capabilitiesFor(intents, type ?? 'mcp', mcp),
        backend: type ?? 'mcp',
        implementationVersion: NODE_VERSION,
        ...(config.nodeId ? { preferredNodeId: config.nodeId } : {}),
        ...(operator ? { operator } : {}),
        cxPublicKey: () => cxAdvertisement(cx.keys),
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
      const s = relay?.session;
      if (s && s.workerId !== ack.node_id) {
        // The directory gave another id: the relay-for path must carry the new one.
        relay!.rebind(new Error('node id changed at registration'));
      }
      const host = new URL(endpoint).hostname;
      if (!relayClient?.route && ack.observed_source_ip && ack.observed_source_ip !== host) {
        // iicp-core.md §11.2
        app.log.warn(
          `Observed external IP ${ack.observed_source_ip} does not match endpoint host ${host} — this node may be behind NAT or a misconfigured reverse proxy.`,
        );
      }
    });
    try {
      let ack;
      if (relay && relayMode !== 'auto') {
        await relay.connect();
        ack = await lifecycle.start();
      } else {
        try {
          ack = await lifecycle.start();
        } catch (err) {
          // The directory's probe of our own endpoint failed: serve through a relay.
          if (!(relay && err instanceof IicpProtocolError && err.code === 'liveness_failed'))
            throw err;
          print(
            `the directory cannot reach ${endpoint} (liveness_failed): binding to a relay (--relay auto)`,
          );
          await relay.connect();
          ack = await lifecycle.start();
        }
      }
      relayRegistered = true;
      const via = relayClient?.route ? ` via relay ${relay!.session?.relayUrl} (turn_relay)` : '';
      registered = `registered with ${config.directoryUrl} as ${ack.node_id}${via}`;
    } catch (err) {
      await stopRelay();
      await app.close();
      await http.close();
      await mcp?.close();
      await lifecycle.stop({ deregister: false });
      throw new Error(`registration with ${config.directoryUrl} failed: ${(err as Error).message}`);
    }
  } else if (relay) {
    try {
      const s = await relay.connect();
      registered = `not registered (no --directory-url), reachable via relay at ${s.endpoint}`;
    } catch (err) {
      await stopRelay();
      await app.close();
      await http.close();
      await mcp?.close();
      throw new Error(`relay ${relayMode} failed: ${(err as Error).message}`);
    }
  }

  const shutdown = installGracefulShutdown(app, {
    timeoutMs: 310_000, // the longest task budget (300 s) plus a margin
    ...opts.signals,
    onClosed: async () => {
      // Calls served through the relay finish and post their results before the
      // session is released and the registration withdrawn.
      await stopRelay();
      await lifecycle?.stop();
      await http.close();
      await mcp?.close();
    },
  });
  const short = intents.map((i) => i.replace('urn:iicp:intent:', '')).join(', ');
  const startupLine = `iicp-node listening on ${url}, serving ${short} from ${backend ? `${type} at ${baseUrl} (${state.models.length} models)` : ''}${backend && mcp ? ' and ' : ''}${mcp ? `MCP server ${mcp.serverName} (${mcp.advertisedTools.length} tools)` : ''}, IICP-CX key ${cx.keys.current.keyId}${cx.created ? ' (new)' : ''}${config.requireEncryption ? ' (encrypted tasks only)' : ''}, ${registered}`;
  print(startupLine);
  return { app, url, state, lifecycle, relay, shutdown, startupLine };
}
