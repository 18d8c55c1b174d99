/** D-016: a task_id is remembered for at least ten minutes. */
export const TASK_ID_WINDOW_MS = 10 * 60 * 1000;
/** Memory bound of the task_id window (~100 bytes each). */
export const TASK_ID_MAX_ENTRIES = 200_000;

/**
 * Seen task_ids (D-016): 409 `conflict` on reuse inside the window. Expiry pops from
 * the front in insertion order; when the bound is reached the oldest entry goes first
 * (the window then shrinks under extreme load rather than memory growing without
 * bound). Results are never kept (payload privacy).
 *
 * The insertion order is kept in an array beside the Map (`#order[#head..]` holds the
 * Map's keys in the Map's own order) so expiry and eviction read the oldest id in O(1):
 * walking the Map from its first entry also walks every deleted slot V8 keeps at the
 * table's front until it rehashes, tens of microseconds per call once the window is
 * full. Pinned to that Map-walking version by test/idempotency.test.ts.
 */
export class TaskIdWindow {
  readonly #seen = new Map<string, number>();
  /** Ids in insertion order; `#order[#head]` is the Map's first key. */
  #order: string[] = [];
  #head = 0;
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
    if (this.#seen.size >= this.#max && this.#head < this.#order.length) {
      this.#seen.delete(this.#order[this.#head]!);
      this.#dropOldest();
    }
    // A present id keeps its place (as in a Map); a new one goes to the back.
    if (!this.#seen.has(taskId)) this.#order.push(taskId);
    this.#seen.set(taskId, this.#now() + this.#windowMs);
  }

  get size(): number {
    return this.#seen.size;
  }

  #expire(): void {
    const now = this.#now();
    while (this.#head < this.#order.length) {
      const id = this.#order[this.#head]!;
      if (this.#seen.get(id)! > now) break;
      this.#seen.delete(id);
      this.#dropOldest();
    }
  }

  /** Advance past the oldest id; the consumed front is cut off once it is half the array. */
  #dropOldest(): void {
    this.#head += 1;
    if (this.#head >= 1024 && this.#head * 2 >= this.#order.length) {
      this.#order = this.#order.slice(this.#head);
      this.#head = 0;
    }
  }
}
