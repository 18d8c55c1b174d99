/**
 * The repository the routes use. Every statement is built with Kysely (parameters,
 * never string concatenation), and every state change that must hold across several
 * directory instances on one PostgreSQL is a single atomic statement: rate-limit
 * counting, token rotation (compare-and-swap on the token version), metrics-batch
 * idempotency. Nothing here formats SQL into an error message that could reach HTTP.
 */
import { PostgresAdapter, sql, type Kysely, type Selectable } from 'kysely';
import {
  deregisterPayload,
  evictPayload,
  keysChanged,
  reactivatePayload,
  registerPayload,
} from './event-payloads.ts';
import { LOCAL_CHAIN, PUBLISHED_CHAIN, type EventLog } from './event-log.ts';
import { compactRecord, intern } from './intern.ts';
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
  // Repeated strings shared across the nodes held in memory (see intern.ts).
  const region = intern(r.region);
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
    region,
    record: compactRecord(record, { nodeId: r.node_id, endpoint: r.endpoint, region }),
    load: Number(r.load),
    activeJobs: Number(r.active_jobs),
    available: Number(r.available) === 1,
    lastSeen: Number(r.last_seen),
    dormantSince: r.dormant_since === null ? null : Number(r.dormant_since),
    reputation: Number(r.reputation),
    completedTasksCount: Number(r.completed_tasks_count),
    lastMetricsBatchId: r.last_metrics_batch_id,
    observedIp: r.observed_ip,
    status: intern(r.status) as NodeStatus,
    livenessRttMs: r.liveness_rtt_ms === null ? null : Number(r.liveness_rtt_ms),
    registeredAt: Number(r.registered_at),
    updatedAt: Number(r.updated_at),
    operatorFingerprint: r.operator_fingerprint ?? null,
    routeDead: Number(r.route_dead ?? 0) === 1,
    observedLatencyMs: r.observed_latency_ms == null ? null : Number(r.observed_latency_ms),
  };
}

/**
 * The columns of a node that change without a token rotation: heartbeats, sweeps,
 * reputation, telemetry and probing write only these. Everything else (record, endpoint,
 * region, token hash and lookup) changes only with `token_version` (a refresh, a
 * deregistration) or with a new `registered_at` (a fresh insert), so a row whose version
 * and registration time match what an instance holds can be refreshed from these alone,
 * without reading or parsing the record.
 */
const DYNAMIC_COLUMNS = [
  'node_id',
  'token_version',
  'registered_at',
  'status',
  'load',
  'active_jobs',
  'available',
  'last_seen',
  'dormant_since',
  'reputation',
  'completed_tasks_count',
  'last_metrics_batch_id',
  'observed_ip',
  'liveness_rtt_ms',
  'updated_at',
  'operator_fingerprint',
  'route_dead',
  'observed_latency_ms',
] as const;

type DynamicRow = Pick<Selectable<NodesTable>, (typeof DYNAMIC_COLUMNS)[number]>;

/** The part of a {@link StoredNode} that {@link DYNAMIC_COLUMNS} hold (all present). */
export type NodeDynamics = Required<
  Pick<
    StoredNode,
    | 'nodeId'
    | 'tokenVersion'
    | 'registeredAt'
    | 'status'
    | 'load'
    | 'activeJobs'
    | 'available'
    | 'lastSeen'
    | 'dormantSince'
    | 'reputation'
    | 'completedTasksCount'
    | 'lastMetricsBatchId'
    | 'observedIp'
    | 'livenessRttMs'
    | 'updatedAt'
    | 'operatorFingerprint'
    | 'routeDead'
    | 'observedLatencyMs'
  >
>;

function toDynamics(r: DynamicRow): NodeDynamics {
  return {
    nodeId: r.node_id,
    tokenVersion: Number(r.token_version),
    registeredAt: Number(r.registered_at),
    status: intern(r.status) as NodeStatus,
    load: Number(r.load),
    activeJobs: Number(r.active_jobs),
    available: Number(r.available) === 1,
    lastSeen: Number(r.last_seen),
    dormantSince: r.dormant_since === null ? null : Number(r.dormant_since),
    reputation: Number(r.reputation),
    completedTasksCount: Number(r.completed_tasks_count),
    lastMetricsBatchId: r.last_metrics_batch_id,
    observedIp: r.observed_ip,
    livenessRttMs: r.liveness_rtt_ms === null ? null : Number(r.liveness_rtt_ms),
    updatedAt: Number(r.updated_at),
    operatorFingerprint: r.operator_fingerprint ?? null,
    routeDead: Number(r.route_dead ?? 0) === 1,
    observedLatencyMs: r.observed_latency_ms == null ? null : Number(r.observed_latency_ms),
  };
}

/**
 * Whether `d` describes the same registration as `held` (same token version and
 * registration time), so that `held` with `d` applied is the current row.
 */
export function sameRegistration(held: StoredNode, d: NodeDynamics): boolean {
  return held.tokenVersion === d.tokenVersion && held.registeredAt === d.registeredAt;
}

/** `held` with its dynamic fields replaced by `d` (same registration, see above). */
export function withDynamics(held: StoredNode, d: NodeDynamics): StoredNode {
  return { ...held, ...d };
}

/** Whether applying `d` to `held` would change nothing. */
export function dynamicsEqual(held: StoredNode, d: NodeDynamics): boolean {
  return (
    held.updatedAt === d.updatedAt &&
    held.status === d.status &&
    held.load === d.load &&
    held.activeJobs === d.activeJobs &&
    held.available === d.available &&
    held.lastSeen === d.lastSeen &&
    held.dormantSince === d.dormantSince &&
    held.reputation === d.reputation &&
    held.completedTasksCount === d.completedTasksCount &&
    held.lastMetricsBatchId === d.lastMetricsBatchId &&
    held.observedIp === d.observedIp &&
    held.livenessRttMs === d.livenessRttMs &&
    (held.operatorFingerprint ?? null) === d.operatorFingerprint &&
    (held.routeDead ?? false) === d.routeDead &&
    (held.observedLatencyMs ?? null) === d.observedLatencyMs
  );
}

/** One node's heartbeat in a group commit ({@link NodeStore.heartbeatMany}). */
export interface HeartbeatRow extends HeartbeatWrite {
  readonly nodeId: string;
  /** The token version the caller authenticated against: a rotation since makes it miss. */
  readonly tokenVersion: number;
}

/** Outstanding heartbeat challenge of a node with credentials (0003_accounting). */
export interface ChallengeState {
  readonly nodeId: string;
  readonly challenge: string | null;
  /** The sealed node_hmac_key, as stored. */
  readonly sealedHmacKey: string;
}

/** A new challenge for a node, and the one its response proved (null: none proved). */
export interface ChallengeRotation {
  readonly nodeId: string;
  readonly challenge: string;
  readonly provedChallenge: string | null;
  readonly now: number;
}

export interface AddressSighting {
  readonly nodeId: string;
  readonly ip: string;
  readonly event: 'register' | 'heartbeat';
  readonly firstSeen: number;
  readonly lastSeen: number;
  /** How many sightings this row stands for (coalesced heartbeats). */
  readonly count: number;
}

/** An address sighting of a heartbeat authenticated at `tokenVersion`. */
export interface VersionedSighting extends AddressSighting {
  readonly tokenVersion: number;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Rows per multi-row statement: well under SQLite's 32,766 bound parameters. */
const BATCH_ROWS = 1000;
/** Rows per page of {@link NodeStore.listCurrentPages}. */
const WARM_PAGE_ROWS = 2000;

function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
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

  #postgres: boolean | undefined;

  /** The multi-row statements differ by dialect (arrays on PostgreSQL, VALUES on SQLite). */
  #isPostgres(): boolean {
    this.#postgres ??= this.db.getExecutor().adapter instanceof PostgresAdapter;
    return this.#postgres;
  }

  /** Whether this store runs on PostgreSQL. */
  get postgres(): boolean {
    return this.#isPostgres();
  }

  /**
   * PostgreSQL: the common case of a group commit as one statement, so one round trip
   * and atomic on its own: the UPDATE of every active node at its authenticated version,
   * the address-history upsert of the sightings of the rows it updated, and the
   * outstanding challenges of those nodes. Rows it did not update are the caller's
   * (dormant, rotated, gone), as with {@link heartbeatMany}.
   */
  async heartbeatManyPostgres(
    rows: readonly HeartbeatRow[],
    sightings: readonly VersionedSighting[],
  ): Promise<{ written: Map<string, NodeDynamics>; challenges: ChallengeState[] }> {
    const written = new Map<string, NodeDynamics>();
    const challenges: ChallengeState[] = [];
    const returning = sql.join(DYNAMIC_COLUMNS.map((c) => sql.ref(`nodes.${c}`)));
    for (const part of chunks(rows, BATCH_ROWS)) {
      const ids = new Set(part.map((r) => r.nodeId));
      // A fixed row order keeps concurrent instances from locking rows in opposite orders.
      const sp = sightings
        .filter((x) => ids.has(x.nodeId))
        .sort((a, b) => compareText(a.nodeId, b.nodeId) || compareText(a.ip, b.ip));
      const res = await sql<DynamicRow & { c_challenge: string | null; c_hmac_key: string | null }>`
        with v as (
          select * from unnest(${part.map((r) => r.nodeId)}::text[],
            ${part.map((r) => r.tokenVersion)}::integer[],
            ${part.map((r) => r.load)}::double precision[],
            ${part.map((r) => r.activeJobs)}::integer[],
            ${part.map((r) => (r.available ? 1 : 0))}::integer[],
            ${part.map((r) => r.observedIp)}::text[],
            ${part.map((r) => r.now)}::bigint[])
            as v(node_id, token_version, load, active_jobs, available, observed_ip, ts)
        ), u as (
          update nodes set load = v.load, active_jobs = v.active_jobs, available = v.available,
            last_seen = v.ts, dormant_since = null, status = 'active',
            observed_ip = v.observed_ip, updated_at = v.ts
          from v where nodes.node_id = v.node_id and nodes.token_version = v.token_version
            and nodes.status = 'active'
          returning ${returning}
        ), s as (
          select * from unnest(${sp.map((x) => x.nodeId)}::text[],
            ${sp.map((x) => x.tokenVersion)}::integer[],
            ${sp.map((x) => x.ip)}::text[],
            ${sp.map((x) => x.firstSeen)}::bigint[],
            ${sp.map((x) => x.lastSeen)}::bigint[],
            ${sp.map((x) => x.count)}::integer[])
            with ordinality as s(node_id, token_version, ip, first_seen, last_seen, seen_count, k)
        ), a as (
          insert into address_history (node_id, ip, event, first_seen, last_seen, seen_count)
          select s.node_id, s.ip, 'heartbeat', s.first_seen, s.last_seen, s.seen_count
          from s join u on u.node_id = s.node_id and u.token_version = s.token_version
          order by s.k
          on conflict (node_id, ip, event) do update set last_seen = excluded.last_seen,
            seen_count = address_history.seen_count + excluded.seen_count
        )
        select u.*, c.challenge as c_challenge, c.hmac_key as c_hmac_key
        from u left join node_credentials c on c.node_id = u.node_id`.execute(this.db);
      for (const r of res.rows) {
        written.set(r.node_id, toDynamics(r));
        if (r.c_hmac_key !== null) {
          challenges.push({
            nodeId: r.node_id,
            challenge: r.c_challenge,
            sealedHmacKey: r.c_hmac_key,
          });
        }
      }
    }
    return { written, challenges };
  }

  /**
   * Group commit of heartbeats (run inside the caller's transaction): one statement
   * applies every row whose node is active and still at the authenticated token
   * version. Returns the dynamic columns of the rows it updated; a row missing from the
   * result is dormant, rotated, deregistered or gone. `rows` may hold a node at several
   * token versions (at most one matches), never twice at one version.
   */
  async heartbeatMany(
    db: Kysely<DirectoryDatabase>,
    rows: readonly HeartbeatRow[],
  ): Promise<Map<string, NodeDynamics>> {
    const out = new Map<string, NodeDynamics>();
    const returning = sql.join(DYNAMIC_COLUMNS.map((c) => sql.ref(`nodes.${c}`)));
    const set = sql`load = v.load, active_jobs = v.active_jobs, available = v.available,
      last_seen = v.ts, dormant_since = null, status = 'active', observed_ip = v.observed_ip,
      updated_at = v.ts`;
    const where = sql`nodes.node_id = v.node_id and nodes.token_version = v.token_version
      and nodes.status = 'active'`;
    for (const part of chunks(rows, BATCH_ROWS)) {
      const q = this.#isPostgres()
        ? // One parameter per column whatever the batch size: the statement text never changes.
          sql<DynamicRow>`update nodes set ${set}
            from unnest(${part.map((r) => r.nodeId)}::text[],
              ${part.map((r) => r.tokenVersion)}::integer[],
              ${part.map((r) => r.load)}::double precision[],
              ${part.map((r) => r.activeJobs)}::integer[],
              ${part.map((r) => (r.available ? 1 : 0))}::integer[],
              ${part.map((r) => r.observedIp)}::text[],
              ${part.map((r) => r.now)}::bigint[])
              as v(node_id, token_version, load, active_jobs, available, observed_ip, ts)
            where ${where} returning ${returning}`
        : sql<DynamicRow>`with v(node_id, token_version, load, active_jobs, available, observed_ip, ts)
            as (values ${sql.join(
              part.map(
                (r) =>
                  sql`(${r.nodeId}, ${r.tokenVersion}, ${r.load}, ${r.activeJobs}, ${r.available ? 1 : 0}, ${r.observedIp}, ${r.now})`,
              ),
            )})
            update nodes set ${set} from v where ${where} returning ${returning}`;
      const res = await q.execute(db);
      for (const r of res.rows) out.set(r.node_id, toDynamics(r));
    }
    return out;
  }

  /**
   * A dormant node's heartbeat (inside the caller's transaction): back to active with
   * its REACTIVATE event on the local chain (D-038), if still at the authenticated token
   * version. Undefined when the node is not dormant at that version.
   */
  async reactivate(
    db: Kysely<DirectoryDatabase>,
    row: HeartbeatRow,
  ): Promise<NodeDynamics | undefined> {
    const before = await db
      .selectFrom('nodes')
      .select('dormant_since')
      .where('node_id', '=', row.nodeId)
      .where('token_version', '=', row.tokenVersion)
      .where('status', '=', 'dormant')
      .executeTakeFirst();
    if (!before) return undefined;
    const r = await db
      .updateTable('nodes')
      .set({
        load: row.load,
        active_jobs: row.activeJobs,
        available: row.available ? 1 : 0,
        last_seen: row.now,
        dormant_since: null,
        status: 'active',
        observed_ip: row.observedIp,
        updated_at: row.now,
      })
      .where('node_id', '=', row.nodeId)
      .where('token_version', '=', row.tokenVersion)
      .where('status', '=', 'dormant')
      .returning(DYNAMIC_COLUMNS)
      .executeTakeFirst();
    if (!r) return undefined;
    if (this.events) {
      // RETURNING shows the row after the update; the dormancy start is the one read before.
      const since = before.dormant_since === null ? row.now : Number(before.dormant_since);
      const reg = (await this.events.registerSeqs(db, [row.nodeId])).get(row.nodeId) ?? null;
      await this.events.append(db, {
        chain: LOCAL_CHAIN,
        eventType: 'REACTIVATE',
        nodeId: row.nodeId,
        payload: reactivatePayload(row.nodeId, since, row.now, reg),
        tsMs: row.now,
      });
    }
    return toDynamics(r);
  }

  /** Record coalesced address sightings in one upsert per chunk (DIR-ADDR-06). */
  async recordAddresses(
    db: Kysely<DirectoryDatabase>,
    sightings: readonly AddressSighting[],
  ): Promise<void> {
    // A fixed row order keeps concurrent instances from locking rows in opposite orders.
    const sorted = [...sightings].sort(
      (a, b) => compareText(a.nodeId, b.nodeId) || compareText(a.ip, b.ip),
    );
    for (const part of chunks(sorted, BATCH_ROWS)) {
      await db
        .insertInto('address_history')
        .values(
          part.map((a) => ({
            node_id: a.nodeId,
            ip: a.ip,
            event: a.event,
            first_seen: a.firstSeen,
            last_seen: a.lastSeen,
            seen_count: a.count,
          })),
        )
        .onConflict((oc) =>
          oc.columns(['node_id', 'ip', 'event']).doUpdateSet({
            last_seen: (eb) => eb.ref('excluded.last_seen'),
            seen_count: sql<number>`address_history.seen_count + excluded.seen_count`,
          }),
        )
        .execute();
    }
  }

  /** The outstanding heartbeat challenges of those of `nodeIds` that have credentials. */
  async challengeStates(
    db: Kysely<DirectoryDatabase>,
    nodeIds: readonly string[],
  ): Promise<ChallengeState[]> {
    const out: ChallengeState[] = [];
    for (const part of chunks(nodeIds, BATCH_ROWS)) {
      const rows = await db
        .selectFrom('node_credentials')
        .select(['node_id', 'challenge', 'hmac_key'])
        .where('node_id', 'in', part)
        .execute();
      for (const r of rows) {
        out.push({ nodeId: r.node_id, challenge: r.challenge, sealedHmacKey: r.hmac_key });
      }
    }
    return out;
  }

  /**
   * Issue the next challenges (only the latest counts, D-055) and, in the same
   * statement, record verified liveness where the proved challenge is still the
   * outstanding one (the compare-and-swap of `markLivenessVerified`).
   */
  async rotateChallenges(
    db: Kysely<DirectoryDatabase>,
    rotations: readonly ChallengeRotation[],
  ): Promise<void> {
    const set = sql`challenge = v.challenge, challenge_issued_at = v.ts,
      verified_liveness_at = case when v.proved is not null
        and node_credentials.challenge = v.proved then v.ts
        else node_credentials.verified_liveness_at end`;
    for (const part of chunks(rotations, BATCH_ROWS)) {
      const q = this.#isPostgres()
        ? sql`update node_credentials set ${set}
            from unnest(${part.map((r) => r.nodeId)}::text[],
              ${part.map((r) => r.challenge)}::text[],
              ${part.map((r) => r.provedChallenge)}::text[],
              ${part.map((r) => r.now)}::bigint[]) as v(node_id, challenge, proved, ts)
            where node_credentials.node_id = v.node_id`
        : sql`with v(node_id, challenge, proved, ts) as (values ${sql.join(
            part.map((r) => sql`(${r.nodeId}, ${r.challenge}, ${r.provedChallenge}, ${r.now})`),
          )}) update node_credentials set ${set} from v where node_credentials.node_id = v.node_id`;
      await q.execute(db);
    }
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
  async backfillEvents(now: number, pageSize: number = WARM_PAGE_ROWS): Promise<number> {
    const events = this.events;
    if (!events) return 0;
    return this.db.transaction().execute(async (trx) => {
      if ((await events.lockHead(trx, PUBLISHED_CHAIN)) !== null) return 0;
      // Page by (registered_at, node_id), the order the REGISTER events take, so a large
      // database is never held (rows, records and signed events) in memory at once.
      let total = 0;
      let after: { registeredAt: number; nodeId: string } | undefined;
      for (;;) {
        let q = trx
          .selectFrom('nodes')
          .selectAll()
          .where('status', '!=', 'deregistered')
          .orderBy('registered_at')
          .orderBy('node_id')
          .limit(pageSize);
        if (after) {
          const a = after;
          q = q.where((eb) =>
            eb.or([
              eb('registered_at', '>', a.registeredAt),
              eb.and([eb('registered_at', '=', a.registeredAt), eb('node_id', '>', a.nodeId)]),
            ]),
          );
        }
        const rows = await q.execute();
        if (rows.length === 0) break;
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
        total += nodes.length;
        const last = nodes[nodes.length - 1]!;
        after = { registeredAt: last.registeredAt, nodeId: last.nodeId };
        if (rows.length < pageSize) break;
      }
      return total;
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

  /**
   * The dynamic columns of nodes changed at or after `since` (tombstones included): the
   * cheap first half of an index refresh, no record read or parsed.
   */
  async changedDynamicsSince(since: number): Promise<NodeDynamics[]> {
    const rows = await this.db
      .selectFrom('nodes')
      .select(DYNAMIC_COLUMNS)
      .where('updated_at', '>=', since)
      .execute();
    return rows.map(toDynamics);
  }

  /** Full rows of `nodeIds` (deregistered ones included: the caller drops them). */
  async getMany(nodeIds: readonly string[]): Promise<StoredNode[]> {
    const out: StoredNode[] = [];
    for (const part of chunks(nodeIds, BATCH_ROWS)) {
      const rows = await this.db
        .selectFrom('nodes')
        .selectAll()
        .where('node_id', 'in', part)
        .execute();
      for (const r of rows) out.push(toStored(r));
    }
    return out;
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

  /**
   * Every non-deregistered node, a page at a time in node id order (index warm-up on
   * start): with 100,000 nodes one SELECT of them all held every row object and its
   * record text at once, a peak the process's RSS kept long after the rows were garbage.
   */
  async *listCurrentPages(pageSize: number = WARM_PAGE_ROWS): AsyncGenerator<StoredNode[]> {
    let after: string | undefined;
    for (;;) {
      let q = this.db
        .selectFrom('nodes')
        .selectAll()
        .where('status', '!=', 'deregistered')
        .orderBy('node_id')
        .limit(pageSize);
      if (after !== undefined) q = q.where('node_id', '>', after);
      const rows = await q.execute();
      if (rows.length === 0) return;
      after = rows[rows.length - 1]!.node_id;
      yield rows.map(toStored);
      if (rows.length < pageSize) return;
    }
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
