/**
 * The task_id window as it was before src/idempotency.ts kept its own insertion-order
 * queue: expiry and eviction walk the Map from its first entry, which in V8 also walks
 * every deleted slot still at the table's front (tens of microseconds per call once the
 * window is full). Kept as the reference test/idempotency.test.ts pins the queue to.
 */
import { TASK_ID_MAX_ENTRIES, TASK_ID_WINDOW_MS } from '../../src/idempotency.ts';

/**
 * Seen task_ids (D-016): 409 `conflict` on reuse inside the window. A Map keeps
 * insertion order, so expiry pops from the front in O(1) amortised; when the bound is
 * reached the oldest entry goes first (the window then shrinks under extreme load
 * rather than memory growing without bound). Results are never kept (payload privacy).
 */
export class ReferenceTaskIdWindow {
  readonly #seen = new Map<string, number>();
  readonly #windowMs: number;
  readonly #max: number;
  readonly #now: () => number;

  constructor(opts: { windowMs?: number; maxEntries?: number; now?: () => number } = {}) {
    this.#windowMs = Math.max(TASK_ID_WINDOW_MS, opts.windowMs ?? TASK_ID_WINDOW_MS);
    this.#max = opts.maxEntries ?? TASK_ID_MAX_ENTRIES;
    this.#now = opts.now ?? Date.now;
  }

  has(taskId: string): boolean {
    this.#expire();
    return this.#seen.has(taskId);
  }

  add(taskId: string): void {
    this.#expire();
    if (this.#seen.size >= this.#max) {
      const oldest = this.#seen.keys().next();
      if (!oldest.done) this.#seen.delete(oldest.value);
    }
    this.#seen.set(taskId, this.#now() + this.#windowMs);
  }

  get size(): number {
    return this.#seen.size;
  }

  #expire(): void {
    const now = this.#now();
    for (const [id, until] of this.#seen) {
      if (until > now) break;
      this.#seen.delete(id);
    }
  }
}
