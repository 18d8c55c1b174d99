/**
 * Active probing of registered nodes (iicp-dir.md §3.9c; digest-directory.md §1.10):
 * `GET {endpoint}/iicp/health` through the SSRF-guarded client with the 5 s timeout of
 * the registration probe. Every node is probed about once per `intervalMs` (300 s);
 * each tick takes its share of the due nodes — `ceil(active × tick / interval)`, at
 * least 1, at most `maxPerTick` — claims each one in the database (so instances sharing
 * a PostgreSQL never probe the same node twice) and runs them `concurrency` at a time.
 * One failure never demotes: it schedules a confirmation probe after `confirmAfterMs`,
 * and only `demoteAfter` consecutive failures mark the route dead (out of discover,
 * `REACHABILITY_DEMOTE`); a later success restores it. A success's RTT becomes the
 * node's latency evidence.
 */
import type { ProbingOptions } from './accounting.ts';
import { indexNode, type DirectoryContext } from './context.ts';
import { probeHealth } from './routes/register.ts';
import type { ProbeCandidate, ProbeOutcome } from './storage/accounting-store.ts';

export interface ProbeTickReport {
  readonly due: number;
  readonly probed: number;
  readonly demoted: number;
  readonly restored: number;
}

const PRUNE_EVERY_MS = 3600_000;

export class ActiveProber {
  #lastPrune = 0;
  readonly #o: Required<ProbingOptions>;

  constructor(
    private readonly ctx: DirectoryContext,
    /** Probe function (tests may replace it): RTT in ms, or undefined on failure. */
    private readonly probe: (endpoint: string) => Promise<number | undefined> = (e) =>
      probeHealth(ctx, e),
  ) {
    this.#o = ctx.accounting.settings.probing;
  }

  /** How many probes one tick may start for `active` nodes. */
  budget(active: number): number {
    const share = Math.ceil((active * this.#o.tickMs) / this.#o.intervalMs);
    return Math.min(this.#o.maxPerTick, Math.max(1, share));
  }

  async tick(): Promise<ProbeTickReport> {
    const ctx = this.ctx;
    const store = ctx.accounting.store;
    const now = ctx.now();
    let active = 0;
    for (const n of ctx.nodes.values()) if (n.status === 'active') active++;
    const due = await store.dueProbes(now, this.budget(active));
    const claimed: ProbeCandidate[] = [];
    for (const c of due) {
      if (await store.claimProbe(c.nodeId, now, now + this.#o.intervalMs)) claimed.push(c);
    }
    const outcomes: ProbeOutcome[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < claimed.length) {
        const c = claimed[next++]!;
        const rtt = await this.probe(c.endpoint);
        const at = ctx.now();
        const out = await store.recordProbe({
          nodeId: c.nodeId,
          endpoint: c.endpoint,
          ok: rtt !== undefined,
          latencyMs: rtt ?? null,
          now: at,
          demoteAfter: this.#o.demoteAfter,
          confirmAt: at + this.#o.confirmAfterMs,
        });
        outcomes.push(out);
        const fresh = await ctx.store.get(c.nodeId);
        if (fresh) indexNode(ctx, fresh);
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(this.#o.concurrency, claimed.length) }, worker),
    );
    if (now - this.#lastPrune >= PRUNE_EVERY_MS) {
      this.#lastPrune = now;
      await store.prune(now);
    }
    return {
      due: due.length,
      probed: claimed.length,
      demoted: outcomes.filter((o) => o.flipped === 'demoted').length,
      restored: outcomes.filter((o) => o.flipped === 'restored').length,
    };
  }
}
