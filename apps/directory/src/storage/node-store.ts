/**
 * The repository the routes use. Every statement is built with Kysely (parameters,
 * never string concatenation), and every state change that must hold across several
 * directory instances on one PostgreSQL is a single atomic statement: rate-limit
 * counting, token rotation (compare-and-swap on the token version), metrics-batch
 * idempotency. Nothing here formats SQL into an error message that could reach HTTP.
 */
import { sql, type Kysely, type Selectable } from 'kysely';
import {
  deregisterPayload,
  evictPayload,
  keysChanged,
  reactivatePayload,
  registerPayload,
} from './event-payloads.ts';
import { LOCAL_CHAIN, PUBLISHED_CHAIN, type EventLog } from './event-log.ts';
import { migrateToLatest, pingDatabase, type MigrationReport } from './migrations.ts';
import type { DirectoryDatabase, NodeStatus, NodesTable } from './schema.ts';

/** A stored node, as the routes see it. */
export interface StoredNode {
  readonly nodeId: string;
  readonly tokenHash: string;
  readonly tokenLookup: string;
  readonly tokenVersion: number;
  readonly endpoint: string;
  readonly region: string;
  /** The accepted REGISTER body (no secrets). */
  readonly record: Record<string, unknown>;
  readonly load: number;
  readonly activeJobs: number;
  readonly available: boolean;
  readonly lastSeen: number;
  readonly dormantSince: number | null;
  readonly reputation: number;
  readonly completedTasksCount: number;
  readonly lastMetricsBatchId: string | null;
  readonly observedIp: string | null;
  readonly status: NodeStatus;
  readonly livenessRttMs: number | null;
  readonly registeredAt: number;
  readonly updatedAt: number;
  /** Verified operator delegation's public handle (0003_accounting); null when unbound. */
  readonly operatorFingerprint?: string | null;
  /** Active probing confirmed the route dead (0003_accounting): not dispatchable. */
  readonly routeDead?: boolean;
  /** Proxy-observed latency EMA (0003_accounting), null until a telemetry quorum. */
  readonly observedLatencyMs?: number | null;
}

export interface NewNode {
  readonly nodeId: string;
  readonly tokenHash: string;
  readonly tokenLookup: string;
  readonly endpoint: string;
  readonly region: string;
  readonly record: Record<string, unknown>;
  readonly observedIp: string | null;
  readonly livenessRttMs: number | null;
  readonly now: number;
}

export interface RefreshNode extends NewNode {
  /** The token version read before the checks; the update applies only if unchanged. */
  readonly expectedTokenVersion: number;
  /**
   * The record read with that version (what the compare-and-swap replaces): a change of
   * a node key in it makes the REGISTER event a `key_change`.
   */
  readonly previousRecord?: Readonly<Record<string, unknown>>;
}

export interface HeartbeatWrite {
  readonly load: number;
  readonly activeJobs: number;
  readonly available: boolean;
  readonly observedIp: string | null;
  readonly now: number;
}

export interface RateLimitResult {
  readonly allowed: boolean;
  readonly hits: number;
  /** Whole seconds until the window resets (at least 1). */
  readonly retryAfterS: number;
}

export interface AddressRecord {
  readonly ip: string;
  readonly event: string;
  readonly firstSeen: number;
  readonly lastSeen: number;
  readonly seenCount: number;
}

function toStored(r: Selectable<NodesTable>): StoredNode {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(r.record) as Record<string, unknown>;
  } catch {
    record = {};
  }
  return {
    nodeId: r.node_id,
    tokenHash: r.token_hash,
    tokenLookup: r.token_lookup,
    tokenVersion: Number(r.token_version),
    endpoint: r.endpoint,
    region: r.region,
    record,
    load: Number(r.load),
    activeJobs: Number(r.active_jobs),
    available: Number(r.available) === 1,
    lastSeen: Number(r.last_seen),
    dormantSince: r.dormant_since === null ? null : Number(r.dormant_since),
    reputation: Number(r.reputation),
    completedTasksCount: Number(r.completed_tasks_count),
    lastMetricsBatchId: r.last_metrics_batch_id,
    observedIp: r.observed_ip,
    status: r.status,
    livenessRttMs: r.liveness_rtt_ms === null ? null : Number(r.liveness_rtt_ms),
    registeredAt: Number(r.registered_at),
    updatedAt: Number(r.updated_at),
    operatorFingerprint: r.operator_fingerprint ?? null,
    routeDead: Number(r.route_dead ?? 0) === 1,
    observedLatencyMs: r.observed_latency_ms == null ? null : Number(r.observed_latency_ms),
  };
}

export class NodeStore {
  /**
   * With an event log, every registration, refresh, deregistration, eviction and
   * reactivation appends its signed event in the same transaction as the change
   * (issue 6). Without one (storage tests, `migrate`) nothing is logged.
   */
  constructor(
    readonly db: Kysely<DirectoryDatabase>,
    readonly events?: EventLog,
  ) {}

  /** Run `fn` in a transaction when events are logged, else directly. */
  #write<T>(fn: (db: Kysely<DirectoryDatabase>) => Promise<T>): Promise<T> {
    return this.events ? this.db.transaction().execute(fn) : fn(this.db);
  }

  migrate(): Promise<MigrationReport> {
    return migrateToLatest(this.db as unknown as Kysely<unknown>);
  }

  ping(): Promise<void> {
    return pingDatabase(this.db as unknown as Kysely<unknown>);
  }

  /** A node by id, or undefined. Deregistered rows are reported as absent. */
  async get(nodeId: string): Promise<StoredNode | undefined> {
    const r = await this.db
      .selectFrom('nodes')
      .selectAll()
      .where('node_id', '=', nodeId)
      .where('status', '!=', 'deregistered')
      .executeTakeFirst();
    return r ? toStored(r) : undefined;
  }

  /** Nodes whose token lookup key matches (normally one; bcrypt decides). */
  async findByTokenLookup(lookup: string): Promise<StoredNode[]> {
    const rows = await this.db
      .selectFrom('nodes')
      .selectAll()
      .where('token_lookup', '=', lookup)
      .where('status', '!=', 'deregistered')
      .limit(8)
      .execute();
    return rows.map(toStored);
  }

  /**
   * Insert a fresh registration. Also takes over a deregistered row with the same id.
   * Returns false when a live node already holds the id (a concurrent register won).
   */
  async insert(n: NewNode): Promise<boolean> {
    return this.#write(async (db) => {
      const ok = await this.#insert(db, n);
      if (ok && this.events) {
        await this.events.append(db, {
          chain: PUBLISHED_CHAIN,
          eventType: 'REGISTER',
          nodeId: n.nodeId,
          payload: registerPayload(n, 'new'),
          tsMs: n.now,
        });
      }
      return ok;
    });
  }

  async #insert(db: Kysely<DirectoryDatabase>, n: NewNode): Promise<boolean> {
    const values = {
      node_id: n.nodeId,
      token_hash: n.tokenHash,
      token_lookup: n.tokenLookup,
      token_version: 1,
      endpoint: n.endpoint,
      region: n.region,
      record: JSON.stringify(n.record),
      load: 0,
      active_jobs: 0,
      available: 1,
      last_seen: n.now,
      dormant_since: null,
      reputation: 0.5,
      completed_tasks_count: 0,
      last_metrics_batch_id: null,
      observed_ip: n.observedIp,
      status: 'active' as const,
      liveness_rtt_ms: n.livenessRttMs,
      registered_at: n.now,
      updated_at: n.now,
    };
    const res = await db
      .insertInto('nodes')
      .values(values)
      .onConflict((oc) =>
        oc
          .column('node_id')
          .doUpdateSet({
            token_hash: n.tokenHash,
            token_lookup: n.tokenLookup,
            token_version: sql<number>`nodes.token_version + 1`,
            endpoint: n.endpoint,
            region: n.region,
            record: values.record,
            load: 0,
            active_jobs: 0,
            available: 1,
            last_seen: n.now,
            dormant_since: null,
            reputation: 0.5,
            completed_tasks_count: 0,
            last_metrics_batch_id: null,
            observed_ip: n.observedIp,
            status: 'active',
            liveness_rtt_ms: n.livenessRttMs,
            registered_at: n.now,
            updated_at: n.now,
          })
          .where('nodes.status', '=', 'deregistered'),
      )
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  /**
   * Refresh an existing registration and rotate its token in one compare-and-swap:
   * it applies only if the token version is still the one the caller checked, so of
   * two concurrent refreshes (on any instances) exactly one wins and the other's
   * freshly issued token never becomes valid. Reputation and counters are kept.
   */
  async refresh(n: RefreshNode): Promise<boolean> {
    return this.#write(async (db) => {
      const ok = await this.#refresh(db, n);
      if (ok && this.events) {
        const kind = keysChanged(n.previousRecord ?? {}, n.record) ? 'key_change' : 'refresh';
        await this.events.append(db, {
          chain: PUBLISHED_CHAIN,
          eventType: 'REGISTER',
          nodeId: n.nodeId,
          payload: registerPayload(n, kind),
          tsMs: n.now,
        });
      }
      return ok;
    });
  }

  async #refresh(db: Kysely<DirectoryDatabase>, n: RefreshNode): Promise<boolean> {
    const res = await db
      .updateTable('nodes')
      .set({
        token_hash: n.tokenHash,
        token_lookup: n.tokenLookup,
        token_version: n.expectedTokenVersion + 1,
        endpoint: n.endpoint,
        region: n.region,
        record: JSON.stringify(n.record),
        last_seen: n.now,
        dormant_since: null,
        available: 1,
        status: 'active',
        observed_ip: n.observedIp,
        liveness_rtt_ms: n.livenessRttMs,
        updated_at: n.now,
      })
      .where('node_id', '=', n.nodeId)
      .where('token_version', '=', n.expectedTokenVersion)
      .where('status', '!=', 'deregistered')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  /** Apply a heartbeat; a dormant node becomes active again. False if the node is gone. */
  async heartbeat(nodeId: string, hb: HeartbeatWrite): Promise<boolean> {
    const set = {
      load: hb.load,
      active_jobs: hb.activeJobs,
      available: hb.available ? 1 : 0,
      last_seen: hb.now,
      dormant_since: null,
      status: 'active' as const,
      observed_ip: hb.observedIp,
      updated_at: hb.now,
    };
    const events = this.events;
    if (!events) {
      const res = await this.db
        .updateTable('nodes')
        .set(set)
        .where('node_id', '=', nodeId)
        .where('status', '!=', 'deregistered')
        .executeTakeFirst();
      return Number(res.numUpdatedRows) === 1;
    }
    // Hot path: an active node is one statement, no transaction, no event.
    const res = await this.db
      .updateTable('nodes')
      .set(set)
      .where('node_id', '=', nodeId)
      .where('status', '=', 'active')
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 1) return true;
    // A dormant node comes back: REACTIVATE on the local chain, atomically (D-038).
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .updateTable('nodes')
        .set(set)
        .where('node_id', '=', nodeId)
        .where('status', '=', 'dormant')
        .returning(['dormant_since', 'updated_at'])
        .executeTakeFirst();
      if (!row) return false;
      const since = Number(row.dormant_since ?? hb.now);
      const reg = (await events.registerSeqs(trx, [nodeId])).get(nodeId) ?? null;
      await events.append(trx, {
        chain: LOCAL_CHAIN,
        eventType: 'REACTIVATE',
        nodeId,
        payload: reactivatePayload(nodeId, since, hb.now, reg),
        tsMs: hb.now,
      });
      return true;
    });
  }

  /**
   * Apply a metrics batch at most once (iicp-dir.md §3.2): the counter moves only if
   * the batch id differs from the last one applied, in the same statement that
   * records it. Returns whether this call applied it (false = duplicate).
   */
  async applyMetricsBatch(
    nodeId: string,
    batchId: string,
    completedDelta: number,
    now: number,
  ): Promise<boolean> {
    const res = await this.db
      .updateTable('nodes')
      .set({
        last_metrics_batch_id: batchId,
        completed_tasks_count: sql<number>`completed_tasks_count + ${Math.max(0, Math.floor(completedDelta))}`,
        updated_at: now,
      })
      .where('node_id', '=', nodeId)
      .where((eb) =>
        eb.or([
          eb('last_metrics_batch_id', 'is', null),
          eb('last_metrics_batch_id', '!=', batchId),
        ]),
      )
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  /**
   * Deregister: the row is kept as a tombstone (status `deregistered`, token unusable)
   * so other instances see the removal through `updated_at`; it is pruned later.
   */
  async deregister(nodeId: string, expectedTokenVersion: number, now: number): Promise<boolean> {
    return this.#write(async (db) => {
      const row = await db
        .updateTable('nodes')
        .set({
          status: 'deregistered',
          available: 0,
          token_hash: '!',
          token_lookup: '!',
          token_version: expectedTokenVersion + 1,
          updated_at: now,
        })
        .where('node_id', '=', nodeId)
        .where('token_version', '=', expectedTokenVersion)
        .where('status', '!=', 'deregistered')
        .returning(['endpoint', 'region'])
        .executeTakeFirst();
      if (!row) return false;
      await this.events?.append(db, {
        chain: PUBLISHED_CHAIN,
        eventType: 'DEREGISTER',
        nodeId,
        payload: deregisterPayload(nodeId, row.endpoint, row.region, 'explicit'),
        tsMs: now,
      });
      return true;
    });
  }

  /** Mark active nodes not seen since `cutoff` dormant. Returns their ids. */
  async markDormant(cutoff: number, now: number): Promise<string[]> {
    return this.#write(async (db) => {
      const rows = await db
        .updateTable('nodes')
        .set({ status: 'dormant', available: 0, dormant_since: now, updated_at: now })
        .where('status', '=', 'active')
        .where('last_seen', '<', cutoff)
        .returning(['node_id', 'last_seen'])
        .execute();
      const events = this.events;
      if (events && rows.length > 0) {
        // EVICT goes on the local chain (D-038), linked to each node's latest REGISTER.
        const regs = await events.registerSeqs(
          db,
          rows.map((r) => r.node_id),
        );
        await events.appendMany(
          db,
          rows.map((r) => ({
            chain: LOCAL_CHAIN,
            eventType: 'EVICT',
            nodeId: r.node_id,
            payload: evictPayload(r.node_id, Number(r.last_seen), now, regs.get(r.node_id) ?? null),
            tsMs: now,
          })),
        );
      }
      return rows.map((r) => r.node_id);
    });
  }

  /**
   * Retention: delete dormant nodes dormant since before `dormantBefore`, tombstones
   * older than `tombstoneBefore`, address history older than `historyBefore`, and
   * expired rate-limit windows. Returns the number of nodes deleted.
   */
  async prune(opts: {
    dormantBefore: number;
    tombstoneBefore: number;
    historyBefore: number;
    rateLimitBefore: number;
    /** Event time of the DEREGISTER{expired} events (default: the wall clock). */
    now?: number;
  }): Promise<number> {
    // Expired dormant records leave with DEREGISTER{reason:"expired"} (D-045), atomically.
    const expired = await this.#write(async (db) => {
      const rows = await db
        .deleteFrom('nodes')
        .where('status', '=', 'dormant')
        .where('dormant_since', '<', opts.dormantBefore)
        .returning(['node_id', 'endpoint', 'region'])
        .execute();
      if (this.events && rows.length > 0) {
        await this.events.appendMany(
          db,
          rows.map((r) => ({
            chain: PUBLISHED_CHAIN,
            eventType: 'DEREGISTER',
            nodeId: r.node_id,
            payload: deregisterPayload(r.node_id, r.endpoint, r.region, 'expired'),
            tsMs: opts.now ?? Date.now(),
          })),
        );
      }
      return rows.length;
    });
    const b = await this.db
      .deleteFrom('nodes')
      .where('status', '=', 'deregistered')
      .where('updated_at', '<', opts.tombstoneBefore)
      .executeTakeFirst();
    await this.db
      .deleteFrom('address_history')
      .where('last_seen', '<', opts.historyBefore)
      .execute();
    await this.db
      .deleteFrom('rate_limits')
      .where('window_start', '<', opts.rateLimitBefore)
      .execute();
    return expired + Number(b.numDeletedRows);
  }

  /** Record an observed source IP (iicp-core.md §11 DIR-ADDR-06). */
  async recordAddress(
    nodeId: string,
    ip: string,
    event: 'register' | 'heartbeat',
    now: number,
  ): Promise<void> {
    await this.db
      .insertInto('address_history')
      .values({ node_id: nodeId, ip, event, first_seen: now, last_seen: now, seen_count: 1 })
      .onConflict((oc) =>
        oc.columns(['node_id', 'ip', 'event']).doUpdateSet({
          last_seen: now,
          seen_count: sql<number>`address_history.seen_count + 1`,
        }),
      )
      .execute();
  }

  /** A node's own address history, newest first. Only ever shown to that node. */
  async addressHistory(nodeId: string): Promise<AddressRecord[]> {
    const rows = await this.db
      .selectFrom('address_history')
      .selectAll()
      .where('node_id', '=', nodeId)
      .orderBy('last_seen', 'desc')
      .execute();
    return rows.map((r) => ({
      ip: r.ip,
      event: r.event,
      firstSeen: Number(r.first_seen),
      lastSeen: Number(r.last_seen),
      seenCount: Number(r.seen_count),
    }));
  }

  /**
   * Count one hit against a fixed window, atomically in the database: one upsert that
   * either starts a new window or increments the current one and returns the count,
   * so every instance sharing the database shares the limit.
   */
  async hitRateLimit(
    bucket: string,
    limit: number,
    windowMs: number,
    now: number,
  ): Promise<RateLimitResult> {
    // A rolling window (spec/decisions.md D-012), estimated from two fixed windows: the
    // current count plus the previous window's count weighted by how much of it still
    // lies inside the last `windowMs`. The increment is one atomic statement, so
    // instances sharing a database share the count.
    const windowStart = Math.floor(now / windowMs) * windowMs;
    const row = await this.db
      .insertInto('rate_limits')
      .values({ bucket: `${bucket}@${windowStart}`, window_start: windowStart, hits: 1 })
      .onConflict((oc) =>
        oc.column('bucket').doUpdateSet({ hits: sql<number>`rate_limits.hits + 1` }),
      )
      .returning(['hits'])
      .executeTakeFirstOrThrow();
    const prev = await this.db
      .selectFrom('rate_limits')
      .select('hits')
      .where('bucket', '=', `${bucket}@${windowStart - windowMs}`)
      .executeTakeFirst();
    const hits = Number(row.hits);
    const prevHits = prev ? Number(prev.hits) : 0;
    const elapsed = now - windowStart;
    const estimate = hits + prevHits * (1 - elapsed / windowMs);
    const allowed = estimate <= limit;
    // When the estimate falls back to the limit: the previous window's share shrinks
    // linearly; if the current window alone is over, only its end helps.
    let waitMs = windowMs - elapsed;
    if (!allowed && hits <= limit && prevHits > 0) {
      waitMs = Math.min(waitMs, windowMs * (1 - (limit - hits) / prevHits) - elapsed);
    }
    return { allowed, hits, retryAfterS: Math.max(1, Math.ceil(waitMs / 1000)) };
  }

  /**
   * A database that predates the event log gets, once, a REGISTER{kind:"import"} per
   * known node (and an EVICT for each dormant one), so the log covers the whole state
   * from genesis. A no-op once the published chain holds any event. Returns the count.
   */
  async backfillEvents(now: number): Promise<number> {
    const events = this.events;
    if (!events) return 0;
    return this.db.transaction().execute(async (trx) => {
      if ((await events.lockHead(trx, PUBLISHED_CHAIN)) !== null) return 0;
      const rows = await trx
        .selectFrom('nodes')
        .selectAll()
        .where('status', '!=', 'deregistered')
        .orderBy('registered_at')
        .orderBy('node_id')
        .execute();
      if (rows.length === 0) return 0;
      const nodes = rows.map(toStored);
      const logged = await events.appendMany(
        trx,
        nodes.map((n) => ({
          chain: PUBLISHED_CHAIN,
          eventType: 'REGISTER',
          nodeId: n.nodeId,
          payload: registerPayload(n, 'import'),
          tsMs: now,
        })),
      );
      const dormant = nodes
        .map((n, i) => ({ n, seq: logged[i]!.seq }))
        .filter(({ n }) => n.status === 'dormant');
      await events.appendMany(
        trx,
        dormant.map(({ n, seq }) => ({
          chain: LOCAL_CHAIN,
          eventType: 'EVICT',
          nodeId: n.nodeId,
          payload: evictPayload(n.nodeId, n.lastSeen, n.dormantSince ?? now, seq),
          tsMs: now,
        })),
      );
      return nodes.length;
    });
  }

  /** Nodes changed at or after `since` (tombstones included), for index refresh. */
  async changedSince(since: number): Promise<StoredNode[]> {
    const rows = await this.db
      .selectFrom('nodes')
      .selectAll()
      .where('updated_at', '>=', since)
      .execute();
    return rows.map(toStored);
  }

  /** Every non-deregistered node (index warm-up on start). */
  async listCurrent(): Promise<StoredNode[]> {
    const rows = await this.db
      .selectFrom('nodes')
      .selectAll()
      .where('status', '!=', 'deregistered')
      .execute();
    return rows.map(toStored);
  }

  /** Totals by status (cheap; for /stats and readiness). */
  async countByStatus(): Promise<Record<NodeStatus, number>> {
    const rows = await this.db
      .selectFrom('nodes')
      .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('status')
      .execute();
    const out: Record<NodeStatus, number> = { active: 0, dormant: 0, deregistered: 0 };
    for (const r of rows) out[r.status] = Number(r.n);
    return out;
  }
}
