import type { AddressInfo } from 'node:net';
import type { ClientOptions } from '@iicp/client';
import {
  installGracefulShutdown,
  type GracefulShutdown,
  type IicpFastifyInstance,
} from '@iicp/http';
import { buildProxy } from './app.ts';
import type { ProxyConfig } from './config.ts';

export interface RunningProxy {
  readonly app: IicpFastifyInstance;
  readonly url: string;
  readonly shutdown: GracefulShutdown;
  readonly startupLine: string;
}

export interface StartProxyOptions {
  /** Where the startup line goes (default stderr). */
  readonly print?: (line: string) => void;
  /** Signal source and exit hook for graceful shutdown (tests pass an EventEmitter). */
  readonly shutdown?: Parameters<typeof installGracefulShutdown>[1];
  /** Extra client options (tests: `fetch`, `sleep`). */
  readonly client?: Partial<ClientOptions>;
  /** Log destination (tests); default stdout. */
  readonly logStream?: { write(line: string): void };
}

/** Settings → @iicp/client options. */
export function clientOptionsFrom(c: ProxyConfig): ClientOptions {
  return {
    directoryUrl: c.directoryUrl,
    ...(c.region ? { region: c.region } : {}),
    ...(c.qos ? { qos: c.qos } : {}),
    ...(c.routingProfile ? { routingProfile: c.routingProfile } : {}),
    ...(c.allowedRegions ? { allowedRegions: c.allowedRegions } : {}),
    ...(c.timeoutMs !== undefined ? { timeoutMs: c.timeoutMs } : {}),
    ...(c.attemptGraceMs !== undefined ? { attemptGraceMs: c.attemptGraceMs } : {}),
    ...(c.discoverLimit !== undefined ? { discoverLimit: c.discoverLimit } : {}),
    ...(c.dispatch ? { dispatch: c.dispatch } : {}),
    ...(c.localFallback ? { localFallback: { endpoint: c.localFallback } } : {}),
    ...(c.operatorToken ? { nodeToken: c.operatorToken } : {}),
    ...(c.nodeId && c.nodeToken ? { identity: { nodeId: c.nodeId, nodeToken: c.nodeToken } } : {}),
    ...(c.allowPlaintext ? { allowPlaintext: true } : {}),
  };
}

/**
 * `iicp-proxy serve`: build the app, listen, print one startup line, and drain
 * in-flight answers (streams included) on SIGTERM/SIGINT.
 */
export async function startProxy(
  config: ProxyConfig,
  opts: StartProxyOptions = {},
): Promise<RunningProxy> {
  const print = opts.print ?? ((l: string) => process.stderr.write(`${l}\n`));
  const { app } = await buildProxy({
    client: { ...clientOptionsFrom(config), ...opts.client },
    logger: {
      level: config.logLevel,
      ...(opts.logStream ? { stream: opts.logStream } : {}),
    },
  });
  await app.listen({ host: config.host, port: config.port });
  const addr = app.server.address() as AddressInfo;
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${shown}:${addr.port}`;
  const shutdown = installGracefulShutdown(app, {
    timeoutMs: config.shutdownTimeoutMs,
    ...opts.shutdown,
  });
  const startupLine =
    `iicp-proxy listening on ${url} (OpenAI ${url}/v1, Ollama ${url}/api, Anthropic ${url}/v1/messages; ` +
    `status ${url}/status, metrics ${url}/metrics) routing via ${config.directoryUrl}` +
    `, profile ${config.routingProfile ?? 'standard'}`;
  print(startupLine);
  return { app, url, shutdown, startupLine };
}
