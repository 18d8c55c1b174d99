/**
 * Background upkeep of one directory instance:
 * - sweep: nodes without a heartbeat for more than 90 s become dormant (iicp-core.md
 *   §4; digest §2), in the database, so every instance sees it;
 * - refresh: rows changed by any instance since the last pass are folded into this
 *   instance's discover index (several instances on one PostgreSQL agree within
 *   `indexRefreshMs` + one query, inside the spec's 5 s);
 * - prune (hourly): dormant nodes past retention (30 days, digest C29), tombstones
 *   after a day, address history after 35 days (≥ 30 required), stale rate windows.
 */
import { LIVENESS_WINDOW_MS } from '@iicp/wire';
import { ADDRESS_HISTORY_RETENTION_MS, REGISTER_RATE_WINDOW_MS } from './config.ts';
import { dropNode, indexNode, type DirectoryContext } from './context.ts';
import { dynamicsEqual, sameRegistration, withDynamics } from './storage/node-store.ts';

const PRUNE_EVERY_MS = 3600_000;
const TOMBSTONE_RETENTION_MS = 24 * 3600_000;
/** Re-read a little before the last refresh: clocks of instances differ slightly. */
const REFRESH_OVERLAP_MS = 5_000;

export class Upkeep {
  #lastRefresh = 0;
  #lastPrune = 0;

  constructor(
    private readonly ctx: DirectoryContext,
    private readonly dormantRetentionMs: number,
  ) {}

  /** Load every current node into the index (start-up). */
  async warm(): Promise<void> {
    const now = this.ctx.now();
    // Paged, so only one page of rows is alive at a time (see listCurrentPages).
    for await (const page of this.ctx.store.listCurrentPages()) {
      for (const n of page) indexNode(this.ctx, n);
    }
    this.#lastRefresh = now;
  }

  async sweep(): Promise<string[]> {
    const now = this.ctx.now();
    const ids = await this.ctx.store.markDormant(now - LIVENESS_WINDOW_MS, now);
    for (const id of ids) {
      const n = await this.ctx.store.get(id);
      if (n) indexNode(this.ctx, n);
    }
    if (now - this.#lastPrune >= PRUNE_EVERY_MS) {
      this.#lastPrune = now;
      await this.ctx.store.prune({
        dormantBefore: now - this.dormantRetentionMs,
        tombstoneBefore: now - TOMBSTONE_RETENTION_MS,
        historyBefore: now - ADDRESS_HISTORY_RETENTION_MS,
        rateLimitBefore: now - 2 * REGISTER_RATE_WINDOW_MS,
        now,
      });
    }
    return ids;
  }

  /**
   * Fold rows changed since the last pass into the index. Reads only the dynamic
   * columns first: a row of a registration this instance already holds (same token
   * version and registration time) is patched from those, and skipped when nothing
   * differs (this instance's own heartbeats); only new, rotated or re-registered nodes
   * are read in full, record and all. Returns the number of changed rows seen.
   */
  async refresh(): Promise<number> {
    const now = this.ctx.now();
    const rows = await this.ctx.store.changedDynamicsSince(this.#lastRefresh - REFRESH_OVERLAP_MS);
    this.#lastRefresh = now;
    const full: string[] = [];
    for (const d of rows) {
      const held = this.ctx.nodes.get(d.nodeId);
      // A row older than what this instance already holds is a stale read; skip it.
      if (held && held.updatedAt > d.updatedAt) continue;
      if (d.status === 'deregistered') {
        // A tombstone: forget the node and any cached verification of its token.
        if (held) dropNode(this.ctx, d.nodeId, true);
        continue;
      }
      if (!held || !sameRegistration(held, d)) {
        full.push(d.nodeId);
        continue;
      }
      if (dynamicsEqual(held, d)) continue;
      indexNode(this.ctx, withDynamics(held, d));
    }
    for (const n of full.length > 0 ? await this.ctx.store.getMany(full) : []) {
      const held = this.ctx.nodes.get(n.nodeId);
      if (held && held.updatedAt > n.updatedAt) continue;
      indexNode(this.ctx, n);
    }
    return rows.length;
  }
}
