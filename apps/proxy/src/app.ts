import { createClient, type ClientOptions, type IicpClient } from '@iicp/client';
import {
  createIicpServer,
  createUndiciTaskTransport,
  type IicpFastifyInstance,
  type IicpLoggerOptions,
} from '@iicp/http';
import { Gateway } from './gateway.ts';
import { createProxyMetrics } from './metrics.ts';
import { anthropicRoutes } from './routes/anthropic.ts';
import { ollamaRoutes } from './routes/ollama.ts';
import { openAiRoutes } from './routes/openai.ts';
import { statusRoutes } from './routes/status.ts';

export const PROXY_VERSION = '0.0.0';

export interface ProxyAppOptions {
  /**
   * @iicp/client options: directory, routing (region, QoS, profile, timeouts, dispatch,
   * local fallback), credentials; `fetch`, `sleep`, `now`, `random` for tests. Every
   * task goes through the client built from these (routing, retry, breaker, fallback).
   */
  readonly client: ClientOptions;
  /** `false` (default) for no logs, or a pino level and stream. */
  readonly logger?: boolean | IicpLoggerOptions;
  /** Request body cap in bytes (default @iicp/http's 1 MiB). */
  readonly bodyLimit?: number;
  readonly version?: string;
  /** Epoch ms (tests); defaults to the client's `now`, else `Date.now`. */
  readonly now?: () => number;
}

/** What {@link buildApp} gives back besides the Fastify instance. */
export interface ProxyHandle {
  readonly app: IicpFastifyInstance;
  readonly client: IicpClient;
  readonly gateway: Gateway;
}

/**
 * The consumer proxy as an unstarted Fastify instance: OpenAI-, Ollama- and
 * Anthropic-compatible routes (each in its own context, so each answers errors in its
 * own shape), `/status` and `/metrics`. Throws `invalid_config` (from @iicp/client)
 * for bad routing options.
 */
export async function buildProxy(opts: ProxyAppOptions): Promise<ProxyHandle> {
  // CALLs go out on undici's keep-alive pool rather than the global fetch (the proxy →
  // node hop's largest cost in profiles); a caller that injects its own fetch or
  // transport (tests) keeps it.
  const own =
    opts.client.transport === undefined && opts.client.fetch === undefined
      ? createUndiciTaskTransport()
      : undefined;
  const client = createClient(own ? { ...opts.client, transport: own } : opts.client);
  const now = opts.now ?? opts.client.now ?? Date.now;
  const app = await createIicpServer({
    logger: opts.logger ?? false,
    ...(opts.bodyLimit !== undefined ? { bodyLimit: opts.bodyLimit } : {}),
    openapi: { title: 'IICP consumer proxy', version: opts.version ?? PROXY_VERSION },
  });
  if (own) app.addHook('onClose', async () => own.close());
  const registry = app.iicp.metrics?.registry;
  if (!registry) throw new Error('metrics registry missing');
  // Reading any proxy metric first applies the gateway's deferred per-call observations.
  const metrics = createProxyMetrics(registry, () => gateway.flush());
  const gateway: Gateway = new Gateway(client, metrics, now);
  // A stream that began before shutdown sent its headers without `Connection: close`;
  // once it has finished, end its kept-alive socket so that close() is not held until
  // the keep-alive timeout (DESIGN.md: graceful shutdown drains, then exits).
  // A callback hook rather than an async one: no promise per response.
  app.addHook('onResponse', (request, _reply, done) => {
    if (app.iicp.closing) request.raw.socket?.end();
    done();
  });
  const deps = { gateway, now };
  await app.register(openAiRoutes(deps));
  await app.register(ollamaRoutes(deps));
  await app.register(anthropicRoutes(deps));
  await app.register(
    statusRoutes({
      gateway,
      clientOptions: opts.client,
      version: opts.version ?? PROXY_VERSION,
      now,
      startedAt: now(),
    }),
  );
  return { app, client, gateway };
}

/** {@link buildProxy} for callers that only need the Fastify instance (DESIGN.md `buildApp`). */
export async function buildApp(opts: ProxyAppOptions): Promise<IicpFastifyInstance> {
  return (await buildProxy(opts)).app;
}
