/**
 * Replaying the signed event log (iicp-federated-directory.md §5.1, §5.3): from genesis,
 * every link and signature checked, the node set rebuilt, and compared with the live
 * rows. The published chain gives membership and state (REGISTER replaces a node
 * wholesale, DEREGISTER removes it); the local chain gives liveness (EVICT → dormant,
 * REACTIVATE → active), each local event naming the REGISTER it follows.
 */
import { verifyEventChain, type ChainFailure, type ChainHead } from '@iicp/crypto';
import type { Kysely } from 'kysely';
import { nodeEventState, type NodeEventState } from './storage/event-payloads.ts';
import {
  genesisHashOf,
  LOCAL_CHAIN,
  PUBLISHED_CHAIN,
  type EventLog,
  type LoggedEvent,
} from './storage/event-log.ts';
import type { StoredNode } from './storage/node-store.ts';
import type { StorageKind } from './storage/open.ts';
import type { DirectoryDatabase } from './storage/schema.ts';

/** A node as the log says it is. */
export interface ReplayedNode extends NodeEventState {
  readonly status: 'active' | 'dormant';
}

interface EventLike {
  readonly event_type: string;
  readonly seq: number;
  readonly payload: Record<string, unknown>;
}

/**
 * Rebuild the node set from the published chain and (optionally) the local chain, each
 * in ascending `seq`. Signatures are not checked here; {@link verifyEventLog} does both.
 */
export function replayEventLog(
  published: readonly EventLike[],
  local: readonly EventLike[] = [],
): Map<string, ReplayedNode> {
  const nodes = new Map<string, { state: NodeEventState; registerSeq: number }>();
  for (const e of published) {
    const id = e.payload['node_id'];
    if (typeof id !== 'string') continue;
    if (e.event_type === 'REGISTER') {
      const { kind: _kind, ...state } = e.payload;
      nodes.set(id, { state: state as unknown as NodeEventState, registerSeq: e.seq });
    } else if (e.event_type === 'DEREGISTER') {
      nodes.delete(id);
    }
  }
  const liveness = new Map<string, 'active' | 'dormant'>();
  for (const e of local) {
    const id = e.payload['node_id'];
    if (typeof id !== 'string') continue;
    const n = nodes.get(id);
    if (!n || e.payload['register_seq'] !== n.registerSeq) continue;
    if (e.event_type === 'EVICT') liveness.set(id, 'dormant');
    else if (e.event_type === 'REACTIVATE') liveness.set(id, 'active');
  }
  const out = new Map<string, ReplayedNode>();
  for (const [id, n] of nodes) out.set(id, { ...n.state, status: liveness.get(id) ?? 'active' });
  return out;
}

/** The live rows in the same shape as {@link replayEventLog} returns. */
export function liveNodeSet(rows: readonly StoredNode[]): Map<string, ReplayedNode> {
  const out = new Map<string, ReplayedNode>();
  for (const n of rows) {
    if (n.status === 'deregistered') continue;
    out.set(n.nodeId, { ...nodeEventState(n), status: n.status });
  }
  return out;
}

/** Node ids whose replayed and live forms differ (missing on either side included). */
export function diffNodeSets(
  replayed: ReadonlyMap<string, ReplayedNode>,
  live: ReadonlyMap<string, ReplayedNode>,
): string[] {
  const ids = new Set([...replayed.keys(), ...live.keys()]);
  const out: string[] = [];
  for (const id of ids) {
    const a = replayed.get(id);
    const b = live.get(id);
    if (!a || !b || canonical(a) !== canonical(b)) out.push(id);
  }
  return out.sort();
}

function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x !== null && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1)))
      : x,
  );
}

export interface ChainReport {
  readonly events: number;
  readonly head: ChainHead | null;
  readonly genesisHash: string | null;
  /** Set when the chain does not verify: why, and at which seq. */
  readonly failure?: { readonly reason: ChainFailure | 'genesis_hash'; readonly seq: number };
}

export interface VerifyLogReport {
  readonly ok: boolean;
  readonly published: ChainReport;
  readonly local: ChainReport;
  readonly liveNodes: number;
  readonly replayedNodes: number;
  /** Node ids where replay and the live rows disagree (empty when ok). */
  readonly mismatched: readonly string[];
}

async function readChain(
  log: EventLog,
  db: Kysely<DirectoryDatabase>,
  chain: typeof PUBLISHED_CHAIN | typeof LOCAL_CHAIN,
  publicKey: Uint8Array,
): Promise<{ events: LoggedEvent[]; report: ChainReport }> {
  const events: LoggedEvent[] = [];
  for (let since = 0; ;) {
    const page = await log.page(chain, since, 1000, undefined, db);
    events.push(...page.events);
    if (page.events.length < 1000) break;
    since = page.nextSeq;
  }
  const state = await log.state(chain, db);
  const v = verifyEventChain(events, { publicKey });
  const base = { events: events.length, head: state.head, genesisHash: state.genesisHash };
  if (!v.ok) {
    return {
      events,
      report: { ...base, failure: { reason: v.reason, seq: events[v.index]?.seq ?? -1 } },
    };
  }
  // D-039: the stored genesis hash is the hash of the first signature, and the stored
  // head is the last event, so neither can drift from the rows.
  const first = events[0];
  const headOk =
    (v.head === null && state.head === null) ||
    (v.head !== null &&
      state.head !== null &&
      v.head.seq === state.head.seq &&
      v.head.sig === state.head.sig);
  const genesisOk =
    first === undefined
      ? state.genesisHash === null
      : state.genesisHash === genesisHashOf(first.sig);
  if (!headOk || !genesisOk) {
    return {
      events,
      report: { ...base, failure: { reason: 'genesis_hash', seq: first?.seq ?? 0 } },
    };
  }
  return { events, report: base };
}

/**
 * Verify both chains from genesis against `publicKey`, replay them, and compare with
 * the live node rows, all in one consistent read.
 */
export async function verifyEventLog(
  db: Kysely<DirectoryDatabase>,
  kind: StorageKind,
  log: EventLog,
  publicKey: Uint8Array,
): Promise<VerifyLogReport> {
  let tx = db.transaction();
  if (kind === 'postgres') tx = tx.setIsolationLevel('repeatable read');
  return tx.execute(async (trx) => {
    const pub = await readChain(log, trx, PUBLISHED_CHAIN, publicKey);
    const loc = await readChain(log, trx, LOCAL_CHAIN, publicKey);
    const rows = await trx
      .selectFrom('nodes')
      .select(['node_id', 'endpoint', 'region', 'record', 'status'])
      .where('status', '!=', 'deregistered')
      .execute();
    const live = liveNodeSet(
      rows.map((r) => ({
        nodeId: r.node_id,
        endpoint: r.endpoint,
        region: r.region,
        record: JSON.parse(r.record) as Record<string, unknown>,
        status: r.status,
      })) as unknown as StoredNode[],
    );
    const replayed = replayEventLog(pub.events, loc.events);
    const mismatched = diffNodeSets(replayed, live);
    return {
      ok: !pub.report.failure && !loc.report.failure && mismatched.length === 0,
      published: pub.report,
      local: loc.report,
      liveNodes: live.size,
      replayedNodes: replayed.size,
      mismatched,
    };
  });
}
