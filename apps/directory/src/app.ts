/**
 * `buildApp(opts)`: the directory as an unstarted Fastify instance on @iicp/http.
 * Every route is served under both `/v1` and `/api/v1` without redirects (digest C5);
 * `GET /iicp/health` and `GET /iicp/ready` (database check) sit outside the prefixes.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { NodeTokenCache, DEFAULT_BCRYPT_COST } from '@iicp/crypto';
import {
  createHttpClient,
  createIicpServer,
  createSsrfGuard,
  type IicpFastifyInstance,
} from '@iicp/http';
import { DiscoverIndex } from '@iicp/scoring';
import { IicpProtocolError } from '@iicp/wire';
import type { FastifyInstance } from '@iicp/http';
import {
  DEFAULT_DIRECTORY_PORT,
  DEFAULT_HOST,
  DEFAULT_DORMANT_RETENTION_MS,
  DEFAULT_INDEX_REFRESH_MS,
  DEFAULT_REGISTER_RATE_LIMIT,
  DEFAULT_SWEEP_INTERVAL_MS,
  NODE_TOKEN_CACHE_MAX_ENTRIES,
  NODE_TOKEN_CACHE_TTL_S,
  type DirectoryOptions,
} from './config.ts';
import { NodeMap, type DirectoryContext, type ResolvedConfig } from './context.ts';
import { HeartbeatWriter } from './heartbeat-writer.ts';
import { discoverRoutes } from './routes/discover.ts';
import { heartbeatRoutes } from './routes/heartbeat.ts';
import { infoRoutes } from './routes/info.ts';
import { registerRoutes } from './routes/register.ts';
import { NodeStore } from './storage/node-store.ts';
import { openDatabase } from './storage/open.ts';
import { Upkeep } from './sweeper.ts';
import { resolveAccountingSettings } from './accounting.ts';
import { ActiveProber } from './probing.ts';
import { auditRoutes } from './routes/audit.ts';
import { creditRoutes } from './routes/credits.ts';
import { telemetryRoutes } from './routes/telemetry.ts';
import { SecretVault } from './secret-vault.ts';
import { AccountingStore } from './storage/accounting-store.ts';
import { didWebOf, loadDirectoryIdentity } from './identity.ts';
import { EventLog } from './storage/event-log.ts';
import { identityRoutes, wellKnownRoutes } from './routes/identity.ts';
import { eventRoutes } from './routes/events.ts';
import { tokenRoutes } from './routes/tokens.ts';
import { dispatchTicketRoutes } from './routes/tickets.ts';
import { probeRoutes } from './routes/probe.ts';

export const DIRECTORY_VERSION = '0.0.0';
export const ROUTE_PREFIXES = ['/v1', '/api/v1'] as const;
/** Label whose directory-key signature seals node secrets at rest (secret-vault.ts). */
const SEAL_LABEL = 'iicp-directory:node-secret-seal:v1\n';

declare module 'fastify' {
  interface FastifyInstance {
    directory: DirectoryContext;
    upkeep: Upkeep;
    activeProber: ActiveProber;
  }
}

/** CA list for the probe: explicit CAs plus NODE_EXTRA_CA_CERTS, on top of the system roots. */
function probeCa(opts: DirectoryOptions): (string | Buffer)[] | undefined {
  const extra: (string | Buffer)[] = [];
  if (opts.probeCa !== undefined) {
    extra.push(...(Array.isArray(opts.probeCa) ? opts.probeCa : [opts.probeCa as string | Buffer]));
  }
  if (extra.length === 0) return undefined; // undici then uses node's store incl. NODE_EXTRA_CA_CERTS
  const file = process.env['NODE_EXTRA_CA_CERTS'];
  if (file) {
    try {
      extra.push(readFileSync(file));
    } catch {
      // node itself warns about an unreadable NODE_EXTRA_CA_CERTS at start-up.
    }
  }
  return extra;
}

export async function buildApp(opts: DirectoryOptions = {}): Promise<IicpFastifyInstance> {
  // The key first: a PostgreSQL start without one fails before touching the database.
  const identity = await loadDirectoryIdentity(opts);
  const database = await openDatabase({
    databaseUrl: opts.databaseUrl,
    dataDir: opts.dataDir,
    sqliteFile: opts.sqliteFile,
  });
  const publicUrl =
    opts.publicUrl ?? `http://${opts.host ?? DEFAULT_HOST}:${opts.port ?? DEFAULT_DIRECTORY_PORT}`;
  const did = didWebOf(publicUrl);
  const events = new EventLog(database.db, identity.key, did, database.kind);
  const store = new NodeStore(database.db, events);
  try {
    await store.migrate();
    await store.backfillEvents((opts.now ?? Date.now)());
  } catch (e) {
    await database.close();
    throw e;
  }
  const app = await createIicpServer({
    logger:
      opts.logLevel === undefined || opts.logLevel === 'silent' ? false : { level: opts.logLevel },
    openapi: { title: 'IICP directory', version: DIRECTORY_VERSION },
    trustProxy: false,
  });
  const allowPrivate = opts.allowPrivateEndpoints === true;
  const ca = probeCa(opts);
  const prober = createHttpClient({
    ssrf: { allowPrivate },
    connectTo: { ...(opts.probeConnectTo ?? {}) },
    timeoutMs: 5_000,
    connections: 4,
    ...(ca ? { ca } : {}),
    headers: { 'user-agent': `iicp-directory/${DIRECTORY_VERSION}` },
  });
  const config: ResolvedConfig = {
    publicUrl,
    registerRateLimit: opts.registerRateLimit ?? DEFAULT_REGISTER_RATE_LIMIT,
    allowPrivateEndpoints: allowPrivate,
    probeConnectTo: opts.probeConnectTo ?? {},
    bcryptCost: opts.bcryptCost ?? DEFAULT_BCRYPT_COST,
    trustProxy: opts.trustProxy === true,
    storage: database.description,
    replicaTokenHashes: (opts.replicaTokens ?? []).map((t) =>
      createHash('sha256').update(t, 'utf8').digest('hex'),
    ),
  };
  const view = {
    index: new DiscoverIndex(),
    nodes: new NodeMap(),
    tokens: new NodeTokenCache({
      maxEntries: NODE_TOKEN_CACHE_MAX_ENTRIES,
      ttlSeconds: NODE_TOKEN_CACHE_TTL_S,
    }),
  };
  const accounting = {
    store: new AccountingStore(database.db, events),
    // node_hmac_key is sealed under a secret only the directory key can produce
    // (a deterministic Ed25519 signature over a fixed label), shared by every instance.
    vault: new SecretVault(
      opts.secretSeal ?? identity.key.sign(new TextEncoder().encode(SEAL_LABEL)),
    ),
    settings: resolveAccountingSettings(opts),
  };
  const ctx: DirectoryContext = {
    store,
    ...view,
    prober,
    guard: createSsrfGuard({ allowPrivate }),
    config,
    now: opts.now ?? Date.now,
    version: DIRECTORY_VERSION,
    key: identity.key,
    did,
    events,
    accounting,
    heartbeats: new HeartbeatWriter(store, accounting, view),
  };
  const upkeep = new Upkeep(ctx, opts.dormantRetentionMs ?? DEFAULT_DORMANT_RETENTION_MS);
  await upkeep.warm();
  app.decorate('directory', ctx);
  app.decorate('upkeep', upkeep);
  const activeProber = new ActiveProber(ctx);
  app.decorate('activeProber', activeProber);

  const routes = async (scope: FastifyInstance): Promise<void> => {
    registerRoutes(scope, ctx);
    heartbeatRoutes(scope, ctx);
    discoverRoutes(scope, ctx);
    infoRoutes(scope, ctx);
    identityRoutes(scope, ctx);
    eventRoutes(scope, ctx);
    tokenRoutes(scope, ctx);
    dispatchTicketRoutes(scope, ctx);
    probeRoutes(scope, ctx);
    telemetryRoutes(scope, ctx);
    auditRoutes(scope, ctx);
    creditRoutes(scope, ctx);
  };
  for (const prefix of ROUTE_PREFIXES) await app.register(routes, { prefix });
  wellKnownRoutes(app, ctx);

  app.get('/iicp/health', () => ({
    status: 'ok',
    service: 'iicp-directory',
    version: DIRECTORY_VERSION,
  }));
  app.get('/iicp/ready', async () => {
    try {
      await store.ping();
    } catch {
      throw new IicpProtocolError('service_unavailable', 'database not reachable');
    }
    return { ready: true, storage: database.kind };
  });

  const timers: NodeJS.Timeout[] = [];
  if (opts.timers !== false) {
    const every = (ms: number, fn: () => Promise<unknown>): void => {
      let running = false;
      const t = setInterval(() => {
        if (running) return;
        running = true;
        fn()
          .catch((e: unknown) => app.log.warn({ err: e }, 'directory upkeep failed'))
          .finally(() => (running = false));
      }, ms);
      t.unref();
      timers.push(t);
    };
    every(opts.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS, () => upkeep.sweep());
    every(opts.indexRefreshMs ?? DEFAULT_INDEX_REFRESH_MS, () => upkeep.refresh());
    const probing = ctx.accounting.settings.probing;
    if (probing.enabled) every(probing.tickMs, () => activeProber.tick());
  }
  app.addHook('onClose', async () => {
    for (const t of timers) clearInterval(t);
    await prober.close();
    await database.close();
  });
  return app;
}
