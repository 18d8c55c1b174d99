/**
 * Reconnect delays of the relay worker: capped exponential backoff with jitter.
 * iicp-semantics.md §6.1 gives "200ms base delay · 2× multiplier · ±20% jitter" for
 * task retries (@iicp/scoring `backoffDelayMs`); a lost relay session is not a task
 * retry, so the base is larger and a cap keeps a long outage from growing the delay
 * without bound. The jitter only shortens the delay, so `capMs` is a hard bound and
 * nodes that lost the same relay do not come back in lockstep.
 */

export interface ReconnectBackoff {
  /** Delay before the first reconnect attempt. */
  readonly baseMs: number;
  /** No delay is ever longer. */
  readonly capMs: number;
  /** Fraction of the delay removed at random, in [0, 1). */
  readonly jitter: number;
}

export const DEFAULT_RECONNECT_BACKOFF: ReconnectBackoff = Object.freeze({
  baseMs: 500,
  capMs: 30_000,
  jitter: 0.2,
});

/**
 * Delay before reconnect attempt `attempt` (1 = the first after a loss):
 * `min(cap, base × 2^(attempt−1)) × (1 − jitter × random)`, `random` ∈ [0, 1).
 */
export function reconnectDelayMs(
  attempt: number,
  random: number,
  policy: ReconnectBackoff = DEFAULT_RECONNECT_BACKOFF,
): number {
  const r = random >= 0 ? (random < 1 ? random : 1) : 0;
  const n = Number.isFinite(attempt) ? Math.max(1, Math.floor(attempt)) : 1;
  // 2^(n-1) overflows to Infinity for huge n; min() keeps the cap.
  const nominal = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(n - 1, 1023));
  return nominal * (1 - policy.jitter * r);
}
