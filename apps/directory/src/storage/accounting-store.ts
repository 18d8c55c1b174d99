/**
 * Storage of the trust-and-accounting half of the directory (migration 0003): node
 * credentials (proxy_token hash, sealed node_hmac_key, the latest heartbeat challenge,
 * the operator key), reputation updates, telemetry and audit records, the credit
 * ledger and probe state. Whatever must hold across instances sharing one PostgreSQL
 * is one conditional statement or one transaction: reputation (compare-and-swap on
 * `rep_version`), the audit limits (conditional upserts), the free grant and the award
 * (nonce insert, capped credit and ledger row commit or roll back together, so a
 * rejected receipt never burns its nonce), probe claims (conditional upsert).
 * Events are appended last inside the same transaction (the event log's lock order).
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import { applyReputationDelta, type ReputationState } from '../reputation.ts';
import type {
  CreditAccountsTable,
  CreditTransactionsTable,
  DirectoryDatabase,
  NodeCredentialsTable,
} from './schema.ts';

type Db = Kysely<DirectoryDatabase>;

/** The slice of the event log this store uses (storage/event-log.ts `EventLog`). */
export interface AccountingEventSink {
  append(
    trx: Db,
    e: {
      readonly chain: 'events' | 'local';
      readonly eventType: string;
      readonly nodeId: string | null;
      readonly payload: Record<string, unknown>;
      readonly tsMs: number;
    },
  ): Promise<unknown>;
}

export type NodeCredentials = Selectable<NodeCredentialsTable>;

export interface CredentialsWrite {
  readonly nodeId: string;
  readonly proxyTokenHash: string;
  readonly sealedHmacKey: string;
  readonly operator: {
    readonly pubkey: string;
    readonly fingerprint: string;
    readonly notAfter: number;
  } | null;
  /** A fresh identity (not a refresh): the reputation window starts over. */
  readonly fresh: boolean;
  readonly firstProbeAt: number;
  readonly now: number;
}

export interface TelemetryRow {
  readonly nodeId: string;
  readonly proxyNodeId: string;
  readonly latencyMs: number;
  readonly tokens: number;
  readonly status: string;
  readonly qosMet: boolean | null;
  readonly eligible: boolean;
  readonly now: number;
}

export type CreditAccount = Selectable<CreditAccountsTable>;
export type CreditTransaction = Selectable<CreditTransactionsTable>;

export interface AwardRequest {
  readonly workerId: string;
  readonly nonce: string;
  readonly nonceKeepUntil: number;
  readonly amount: number;
  readonly hourlyCap: number;
  readonly taskId: string;
  readonly tokensUsed: number;
  readonly parentTaskId: string | null;
  readonly queryingNodeId: string | null;
  readonly now: number;
}

export type AwardOutcome =
  | {
      readonly ok: true;
      readonly balance: number;
      readonly spent: number;
      readonly spendReason: string | null;
      readonly transactionId: string;
    }
  | { readonly ok: false; readonly reason: 'nonce_replayed' | 'hourly_cap' };

export interface ProbeCandidate {
  readonly nodeId: string;
  readonly endpoint: string;
}

export interface ProbeResult {
  readonly nodeId: string;
  readonly endpoint: string;
  readonly ok: boolean;
  readonly latencyMs: number | null;
  readonly now: number;
  readonly demoteAfter: number;
  /** When to probe again after a failure that did not (yet) demote. */
  readonly confirmAt: number;
}

export interface ProbeOutcome {
  readonly consecutiveFailures: number;
  readonly flipped: 'demoted' | 'restored' | null;
}

/** Thrown inside a transaction to roll it back with a known outcome. */
class Rollback<T> extends Error {
  constructor(readonly outcome: T) {
    super('rollback');
  }
}

const HOUR_MS = 3600_000;
const DAY_MS = 24 * HOUR_MS;
/** Evaluation grant (iicp-dir.md §3.10; iicp-cooperative-inference.md §7.1). */
export const FREE_GRANT_CREDITS = 5;
export const FREE_GRANT_PERIOD_MS = 6 * HOUR_MS;

function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}

function changed(res: { numUpdatedRows?: bigint; numInsertedOrUpdatedRows?: bigint }): boolean {
  return Number(res.numUpdatedRows ?? res.numInsertedOrUpdatedRows ?? 0n) > 0;
}

export class AccountingStore {
  constructor(
    readonly db: Db,
    readonly events?: AccountingEventSink,
  ) {}

  // --- credentials -------------------------------------------------------------------

  /**
   * After a successful REGISTER: store the new proxy_token hash and sealed HMAC key,
   * bind (or unbind) the operator, clear a dead-route mark (the new route just passed
   * the liveness probe) and schedule the first active probe.
   */
  async writeCredentials(c: CredentialsWrite): Promise<void> {
    const op = c.operator;
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('node_credentials')
        .values({
          node_id: c.nodeId,
          proxy_token_hash: c.proxyTokenHash,
          hmac_key: c.sealedHmacKey,
          challenge: null,
          challenge_issued_at: null,
          verified_liveness_at: null,
          operator_pubkey: op?.pubkey ?? null,
          operator_not_after: op?.notAfter ?? null,
          updated_at: c.now,
        })
        .onConflict((oc) =>
          oc.column('node_id').doUpdateSet({
            proxy_token_hash: c.proxyTokenHash,
            hmac_key: c.sealedHmacKey,
            challenge: null,
            challenge_issued_at: null,
            operator_pubkey: op?.pubkey ?? null,
            operator_not_after: op?.notAfter ?? null,
            updated_at: c.now,
            ...(c.fresh ? { verified_liveness_at: null } : {}),
          }),
        )
        .execute();
      await trx
        .updateTable('nodes')
        .set({
          operator_fingerprint: op?.fingerprint ?? null,
          route_dead: 0,
          updated_at: c.now,
          ...(c.fresh
            ? { rep_hourly_gain: 0, rep_hourly_window_start: null, observed_latency_ms: null }
            : {}),
        })
        .where('node_id', '=', c.nodeId)
        .execute();
      await trx
        .insertInto('node_probes')
        .values({ node_id: c.nodeId, next_probe_at: c.firstProbeAt, consecutive_failures: 0 })
        .onConflict((oc) =>
          oc
            .column('node_id')
            .doUpdateSet({ next_probe_at: c.firstProbeAt, consecutive_failures: 0 }),
        )
        .execute();
    });
  }

  async credentials(nodeId: string): Promise<NodeCredentials | undefined> {
    return this.db
      .selectFrom('node_credentials')
      .selectAll()
      .where('node_id', '=', nodeId)
      .executeTakeFirst();
  }

  /** The live node a proxy_token hash belongs to. */
  async nodeIdByProxyToken(hash: string): Promise<string | undefined> {
    const r = await this.db
      .selectFrom('node_credentials as c')
      .innerJoin('nodes as n', 'n.node_id', 'c.node_id')
      .select('c.node_id')
      .where('c.proxy_token_hash', '=', hash)
      .where('n.status', '!=', 'deregistered')
      .executeTakeFirst();
    return r?.node_id;
  }

  /** Replace the outstanding challenge (only the latest one counts, D-055). */
  async setChallenge(nodeId: string, challenge: string, now: number): Promise<void> {
    await this.db
      .updateTable('node_credentials')
      .set({ challenge, challenge_issued_at: now })
      .where('node_id', '=', nodeId)
      .execute();
  }

  /** Record verified liveness if `challenge` is still the outstanding one. */
  async markLivenessVerified(nodeId: string, challenge: string, now: number): Promise<boolean> {
    const res = await this.db
      .updateTable('node_credentials')
      .set({ verified_liveness_at: now })
      .where('node_id', '=', nodeId)
      .where('challenge', '=', challenge)
      .executeTakeFirst();
    return changed(res);
  }

  // --- reputation --------------------------------------------------------------------

  /**
   * Apply an outcome-v2 delta under the hourly ceiling. Read, compute, then write only
   * if `rep_version` is unchanged; a concurrent writer (any instance) makes us re-read.
   * Returns the new score, or undefined when the node is gone.
   */
  async applyReputation(
    nodeId: string,
    delta: { positive: number; negative: number },
    now: number,
  ): Promise<number | undefined> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const r = await this.db
        .selectFrom('nodes')
        .select(['reputation', 'rep_hourly_gain', 'rep_hourly_window_start', 'rep_version'])
        .where('node_id', '=', nodeId)
        .where('status', '!=', 'deregistered')
        .executeTakeFirst();
      if (!r) return undefined;
      const before: ReputationState = {
        score: Number(r.reputation),
        hourlyGain: Number(r.rep_hourly_gain),
        windowStart: r.rep_hourly_window_start === null ? null : Number(r.rep_hourly_window_start),
      };
      const next = applyReputationDelta(before, delta, now);
      if (next.score === before.score && next.hourlyGain === before.hourlyGain) {
        return next.score;
      }
      const res = await this.db
        .updateTable('nodes')
        .set({
          reputation: next.score,
          rep_hourly_gain: next.hourlyGain,
          rep_hourly_window_start: next.windowStart,
          rep_version: Number(r.rep_version) + 1,
          updated_at: now,
        })
        .where('node_id', '=', nodeId)
        .where('rep_version', '=', Number(r.rep_version))
        .executeTakeFirst();
      if (changed(res)) return next.score;
    }
    return undefined;
  }

  // --- telemetry ---------------------------------------------------------------------

  async insertTelemetry(t: TelemetryRow): Promise<void> {
    await this.db
      .insertInto('telemetry_reports')
      .values({
        id: randomUUID(),
        node_id: t.nodeId,
        proxy_node_id: t.proxyNodeId,
        latency_ms: t.latencyMs,
        tokens: t.tokens,
        status: t.status,
        qos_met: t.qosMet === null ? null : t.qosMet ? 1 : 0,
        eligible: t.eligible ? 1 : 0,
        created_at: t.now,
      })
      .execute();
  }

  /** Distinct eligible proxies that reported on `nodeId` since `since`. */
  async distinctEligibleProxies(nodeId: string, since: number): Promise<number> {
    const r = await this.db
      .selectFrom('telemetry_reports')
      .select((eb) => eb.fn.count<number>('proxy_node_id').distinct().as('n'))
      .where('node_id', '=', nodeId)
      .where('eligible', '=', 1)
      .where('created_at', '>=', since)
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  /** Reports by one proxy about one node (all time, retention-bounded). */
  async observationsBy(nodeId: string, proxyNodeId: string): Promise<number> {
    const r = await this.db
      .selectFrom('telemetry_reports')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('node_id', '=', nodeId)
      .where('proxy_node_id', '=', proxyNodeId)
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  /** Latencies reported on `nodeId` since `since` (for the outlier median). */
  async latenciesSince(nodeId: string, since: number): Promise<number[]> {
    const rows = await this.db
      .selectFrom('telemetry_reports')
      .select('latency_ms')
      .where('node_id', '=', nodeId)
      .where('created_at', '>=', since)
      .limit(10_000)
      .execute();
    return rows.map((r) => Number(r.latency_ms));
  }

  /** One atomic EMA step; the first write takes the raw value (iicp-telemetry.md §T4.2). */
  async updateObservedLatency(
    nodeId: string,
    latencyMs: number,
    alpha: number,
    now: number,
  ): Promise<number | null> {
    const res = await this.db
      .updateTable('nodes')
      .set({
        observed_latency_ms: sql<number>`case when observed_latency_ms is null then cast(${latencyMs} as double precision) else cast(${alpha} as double precision) * ${latencyMs} + (1 - cast(${alpha} as double precision)) * observed_latency_ms end`,
        updated_at: now,
      })
      .where('node_id', '=', nodeId)
      .returning('observed_latency_ms')
      .executeTakeFirst();
    return res?.observed_latency_ms === undefined || res.observed_latency_ms === null
      ? null
      : Number(res.observed_latency_ms);
  }

  // --- audit reports -----------------------------------------------------------------

  /**
   * Record one audit report atomically: the (reporter, target) 24 h limit, then (for an
   * eligible reporter) one of the target's two evidence slots, the row and its local
   * `AUDIT_REPORT` event. Returns undefined when the per-pair limit refused it.
   */
  async recordAudit(a: {
    reporter: string;
    target: string;
    finding: string;
    eligible: boolean;
    now: number;
  }): Promise<{ accepted: boolean; suppressed: boolean } | undefined> {
    const cutoff = a.now - DAY_MS;
    return this.db.transaction().execute(async (trx) => {
      const limit = await trx
        .insertInto('audit_limits')
        .values({ reporter_node_id: a.reporter, target_node_id: a.target, last_at: a.now })
        .onConflict((oc) =>
          oc
            .columns(['reporter_node_id', 'target_node_id'])
            .doUpdateSet({ last_at: a.now })
            .where('audit_limits.last_at', '<=', cutoff),
        )
        .executeTakeFirst();
      if (!changed(limit)) return undefined;
      let accepted = false;
      if (a.eligible) {
        for (const slot of [0, 1]) {
          const res = await trx
            .insertInto('audit_slots')
            .values({
              target_node_id: a.target,
              slot,
              reporter_node_id: a.reporter,
              claimed_at: a.now,
            })
            .onConflict((oc) =>
              oc
                .columns(['target_node_id', 'slot'])
                .doUpdateSet({ reporter_node_id: a.reporter, claimed_at: a.now })
                .where('audit_slots.claimed_at', '<=', cutoff),
            )
            .executeTakeFirst();
          if (changed(res)) {
            accepted = true;
            break;
          }
        }
      }
      await trx
        .insertInto('audit_reports')
        .values({
          id: randomUUID(),
          reporter_node_id: a.reporter,
          target_node_id: a.target,
          finding: a.finding,
          evidence_accepted: accepted ? 1 : 0,
          suppressed: accepted ? 0 : 1,
          created_at: a.now,
        })
        .execute();
      await this.events?.append(trx, {
        chain: 'local',
        eventType: 'AUDIT_REPORT',
        nodeId: a.target,
        payload: {
          node_id: a.target,
          reporter_node_id: a.reporter,
          finding: a.finding,
          integrity_evidence_accepted: accepted,
          delta_suppressed: !accepted,
          // D-029: audit evidence never moves outcome-v2 reputation.
          outcome_v2_delta: 0,
        },
        tsMs: a.now,
      });
      return { accepted, suppressed: !accepted };
    });
  }

  // --- credits -----------------------------------------------------------------------

  async account(nodeId: string): Promise<CreditAccount | undefined> {
    return this.db
      .selectFrom('credit_accounts')
      .selectAll()
      .where('node_id', '=', nodeId)
      .executeTakeFirst();
  }

  async transactions(nodeId: string, limit: number): Promise<CreditTransaction[]> {
    return this.db
      .selectFrom('credit_transactions')
      .selectAll()
      .where('node_id', '=', nodeId)
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(limit)
      .execute();
  }

  async #ensureAccount(trx: Db, nodeId: string, now: number): Promise<void> {
    await trx
      .insertInto('credit_accounts')
      .values({
        node_id: nodeId,
        balance: 0,
        total_earned: 0,
        total_spent: 0,
        tx_count: 0,
        free_grant_at: null,
        hourly_awarded: 0,
        hourly_window_start: null,
        updated_at: now,
      })
      .onConflict((oc) => oc.column('node_id').doNothing())
      .execute();
  }

  async #ledger(trx: Db, row: Omit<CreditTransactionsTable, 'id'>): Promise<string> {
    const id = randomUUID();
    await trx
      .insertInto('credit_transactions')
      .values({ id, ...row })
      .execute();
    return id;
  }

  /**
   * The evaluation grant (iicp-dir.md §3.10): 5 credits when the balance is 0 and the
   * node never had one or its last is ≥ 6 h old, and no node registered from the same
   * source IP had one in the last 6 h (REP-05). Never accumulates. Returns whether a
   * grant was made.
   */
  async maybeFreeGrant(nodeId: string, ip: string | null, now: number): Promise<boolean> {
    const before = now - FREE_GRANT_PERIOD_MS;
    try {
      return await this.db.transaction().execute(async (trx) => {
        await this.#ensureAccount(trx, nodeId, now);
        const res = await trx
          .updateTable('credit_accounts')
          .set({
            balance: FREE_GRANT_CREDITS,
            total_earned: sql<number>`total_earned + cast(${FREE_GRANT_CREDITS} as double precision)`,
            tx_count: sql<number>`tx_count + 1`,
            free_grant_at: now,
            updated_at: now,
          })
          .where('node_id', '=', nodeId)
          .where('balance', '<=', 0)
          .where((eb) =>
            eb.or([eb('free_grant_at', 'is', null), eb('free_grant_at', '<=', before)]),
          )
          .executeTakeFirst();
        if (!changed(res)) return false;
        if (ip !== null) {
          const claim = await trx
            .insertInto('credit_grant_ips')
            .values({ ip, granted_at: now })
            .onConflict((oc) =>
              oc
                .column('ip')
                .doUpdateSet({ granted_at: now })
                .where('credit_grant_ips.granted_at', '<=', before),
            )
            .executeTakeFirst();
          if (!changed(claim)) throw new Rollback(false);
        }
        await this.#ledger(trx, {
          node_id: nodeId,
          tx_type: 'bootstrap',
          amount: FREE_GRANT_CREDITS,
          balance_after: FREE_GRANT_CREDITS,
          reason: 'evaluation_grant',
          task_id: null,
          counterparty_node_id: null,
          created_at: now,
        });
        await this.events?.append(trx, {
          chain: 'local',
          eventType: 'CREDIT_ALLOCATION',
          nodeId,
          payload: {
            node_id: nodeId,
            amount: FREE_GRANT_CREDITS,
            reason: 'evaluation_grant',
            period_h: 6,
          },
          tsMs: now,
        });
        return true;
      });
    } catch (e) {
      if (e instanceof Rollback) return e.outcome as boolean;
      throw e;
    }
  }

  /**
   * Award a verified receipt in one transaction: lock the nonce (a primary-key insert:
   * of two concurrent submissions on any instances exactly one inserts), credit the
   * worker unless that would pass the hourly cap, write the ledger row, try the
   * querying node's debit, append `CREDIT_AWARD`. A cap refusal rolls the nonce back.
   */
  async award(r: AwardRequest): Promise<AwardOutcome> {
    const windowOpen = r.now - HOUR_MS;
    try {
      return await this.db.transaction().execute(async (trx) => {
        const nonce = await trx
          .insertInto('credit_nonces')
          .values({ node_id: r.workerId, nonce: r.nonce, keep_until: r.nonceKeepUntil })
          .onConflict((oc) => oc.columns(['node_id', 'nonce']).doNothing())
          .executeTakeFirst();
        if (!changed(nonce))
          throw new Rollback<AwardOutcome>({ ok: false, reason: 'nonce_replayed' });
        await this.#ensureAccount(trx, r.workerId, r.now);
        const fresh = sql<boolean>`(hourly_window_start is null or hourly_window_start <= cast(${windowOpen} as bigint))`;
        const amt = sql<number>`cast(${r.amount} as double precision)`;
        const credited = await trx
          .updateTable('credit_accounts')
          .set({
            hourly_awarded: sql<number>`case when ${fresh} then ${amt} else hourly_awarded + ${amt} end`,
            hourly_window_start: sql<number>`case when ${fresh} then cast(${r.now} as bigint) else hourly_window_start end`,
            balance: sql<number>`balance + ${amt}`,
            total_earned: sql<number>`total_earned + ${amt}`,
            tx_count: sql<number>`tx_count + 1`,
            updated_at: r.now,
          })
          .where('node_id', '=', r.workerId)
          .where(
            sql<boolean>`(case when ${fresh} then ${amt} else hourly_awarded + ${amt} end) <= cast(${r.hourlyCap} as double precision)`,
          )
          .returning('balance')
          .executeTakeFirst();
        if (!credited) throw new Rollback<AwardOutcome>({ ok: false, reason: 'hourly_cap' });
        const balance = round4(Number(credited.balance));
        const transactionId = await this.#ledger(trx, {
          node_id: r.workerId,
          tx_type: 'earn',
          amount: r.amount,
          balance_after: balance,
          reason: 'cip_receipt',
          task_id: r.taskId,
          counterparty_node_id: r.queryingNodeId,
          created_at: r.now,
        });
        let spent = 0;
        let spendReason: string | null = null;
        if (r.queryingNodeId !== null && r.queryingNodeId !== r.workerId) {
          await this.#ensureAccount(trx, r.queryingNodeId, r.now);
          const debited = await trx
            .updateTable('credit_accounts')
            .set({
              balance: sql<number>`balance - cast(${r.amount} as double precision)`,
              total_spent: sql<number>`total_spent + cast(${r.amount} as double precision)`,
              tx_count: sql<number>`tx_count + 1`,
              updated_at: r.now,
            })
            .where('node_id', '=', r.queryingNodeId)
            .where('balance', '>=', r.amount)
            .returning('balance')
            .executeTakeFirst();
          if (debited) {
            spent = r.amount;
            await this.#ledger(trx, {
              node_id: r.queryingNodeId,
              tx_type: 'spend',
              amount: r.amount,
              balance_after: round4(Number(debited.balance)),
              reason: 'task',
              task_id: r.taskId,
              counterparty_node_id: r.workerId,
              created_at: r.now,
            });
          } else {
            spendReason = 'insufficient_balance';
            await this.events?.append(trx, {
              chain: 'local',
              eventType: 'CREDIT_SPEND_INSUFFICIENT',
              nodeId: r.queryingNodeId,
              payload: { node_id: r.queryingNodeId, amount: r.amount, task_id: r.taskId },
              tsMs: r.now,
            });
          }
        }
        // The session key is a coordinator secret: it stays off the published chain.
        await this.events?.append(trx, {
          chain: 'events',
          eventType: 'CREDIT_AWARD',
          nodeId: r.workerId,
          payload: {
            node_id: r.workerId,
            task_id: r.taskId,
            tokens_used: r.tokensUsed,
            amount: r.amount,
            new_balance: balance,
            cip_parent_task_id: r.parentTaskId,
          },
          tsMs: r.now,
        });
        return { ok: true, balance, spent, spendReason, transactionId };
      });
    } catch (e) {
      if (e instanceof Rollback) return e.outcome as AwardOutcome;
      throw e;
    }
  }

  // --- active probing ----------------------------------------------------------------

  /** Active nodes whose probe is due, oldest first (never-probed first). */
  async dueProbes(now: number, limit: number): Promise<ProbeCandidate[]> {
    const rows = await this.db
      .selectFrom('nodes as n')
      .leftJoin('node_probes as p', 'p.node_id', 'n.node_id')
      .select(['n.node_id', 'n.endpoint'])
      .where('n.status', '=', 'active')
      .where((eb) => eb.or([eb('p.next_probe_at', 'is', null), eb('p.next_probe_at', '<=', now)]))
      .orderBy(sql`coalesce(p.next_probe_at, 0)`)
      .limit(limit)
      .execute();
    return rows.map((r) => ({ nodeId: r.node_id, endpoint: r.endpoint }));
  }

  /** Claim a due probe (compare-and-swap: of several instances exactly one wins). */
  async claimProbe(nodeId: string, now: number, nextAt: number): Promise<boolean> {
    const res = await this.db
      .insertInto('node_probes')
      .values({ node_id: nodeId, next_probe_at: nextAt, consecutive_failures: 0 })
      .onConflict((oc) =>
        oc
          .column('node_id')
          .doUpdateSet({ next_probe_at: nextAt })
          .where('node_probes.next_probe_at', '<=', now),
      )
      .executeTakeFirst();
    return changed(res);
  }

  /**
   * Record a probe. Success clears the failure count (and restores a demoted route,
   * keeping the RTT as latency evidence); failure counts up and demotes only at
   * `demoteAfter` consecutive failures, probing again sooner to confirm.
   */
  async recordProbe(p: ProbeResult): Promise<ProbeOutcome> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .updateTable('node_probes')
        .set({
          last_probe_at: p.now,
          last_ok: p.ok ? 1 : 0,
          latency_ms: p.latencyMs,
          consecutive_failures: p.ok ? 0 : sql<number>`consecutive_failures + 1`,
        })
        .where('node_id', '=', p.nodeId)
        .returning(['consecutive_failures', 'next_probe_at'])
        .executeTakeFirst();
      const failures = Number(row?.consecutive_failures ?? 0);
      let flipped: ProbeOutcome['flipped'] = null;
      if (p.ok) {
        const restore = await trx
          .updateTable('nodes')
          .set({ route_dead: 0 })
          .where('node_id', '=', p.nodeId)
          .where('route_dead', '=', 1)
          .executeTakeFirst();
        if (changed(restore)) flipped = 'restored';
        await trx
          .updateTable('nodes')
          .set({
            ...(p.latencyMs !== null
              ? { liveness_rtt_ms: Math.round(p.latencyMs * 100) / 100 }
              : {}),
            updated_at: p.now,
          })
          .where('node_id', '=', p.nodeId)
          .where('status', '!=', 'deregistered')
          .execute();
      } else if (failures >= p.demoteAfter) {
        const res = await trx
          .updateTable('nodes')
          .set({ route_dead: 1, updated_at: p.now })
          .where('node_id', '=', p.nodeId)
          .where('route_dead', '=', 0)
          .where('status', '!=', 'deregistered')
          .executeTakeFirst();
        if (changed(res)) flipped = 'demoted';
      } else if (row && Number(row.next_probe_at) > p.confirmAt) {
        await trx
          .updateTable('node_probes')
          .set({ next_probe_at: p.confirmAt })
          .where('node_id', '=', p.nodeId)
          .execute();
      }
      if (flipped) {
        await this.events?.append(trx, {
          chain: 'local',
          eventType: flipped === 'demoted' ? 'REACHABILITY_DEMOTE' : 'REACHABILITY_RESTORE',
          nodeId: p.nodeId,
          payload: {
            node_id: p.nodeId,
            from: flipped === 'demoted' ? 'reachable' : 'unreachable',
            to: flipped === 'demoted' ? 'unreachable' : 'reachable',
            reason: p.ok ? 'probe_success' : 'probe_connect_failed',
            endpoint: p.endpoint,
            probe_source: 'seed_directory',
            ...(p.latencyMs !== null ? { latency_ms: Math.round(p.latencyMs) } : {}),
          },
          tsMs: p.now,
        });
      }
      return { consecutiveFailures: failures, flipped };
    });
  }

  /** Retention (iicp-dir.md §3.9b): telemetry 30 d; spent nonces; stale grant-IP rows. */
  async prune(now: number): Promise<void> {
    await this.db
      .deleteFrom('telemetry_reports')
      .where('created_at', '<', now - 30 * DAY_MS)
      .execute();
    await this.db.deleteFrom('credit_nonces').where('keep_until', '<', now).execute();
    await this.db
      .deleteFrom('credit_grant_ips')
      .where('granted_at', '<', now - FREE_GRANT_PERIOD_MS)
      .execute();
    await this.db
      .deleteFrom('audit_limits')
      .where('last_at', '<', now - DAY_MS)
      .execute();
  }
}
