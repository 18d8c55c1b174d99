/**
 * Fixed-rate token buckets keyed by client IP or Origin, for open-mesh mode. Hand
 * written: a few lines, and no rate-limit plugin is a dependency of the node.
 * Buckets idle for a full refill are dropped, and the map is bounded.
 */
export class KeyedRateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #perMinute: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #maxKeys: number;

  constructor(opts: { perMinute: number; burst?: number; now?: () => number; maxKeys?: number }) {
    this.#perMinute = opts.perMinute;
    this.#burst = opts.burst ?? Math.max(1, Math.ceil(opts.perMinute / 6));
    this.#now = opts.now ?? Date.now;
    this.#maxKeys = opts.maxKeys ?? 100_000;
  }

  /** Take one token; returns 0 when allowed, else the ms until one is available. */
  take(key: string): number {
    const now = this.#now();
    const rate = this.#perMinute / 60_000;
    let b = this.#buckets.get(key);
    if (!b) {
      if (this.#buckets.size >= this.#maxKeys) this.#sweep(now);
      b = { tokens: this.#burst, at: now };
      this.#buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.#burst, b.tokens + (now - b.at) * rate);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - b.tokens) / rate);
  }

  #sweep(now: number): void {
    const full = (this.#burst / this.#perMinute) * 60_000;
    for (const [k, b] of this.#buckets) {
      if (now - b.at >= full) this.#buckets.delete(k);
    }
    if (this.#buckets.size >= this.#maxKeys) {
      const first = this.#buckets.keys().next();
      if (!first.done) this.#buckets.delete(first.value);
    }
  }
}
