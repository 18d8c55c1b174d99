/**
 * The directory's signed, hash-chained event log (iicp-federated-directory.md §5.1;
 * spec/decisions.md D-037..D-040). Every append happens inside the caller's database
 * transaction, after the state change it records, so the event and the change commit
 * or roll back together. The chain's head row is locked first (`SELECT … FOR UPDATE`
 * on PostgreSQL; SQLite transactions are already serial), so two instances sharing one
 * PostgreSQL append one after the other and never fork the chain.
 *
 * Lock order, for anyone adding appends: change your rows first, append last. The head
 * row is then always the last lock a transaction takes, so appends cannot deadlock.
 */
import { createHash, randomUUID } from 'node:crypto';
import { appendChainedEvent, type ChainHead, type Ed25519Signer } from '@iicp/crypto';
import type { DirectoryEvent } from '@iicp/wire';
import type { Kysely, Selectable } from 'kysely';
import type { StorageKind } from './open.ts';
import type { DirectoryDatabase, EventsTable } from './schema.ts';

/**
 * `events`: the published chain of `GET /v1/events` (REGISTER, DEREGISTER,
 * CREDIT_AWARD, REPUTATION_DECAY, REPLICA_*, OPERATOR_OBSERVED: DIR-FED-16).
 * `local`: the seed-local chain (EVICT, REACTIVATE, audit and reachability events),
 * signed the same way and never served on `/v1/events` (D-038).
 */
export type EventChainName = 'events' | 'local';
export const PUBLISHED_CHAIN: EventChainName = 'events';
export const LOCAL_CHAIN: EventChainName = 'local';

export interface EventToAppend {
  readonly chain: EventChainName;
  /** UPPER_SNAKE, e.g. `REGISTER`. */
  readonly eventType: string;
  /** The node the event is about; also put inside the payload by the caller (D-038). */
  readonly nodeId: string | null;
  /** JSON-safe values only; numbers the directory signs stay integral where it can (D-035). */
  readonly payload: Record<string, unknown>;
  readonly tsMs: number;
}

/** An event as stored and served: the chained envelope plus where it sits. */
export interface LoggedEvent extends DirectoryEvent {
  readonly prev_hash: string;
  readonly signer_did: string;
  readonly payload: Record<string, unknown>;
}

export interface ChainState {
  readonly head: ChainHead | null;
  /** D-039: SHA-256 hex of the first event's signature; null while the chain is empty. */
  readonly genesisHash: string | null;
}

export interface EventPage {
  readonly events: LoggedEvent[];
  /** The highest seq returned, or the cursor given when nothing was returned. */
  readonly nextSeq: number;
}

type Db = Kysely<DirectoryDatabase>;

function toLogged(r: Selectable<EventsTable>): LoggedEvent {
  return {
    event_id: r.event_id,
    event_type: r.event_type,
    seq: Number(r.seq),
    ts_ms: Number(r.ts_ms),
    payload: JSON.parse(r.payload) as Record<string, unknown>,
    prev_hash: r.prev_hash,
    sig: r.sig,
    signer_did: r.signer_did,
  };
}

/** SHA-256 hex of a signature's ASCII hex: the genesis hash of D-039. */
export function genesisHashOf(firstSig: string): string {
  return createHash('sha256').update(firstSig, 'ascii').digest('hex');
}

export class EventLog {
  constructor(
    readonly db: Db,
    private readonly signer: Ed25519Signer,
    /** `did:web:…` of this directory, carried on every event as `signer_did`. */
    readonly signerDid: string,
    readonly kind: StorageKind,
  ) {}

  /** The directory's public key: what every event verifies against. */
  get publicKey(): Uint8Array {
    return this.signer.publicKey;
  }

  /** Append one event inside `trx` (a transaction the caller opened). */
  async append(trx: Db, e: EventToAppend): Promise<LoggedEvent> {
    const [one] = await this.appendMany(trx, [e]);
    return one!;
  }

  /**
   * Append several events in order, inside `trx`. Each chain's head is locked once and
   * written back once, so a sweep that evicts a thousand nodes is one short lock.
   */
  async appendMany(trx: Db, list: readonly EventToAppend[]): Promise<LoggedEvent[]> {
    const heads = new Map<EventChainName, { head: ChainHead | null; genesis: string | null }>();
    const out: LoggedEvent[] = [];
    for (const e of list) {
      let state = heads.get(e.chain);
      if (!state) {
        state = await this.#lock(trx, e.chain);
        heads.set(e.chain, state);
      }
      const seq = (state.head?.seq ?? 0) + 1;
      // JSON round trip: what is signed is exactly what a reader parses back.
      const payload = JSON.parse(JSON.stringify(e.payload)) as Record<string, unknown>;
      const signed = appendChainedEvent(
        state.head,
        {
          event_id: randomUUID(),
          event_type: e.eventType,
          seq,
          ts_ms: Math.max(0, Math.floor(e.tsMs)),
          payload,
        },
        this.signer,
      );
      await trx
        .insertInto('events')
        .values({
          chain: e.chain,
          seq,
          event_id: signed.event_id,
          event_type: signed.event_type,
          ts_ms: signed.ts_ms,
          node_id: e.nodeId,
          payload: JSON.stringify(payload),
          prev_hash: signed.prev_hash,
          sig: signed.sig,
          signer_did: this.signerDid,
        })
        .execute();
      state.head = { seq, sig: signed.sig };
      state.genesis ??= genesisHashOf(signed.sig);
      out.push({ ...signed, payload, signer_did: this.signerDid });
    }
    for (const [chain, s] of heads) {
      await trx
        .updateTable('event_chains')
        .set({ head_seq: s.head?.seq ?? 0, head_sig: s.head?.sig ?? null, genesis_hash: s.genesis })
        .where('chain', '=', chain)
        .execute();
    }
    return out;
  }

  /** Lock a chain's head row for the rest of `trx` and return its head (null = empty). */
  async lockHead(trx: Db, chain: EventChainName): Promise<ChainHead | null> {
    return (await this.#lock(trx, chain)).head;
  }

  /** Lock a chain's head row for the rest of `trx` (creating it for a new chain name). */
  async #lock(
    trx: Db,
    chain: EventChainName,
  ): Promise<{ head: ChainHead | null; genesis: string | null }> {
    const read = async () => {
      let q = trx
        .selectFrom('event_chains')
        .select(['head_seq', 'head_sig', 'genesis_hash'])
        .where('chain', '=', chain);
      if (this.kind === 'postgres') q = q.forUpdate();
      return q.executeTakeFirst();
    };
    let row = await read();
    if (!row) {
      await trx
        .insertInto('event_chains')
        .values({ chain, head_seq: 0, head_sig: null, genesis_hash: null })
        .onConflict((oc) => oc.column('chain').doNothing())
        .execute();
      row = await read();
    }
    const seq = Number(row?.head_seq ?? 0);
    const sig = row?.head_sig ?? null;
    return {
      head: sig === null || seq === 0 ? null : { seq, sig },
      genesis: row?.genesis_hash ?? null,
    };
  }

  /** The head and genesis hash of a chain, as committed. */
  async state(chain: EventChainName = PUBLISHED_CHAIN, db: Db = this.db): Promise<ChainState> {
    const row = await db
      .selectFrom('event_chains')
      .select(['head_seq', 'head_sig', 'genesis_hash'])
      .where('chain', '=', chain)
      .executeTakeFirst();
    const seq = Number(row?.head_seq ?? 0);
    return {
      head: row?.head_sig && seq > 0 ? { seq, sig: row.head_sig } : null,
      genesisHash: row?.genesis_hash ?? null,
    };
  }

  /** Events with `seq > sinceSeq`, ascending, at most `limit`, optionally of some types. */
  async page(
    chain: EventChainName,
    sinceSeq: number,
    limit: number,
    types?: readonly string[],
    db: Db = this.db,
  ): Promise<EventPage> {
    let q = db
      .selectFrom('events')
      .selectAll()
      .where('chain', '=', chain)
      .where('seq', '>', sinceSeq)
      .orderBy('seq', 'asc')
      .limit(limit);
    if (types && types.length > 0) q = q.where('event_type', 'in', [...types]);
    const events = (await q.execute()).map(toLogged);
    return { events, nextSeq: events.at(-1)?.seq ?? sinceSeq };
  }

  /** Every event of a chain from genesis, in pages (for replay and verify-log). */
  async *all(chain: EventChainName, pageSize = 1000): AsyncGenerator<LoggedEvent> {
    let since = 0;
    for (;;) {
      const { events, nextSeq } = await this.page(chain, since, pageSize);
      yield* events;
      if (events.length < pageSize) return;
      since = nextSeq;
    }
  }

  /** The seq of the latest published REGISTER of each given node (links local events to it). */
  async registerSeqs(trx: Db, nodeIds: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (let i = 0; i < nodeIds.length; i += 500) {
      const rows = await trx
        .selectFrom('events')
        .select(['node_id', (eb) => eb.fn.max('seq').as('seq')])
        .where('chain', '=', PUBLISHED_CHAIN)
        .where('event_type', '=', 'REGISTER')
        .where('node_id', 'in', nodeIds.slice(i, i + 500))
        .groupBy('node_id')
        .execute();
      for (const r of rows) if (r.node_id !== null) out.set(r.node_id, Number(r.seq));
    }
    return out;
  }
}
