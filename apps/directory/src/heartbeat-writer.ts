/**
 * Group commit of heartbeats (iicp-dir.md §3.2). Heartbeats that arrive together (in
 * one turn of the event loop, or while the previous commit is being written) are
 * written in one transaction: one UPDATE for all active nodes, one address-history
 * upsert, one read and one write of the outstanding challenges. Each caller is answered
 * only after that transaction committed, so an acknowledged heartbeat is as durable as
 * when every heartbeat had statements of its own; the transaction, not the number of
 * heartbeats, is what costs (a commit, a WAL append, a round trip to PostgreSQL).
 *
 * Every write is guarded by the token version the caller authenticated against, so a
 * token rotated or revoked by any instance makes the write miss instead of succeeding
 * on a stale in-memory view; the route then re-checks the token in the database.
 */
import type { Kysely } from 'kysely';
import { challengeProved, newHeartbeatChallenge, type Accounting } from './accounting.ts';
import { indexNode, type IndexView } from './context.ts';
import type { DirectoryDatabase } from './storage/schema.ts';
import {
  sameRegistration,
  withDynamics,
  type ChallengeRotation,
  type ChallengeState,
  type HeartbeatRow,
  type NodeDynamics,
  type NodeStore,
  type StoredNode,
  type VersionedSighting,
} from './storage/node-store.ts';

/** One authenticated heartbeat, ready to write. */
export interface HeartbeatInput {
  /** The node as authenticated (its token version guards the write). */
  readonly node: StoredNode;
  readonly load: number;
  readonly activeJobs: number;
  readonly available: boolean;
  readonly observedIp: string;
  readonly now: number;
  readonly challengeResponse?: string | undefined;
}

/** A committed heartbeat. */
export interface HeartbeatApplied {
  /** The node after the write, as now indexed; undefined when it must be re-read. */
  readonly node: StoredNode | undefined;
  readonly dynamics: NodeDynamics;
  /** A dormant node came back (its REACTIVATE event was written in the same transaction). */
  readonly reactivated: boolean;
  /** The challenge for the PONG; undefined for a node without credentials. */
  readonly challenge: string | undefined;
}

interface Pending {
  readonly input: HeartbeatInput;
  resolve(r: HeartbeatApplied | undefined): void;
  reject(e: unknown): void;
}

export class HeartbeatWriter {
  #queue: Pending[] = [];
  #draining = false;

  constructor(
    private readonly store: NodeStore,
    private readonly accounting: Accounting,
    private readonly view: IndexView,
  ) {}

  /**
   * Write a heartbeat with the others of its tick. Resolves once committed, with
   * undefined when the node is not active or dormant at the authenticated token version
   * (rotated, deregistered or deleted since).
   */
  submit(input: HeartbeatInput): Promise<HeartbeatApplied | undefined> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ input, resolve, reject });
      // setImmediate runs after the poll phase: every request read in it joins this batch.
      if (!this.#draining && this.#queue.length === 1) setImmediate(() => void this.#drain());
    });
  }

  async #drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        await this.#commit(batch);
      }
    } finally {
      this.#draining = false;
    }
  }

  async #commit(batch: readonly Pending[]): Promise<void> {
    try {
      const results = await this.#write(batch.map((p) => p.input));
      batch.forEach((p, i) => p.resolve(results[i]));
    } catch (e) {
      if (batch.length === 1) {
        batch[0]!.reject(e);
        return;
      }
      // One failing heartbeat (or a deadlock with another instance) must not fail the
      // others: each is written again on its own.
      for (const p of batch) {
        try {
          p.resolve((await this.#write([p.input]))[0]);
        } catch (err) {
          p.reject(err);
        }
      }
    }
  }

  async #write(inputs: readonly HeartbeatInput[]): Promise<(HeartbeatApplied | undefined)[]> {
    // A node's last heartbeat in the batch is the row written; its earlier ones are
    // superseded exactly as a moment later, and counted in its address history. Keyed by
    // token version too: of one node's rows only the one at its current version matches.
    const rows = new Map<string, HeartbeatRow>();
    for (const i of inputs) {
      rows.set(`${i.node.nodeId} ${i.node.tokenVersion}`, {
        nodeId: i.node.nodeId,
        tokenVersion: i.node.tokenVersion,
        load: i.load,
        activeJobs: i.activeJobs,
        available: i.available,
        observedIp: i.observedIp,
        now: i.now,
      });
    }
    const written = new Map<string, NodeDynamics>();
    const reactivated = new Set<string>();
    const challenges: (string | undefined)[] = inputs.map(() => undefined);
    const ok = (i: HeartbeatInput): boolean =>
      written.get(i.node.nodeId)?.tokenVersion === i.node.tokenVersion;
    /** Coalesced sightings per node, version and IP of the heartbeats `keep` selects. */
    const sightings = (keep: (i: HeartbeatInput) => boolean): VersionedSighting[] => {
      const out = new Map<string, VersionedSighting>();
      for (const i of inputs) {
        if (!keep(i)) continue;
        const key = `${i.node.nodeId} ${i.node.tokenVersion} ${i.observedIp}`;
        const s = out.get(key);
        out.set(key, {
          nodeId: i.node.nodeId,
          tokenVersion: i.node.tokenVersion,
          ip: i.observedIp,
          event: 'heartbeat',
          firstSeen: Math.min(s?.firstSeen ?? i.now, i.now),
          lastSeen: Math.max(s?.lastSeen ?? i.now, i.now),
          count: (s?.count ?? 0) + 1,
        });
      }
      return [...out.values()];
    };
    /** Dormant rows (rare) come back with their event, their sightings and challenges. */
    const reactivate = async (
      trx: Kysely<DirectoryDatabase>,
      missed: readonly HeartbeatRow[],
    ): Promise<ChallengeState[]> => {
      const back: string[] = [];
      for (const row of missed) {
        if (written.has(row.nodeId)) continue;
        const d = await this.store.reactivate(trx, row);
        if (d) {
          written.set(row.nodeId, d);
          reactivated.add(row.nodeId);
          back.push(row.nodeId);
        }
      }
      if (back.length === 0) return [];
      await this.store.recordAddresses(
        trx,
        sightings((i) => reactivated.has(i.node.nodeId) && ok(i)),
      );
      return this.store.challengeStates(trx, back);
    };
    if (this.store.postgres) {
      // One statement for the common case; dormant nodes and challenges after it.
      const first = await this.store.heartbeatManyPostgres(
        [...rows.values()],
        sightings(() => true),
      );
      for (const [id, d] of first.written) written.set(id, d);
      const states = first.challenges;
      const missed = [...rows.values()].filter((r) => !written.has(r.nodeId));
      if (missed.length > 0) {
        states.push(...(await this.store.db.transaction().execute((t) => reactivate(t, missed))));
      }
      const rotations = this.#rotations(inputs, states, ok, challenges);
      if (rotations.length > 0) await this.store.rotateChallenges(this.store.db, rotations);
    } else {
      await this.store.db.transaction().execute(async (trx: Kysely<DirectoryDatabase>) => {
        for (const [id, d] of await this.store.heartbeatMany(trx, [...rows.values()])) {
          written.set(id, d);
        }
        const back = await reactivate(
          trx,
          [...rows.values()].filter((r) => !written.has(r.nodeId)),
        );
        if (written.size === 0) return;
        await this.store.recordAddresses(
          trx,
          sightings((i) => ok(i) && !reactivated.has(i.node.nodeId)),
        );
        const states = await this.store.challengeStates(
          trx,
          [...written.keys()].filter((id) => !reactivated.has(id)),
        );
        const all = [...states, ...back];
        const rotations = this.#rotations(inputs, all, ok, challenges);
        if (rotations.length > 0) await this.store.rotateChallenges(trx, rotations);
      });
    }
    // Committed: apply each write to the node this instance holds, exactly as the row now
    // reads, unless a newer registration arrived meanwhile (then the route re-reads).
    const applied = new Map<string, StoredNode | undefined>();
    for (const i of inputs) {
      const id = i.node.nodeId;
      if (!ok(i) || applied.has(id)) continue;
      const d = written.get(id)!;
      const held = this.view.nodes.get(id);
      const base =
        held && sameRegistration(held, d) ? held : sameRegistration(i.node, d) ? i.node : undefined;
      const next = base ? withDynamics(base, d) : undefined;
      if (next) indexNode(this.view, next);
      applied.set(id, next);
    }
    return inputs.map((i, k) =>
      ok(i)
        ? {
            node: applied.get(i.node.nodeId),
            dynamics: written.get(i.node.nodeId)!,
            reactivated: reactivated.has(i.node.nodeId),
            challenge: challenges[k],
          }
        : undefined,
    );
  }

  /**
   * The next challenge of each node with credentials (only the latest counts, D-055),
   * and the challenge its response proved. Fills `challenges` per input.
   */
  #rotations(
    inputs: readonly HeartbeatInput[],
    states: readonly ChallengeState[],
    ok: (i: HeartbeatInput) => boolean,
    challenges: (string | undefined)[],
  ): ChallengeRotation[] {
    const rotations: ChallengeRotation[] = [];
    for (const st of states) {
      let proved: string | null = null;
      let first = true;
      let last: ChallengeRotation | undefined;
      for (let k = 0; k < inputs.length; k++) {
        const i = inputs[k]!;
        if (i.node.nodeId !== st.nodeId || !ok(i)) continue;
        // Only a node's first heartbeat in the batch can answer the stored challenge:
        // the ones after it answer a PONG the node has not received yet.
        if (
          first &&
          i.challengeResponse !== undefined &&
          st.challenge !== null &&
          challengeProved(this.accounting, st.sealedHmacKey, st.challenge, i.challengeResponse)
        ) {
          proved = st.challenge;
        }
        first = false;
        const challenge = newHeartbeatChallenge();
        challenges[k] = challenge;
        last = { nodeId: st.nodeId, challenge, provedChallenge: proved, now: i.now };
      }
      if (last) rotations.push(last);
    }
    return rotations;
  }
}
