/**
 * `GET /events` (iicp-federated-directory.md §5.2): the published chain, public and
 * rate-limited per IP (spec/decisions.md D-040). `GET /snapshot` (§5.5): node state
 * plus the chain head from one consistent read, for a replica bearer (D-041).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { EventsQuerySchema, IicpProtocolError, parseWire, type EventsResponse } from '@iicp/wire';
import type { FastifyInstance, FastifyReply, FastifyRequest } from '@iicp/http';
import { bearerToken, clientIp, isLive, type DirectoryContext } from '../context.ts';
import { reputationTier } from '../views.ts';
import { PUBLISHED_CHAIN } from '../storage/event-log.ts';
import { enforceLimit } from './trust-common.ts';

/** §5.2: default page 100, hard cap 1000. */
export const EVENTS_DEFAULT_LIMIT = 100;
export const EVENTS_MAX_LIMIT = 1000;
/** Per-IP budget of the public tail (D-040): a replica polls every 30 s. */
export const EVENTS_RATE_LIMIT = 120;
/** "5 snapshot requests per replica per hour" (§5.5). */
export const SNAPSHOT_RATE_LIMIT = 5;
export const SNAPSHOT_SCHEMA_VERSION = 'v0.3.0';

async function events(
  ctx: DirectoryContext,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<EventsResponse> {
  await enforceLimit(
    ctx,
    reply,
    `events:${clientIp(ctx, req)}`,
    EVENTS_RATE_LIMIT,
    60_000,
    'event log requests',
  );
  const q = parseWire(EventsQuerySchema, req.query);
  const limit = Math.min(q.limit ?? EVENTS_DEFAULT_LIMIT, EVENTS_MAX_LIMIT);
  const types = q.event_types?.split(',');
  const since = q.since_seq ?? 0;
  const [page, state] = await Promise.all([
    ctx.events.page(PUBLISHED_CHAIN, since, limit, types),
    ctx.events.state(PUBLISHED_CHAIN),
  ]);
  return {
    events: page.events,
    next_seq: page.nextSeq,
    genesis_hash: state.genesisHash,
    // This directory is the seed: it serves its own chain, so it never lags.
    replica_lag_ms: 0,
  };
}

function sha256Hex(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** The replica bearer, checked in constant time against the configured hashes. */
function requireReplica(ctx: DirectoryContext, req: FastifyRequest): string {
  const token = bearerToken(req);
  if (token) {
    const got = sha256Hex(token);
    for (const h of ctx.config.replicaTokenHashes) {
      if (timingSafeEqual(got, Buffer.from(h, 'hex'))) return h.slice(0, 16);
    }
  }
  throw new IicpProtocolError('unauthorized', 'missing or invalid replica token');
}

async function snapshot(
  ctx: DirectoryContext,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<Record<string, unknown>> {
  const who = requireReplica(ctx, req);
  await enforceLimit(ctx, reply, `snapshot:${who}`, SNAPSHOT_RATE_LIMIT, 3600_000, 'snapshots');
  const now = ctx.now();
  // One read transaction: the rows and the head belong to the same instant (§5.5).
  let tx = ctx.store.db.transaction();
  if (ctx.events.kind === 'postgres') tx = tx.setIsolationLevel('repeatable read');
  const { rows, state } = await tx.execute(async (trx) => {
    const state = await ctx.events.state(PUBLISHED_CHAIN, trx);
    const rows = await trx
      .selectFrom('nodes')
      .selectAll()
      .where('status', '!=', 'deregistered')
      .orderBy('node_id')
      .execute();
    return { rows, state };
  });
  const nodes: Record<string, unknown>[] = [];
  const capabilities: Record<string, unknown>[] = [];
  for (const r of rows) {
    let record: Record<string, unknown> = {};
    try {
      record = JSON.parse(r.record) as Record<string, unknown>;
    } catch {
      // Unreadable records are served without their optional blocks.
    }
    const lastSeen = Number(r.last_seen);
    const reputation = Number(r.reputation);
    const live = isLive({ status: r.status, lastSeen } as Parameters<typeof isLive>[0], now);
    nodes.push({
      node_id: r.node_id,
      endpoint: r.endpoint,
      region: r.region,
      status: live ? 'active' : 'dormant',
      load: Number(r.load),
      active_jobs: Number(r.active_jobs),
      available: live && Number(r.available) === 1,
      last_seen: new Date(lastSeen).toISOString(),
      reputation_score: reputation,
      reputation_tier: reputationTier(reputation, Number(r.registered_at), now),
      // Balances belong to the credits extension; not part of this snapshot.
      credit_balance: null,
      cip_policy: record['cip_policy'] ?? null,
      pricing: record['pricing'] ?? null,
    });
    const caps = Array.isArray(record['capabilities'])
      ? (record['capabilities'] as Record<string, unknown>[])
      : [];
    for (const c of caps) {
      capabilities.push({
        node_id: r.node_id,
        intent: c['intent'],
        models: c['models'] ?? [],
        max_tokens: c['max_tokens'] ?? null,
      });
    }
  }
  void reply.header('cache-control', 'no-store');
  return {
    schema_version: SNAPSHOT_SCHEMA_VERSION,
    snapshot_seq: state.head?.seq ?? 0,
    snapshot_ts_ms: now,
    genesis_hash: state.genesisHash,
    chain_head: state.head,
    signer_did: ctx.did,
    nodes,
    capabilities,
  };
}

export function eventRoutes(app: FastifyInstance, ctx: DirectoryContext): void {
  app.get('/events', (req, reply) => events(ctx, req, reply));
  // Bearer first, before the query is looked at (same rule as node tokens).
  app.get('/snapshot', (req, reply) => snapshot(ctx, req, reply));
}
