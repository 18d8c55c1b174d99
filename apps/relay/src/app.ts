/**
 * `buildApp(opts)`: the relay as an unstarted Fastify instance (iicp-dir.md §7). The
 * worker transport is HTTP long-poll (§7.1) in the project's wire format (D-044);
 * consumers reach bound workers under `/v1/relay-for/{worker_id}`.
 */
import { fromHexStrict } from '@iicp/crypto';
import { createIicpServer, type IicpFastifyInstance, type IicpLoggerOptions } from '@iicp/http';
import { IicpLocalError } from '@iicp/wire';
import {
  RELAY_HEALTH_DEADLINE_MS,
  RELAY_MAX_REQUEST_BYTES,
  RELAY_MAX_RESPONSE_BYTES,
  RELAY_PULL_MAX_WAIT_MS,
  RELAY_SWEEP_INTERVAL_MS,
  RELAY_TASK_DEADLINE_MS,
} from './constants.ts';
import type { RelayContext, RelaySettings } from './context.ts';
import { DirectoryLink } from './directory-link.ts';
import { RelayHub, type RelayLimits } from './hub.ts';
import { RelayMetrics } from './metrics.ts';
import { consumerRoutes } from './routes/consumer.ts';
import { workerRoutes } from './routes/worker.ts';

export interface RelayAppOptions {
  /** Directory to fetch the key from and register with; none: standalone relay. */
  readonly directoryUrl?: string;
  /**
   * The directory's Ed25519 public key (64 hex or 32 bytes). When absent and
   * `directoryUrl` is set, it is fetched from `{directoryUrl}/api/v1/directory-key`
   * when the app is ready.
   */
  readonly directoryPublicKey?: string | Uint8Array;
  /** When set, bind tickets must carry this `iss`. */
  readonly ticketIssuer?: string;
  /**
   * Refuse binds without a bind ticket (default true, the §7.4 "hard" stage).
   * `false` is for development only: anyone who learns a worker id could bind it.
   */
  readonly requireTicket?: boolean;
  /** URL nodes and consumers use to reach the relay; default the listening address. */
  readonly publicEndpoint?: string;
  /** Region announced to the directory (default `global`). */
  readonly region?: string;
  readonly limits?: Partial<RelayLimits>;
  readonly maxRequestBytes?: number;
  readonly maxResponseBytes?: number;
  readonly taskDeadlineMs?: number;
  readonly healthDeadlineMs?: number;
  readonly pullMaxWaitMs?: number;
  readonly logger?: boolean | IicpLoggerOptions;
  /** Clock in epoch ms (tests). */
  readonly now?: () => number;
  /** Run the periodic sweeper (default true). */
  readonly timers?: boolean;
  readonly sweepIntervalMs?: number;
  /** Directory heartbeat period override and retry delay (tests). */
  readonly heartbeatIntervalMs?: number;
  readonly directoryRetryMs?: number;
}

/** Request serialiser for the relay's logs: method and path only, no source address (§7.3). */
const RELAY_REQ_SERIALIZER = (req: { method?: string; url?: string }) => ({
  method: req.method,
  url: typeof req.url === 'string' ? req.url.split('?', 1)[0] : undefined,
});

function keyBytes(k: string | Uint8Array | undefined): Uint8Array | undefined {
  if (k === undefined) return undefined;
  if (typeof k !== 'string') return k;
  const b = fromHexStrict(k.trim().toLowerCase(), 32);
  if (!b)
    throw new IicpLocalError('invalid_config', 'directoryPublicKey must be 64 hex characters');
  return b;
}

/** The relay app: an IICP server with the relay's state decorated as `app.relay`. */
export type RelayApp = IicpFastifyInstance & { relay: RelayContext };

export async function buildApp(opts: RelayAppOptions = {}): Promise<RelayApp> {
  const settings: RelaySettings = {
    maxRequestBytes: opts.maxRequestBytes ?? RELAY_MAX_REQUEST_BYTES,
    maxResponseBytes: opts.maxResponseBytes ?? RELAY_MAX_RESPONSE_BYTES,
    taskDeadlineMs: opts.taskDeadlineMs ?? RELAY_TASK_DEADLINE_MS,
    healthDeadlineMs: opts.healthDeadlineMs ?? RELAY_HEALTH_DEADLINE_MS,
    pullMaxWaitMs: Math.min(opts.pullMaxWaitMs ?? RELAY_PULL_MAX_WAIT_MS, RELAY_PULL_MAX_WAIT_MS),
    requireTicket: opts.requireTicket ?? true,
  };
  const app = await createIicpServer({
    logger: opts.logger ?? false,
    // Worker results carry base64 bodies; the per-route limits below are the real caps.
    bodyLimit: Math.ceil((settings.maxResponseBytes * 4) / 3) + 64 * 1024,
    metrics: { prefix: '' },
    openapi: { title: 'IICP relay', version: '1.9.0' },
  });
  // "Logs MUST NOT contain raw source addresses" (iicp-dir.md §7.3): every request
  // logger of this app uses a serialiser without the peer address.
  // The serialiser is set once on an intermediate child per parent logger, not on
  // every request's child: a pino child with its own serialisers costs a merge of
  // them per request.
  const withSerializer = new WeakMap<object, typeof app.log>();
  app.setChildLoggerFactory((logger, bindings, childOpts) => {
    let base = withSerializer.get(logger);
    if (!base) {
      base = logger.child({}, { serializers: { req: RELAY_REQ_SERIALIZER } });
      withSerializer.set(logger, base);
    }
    return base.child(bindings, childOpts);
  });

  let staticKey = keyBytes(opts.directoryPublicKey);
  const metrics = new RelayMetrics();
  const now = opts.now ?? Date.now;
  let directory: DirectoryLink | undefined;
  const hub: RelayHub = new RelayHub(
    now,
    {
      required: settings.requireTicket,
      directoryPublicKey: () => staticKey ?? directory?.directoryKey,
      ...(opts.ticketIssuer !== undefined ? { issuer: opts.ticketIssuer } : {}),
    },
    opts.limits ?? {},
    {
      callDone: (_call, outcome) => metrics.call(outcome),
    },
  );
  const maxSessions = hub.limits.maxSessions;
  if (opts.directoryUrl) {
    directory = new DirectoryLink({
      directoryUrl: opts.directoryUrl,
      region: opts.region ?? 'global',
      maxSessions,
      load: () => ({ load: hub.sessionCount / maxSessions, activeJobs: hub.inflightCalls }),
      log: {
        info: (o, m) => app.log.info(o, m),
        warn: (o, m) => app.log.warn(o, m),
      },
      ...(opts.heartbeatIntervalMs !== undefined
        ? { heartbeatIntervalMs: opts.heartbeatIntervalMs }
        : {}),
      ...(opts.directoryRetryMs !== undefined ? { retryMs: opts.directoryRetryMs } : {}),
    });
  }

  let listening: string | undefined;
  const ctx: RelayContext = {
    hub,
    metrics,
    settings,
    directory,
    publicEndpoint: () =>
      (opts.publicEndpoint ?? listening ?? 'http://127.0.0.1').replace(/\/+$/, ''),
  };
  app.decorate('relay', ctx);

  const registry = app.iicp.metrics?.registry;
  if (registry) for (const c of metrics.collectors(hub)) registry.registerMetric(c as never);

  // The relay's own liveness (the directory probes `{endpoint}/iicp/health`, §3.1).
  app.get('/iicp/health', async () => ({
    status: hub.closed ? ('degraded' as const) : ('ok' as const),
    load: hub.sessionCount / maxSessions,
    active_jobs: hub.inflightCalls,
    node_id: directory?.registration?.nodeId ?? null,
    relay: {
      sessions: hub.sessionCount,
      queued_calls: hub.queuedCalls,
      ticket_required: settings.requireTicket,
      directory_key: (staticKey ?? directory?.directoryKey) !== undefined,
    },
  }));

  workerRoutes(app, ctx);
  consumerRoutes(app, ctx);

  let sweeper: NodeJS.Timeout | undefined;
  app.addHook('onReady', async () => {
    if (opts.timers !== false) {
      sweeper = setInterval(() => hub.sweep(), opts.sweepIntervalMs ?? RELAY_SWEEP_INTERVAL_MS);
      sweeper.unref();
    }
    if (directory && !staticKey) await directory.fetchKeyWithRetry();
  });
  app.addHook('onListen', async () => {
    const addr = app.server.address();
    if (addr && typeof addr === 'object') {
      const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      listening = `http://${host}:${addr.port}`;
    }
    directory?.start(ctx.publicEndpoint());
  });
  // Graceful shutdown: release long-polls and fail queued calls before the server
  // waits for in-flight requests, so draining does not wait out a 25 s pull.
  app.addHook('preClose', async () => {
    const n = hub.close();
    if (n > 0) app.log.info({ sessions: n }, 'relay sessions closed for shutdown');
  });
  app.addHook('onClose', async () => {
    clearInterval(sweeper);
    await directory?.stop();
    staticKey = undefined;
  });
  return app as RelayApp;
}
