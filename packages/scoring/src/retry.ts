import type { QosLevel } from './types.ts';

/**
 * Retry, backoff and fallback (iicp-semantics.md §2.1, §2.2, §6.1, §8). Every retry goes
 * to the next node of the fallback order (PROXY-TIMEOUT-01); what differs is whether
 * the client waits first.
 */

/** "max 3 attempts · 200ms base delay · 2× multiplier · ±20% jitter" (§6.1). */
export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly multiplier: number;
  readonly jitter: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxAttempts: 3,
  baseDelayMs: 200,
  multiplier: 2,
  jitter: 0.2,
});

/**
 * Attempts per QoS class (§2.1 "Retry guidance"): realtime 1 per node (every retry is a
 * node switch anyway, so the §6.1 total of 3 stays), interactive at most 2, batch up to 3,
 * best-effort up to 5; no class → §6.1 default.
 */
export function retryPolicyFor(qos: QosLevel | null | undefined): RetryPolicy {
  switch (qos) {
    case 'interactive':
      return { ...DEFAULT_RETRY_POLICY, maxAttempts: 2 };
    case 'best-effort':
      return { ...DEFAULT_RETRY_POLICY, maxAttempts: 5 };
    default:
      return DEFAULT_RETRY_POLICY;
  }
}

/**
 * Delay before retry number `retry` (1 = the second attempt):
 * `base × multiplier^(retry−1) × (1 + jitter × (2·random − 1))`, `random` ∈ [0, 1).
 */
export function backoffDelayMs(
  retry: number,
  random: number,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
): number {
  const r = random >= 0 ? (random < 1 ? random : 1) : 0;
  const nominal = policy.baseDelayMs * policy.multiplier ** Math.max(0, retry - 1);
  return nominal * (1 + policy.jitter * (2 * r - 1));
}

/** What went wrong with one attempt. */
export type AttemptFailure =
  | { readonly kind: 'connect' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'peer_closed' }
  /** The caller gave up (abort signal): never retried, never the node's fault. */
  | { readonly kind: 'aborted' }
  | { readonly kind: 'http'; readonly status: number; readonly code?: string | null | undefined };

/**
 * - `retry_backoff`: wait the backoff delay, then try the next node;
 * - `switch_now`: try the next node immediately (§2.2 `capacity_exceeded`);
 * - `fail`: terminal; answer the caller with this error.
 */
export type FailureAction = 'retry_backoff' | 'switch_now' | 'fail';

export interface FailureDecision {
  readonly action: FailureAction;
  /** Whether the failure counts toward the node's circuit breaker. */
  readonly breaker: boolean;
}

/** "SHOULD NOT retry" statuses of §6.1: the request itself is wrong or not the node's to fix. */
export const NON_RETRYABLE_STATUSES: readonly number[] = Object.freeze([
  400, 401, 403, 409, 422, 502,
]);

/** Codes that mean "this node is full, another one may not be" (§2.2; `overloaded` is its legacy name). */
export const NODE_SWITCH_CODES: readonly string[] = Object.freeze([
  'capacity_exceeded',
  'overloaded',
]);

/** Codes that are terminal whatever their status (§1.3: the policy refusal is not retried). */
export const TERMINAL_CODES: readonly string[] = Object.freeze(['IICP-POLICY-001']);

/**
 * Classifies one failed attempt (§6.1 table, §2.2 node switch). Decisions beyond the
 * table: 500, 504 and other 5xx retry with backoff on the next node (504 is a timeout,
 * PROXY-TIMEOUT-01); other 4xx are terminal; a realtime 429 switches at once (§2.1).
 * Client-side errors (4xx, abort, capacity) do not count toward the breaker.
 */
export function classifyFailure(failure: AttemptFailure, qos?: QosLevel | null): FailureDecision {
  switch (failure.kind) {
    case 'connect':
    case 'timeout':
    case 'peer_closed':
      return { action: 'retry_backoff', breaker: true };
    case 'aborted':
      return { action: 'fail', breaker: false };
    case 'http': {
      const { status, code } = failure;
      if (code && TERMINAL_CODES.includes(code)) return { action: 'fail', breaker: false };
      if (code && NODE_SWITCH_CODES.includes(code)) return { action: 'switch_now', breaker: false };
      if (NON_RETRYABLE_STATUSES.includes(status))
        return { action: 'fail', breaker: status === 502 };
      if (status === 429)
        return { action: qos === 'realtime' ? 'switch_now' : 'retry_backoff', breaker: false };
      if (status >= 500) return { action: 'retry_backoff', breaker: true };
      return { action: 'fail', breaker: false };
    }
  }
}

export type RetryStep =
  | { readonly retry: true; readonly delayMs: number }
  | { readonly retry: false; readonly reason: 'terminal' | 'attempts_exhausted' };

/**
 * After attempt number `attempt` (1-based) failed: retry, and after how long?
 * `random` feeds the jitter (inject a seeded source in tests).
 */
export function nextRetryStep(
  attempt: number,
  failure: AttemptFailure,
  random: number,
  opts: { readonly policy?: RetryPolicy; readonly qos?: QosLevel | null } = {},
): RetryStep {
  const policy = opts.policy ?? retryPolicyFor(opts.qos);
  const d = classifyFailure(failure, opts.qos);
  if (d.action === 'fail') return { retry: false, reason: 'terminal' };
  if (attempt >= policy.maxAttempts) return { retry: false, reason: 'attempts_exhausted' };
  return {
    retry: true,
    delayMs: d.action === 'switch_now' ? 0 : backoffDelayMs(attempt, random, policy),
  };
}

/** One step of the fallback chain (§8). */
export type FallbackTarget<T> =
  { readonly kind: 'node'; readonly node: T } | { readonly kind: 'local' };

/**
 * The fallback chain (§8): the best remaining nodes in order (breakers already skipped by
 * the caller's filter), one per attempt up to `maxAttempts`, then the local fallback if
 * one is configured. After the last target the caller answers with a structured error
 * (`no_available_node`, or 503 `IICP-E033` when there were no candidates at all).
 */
export function fallbackOrder<T>(
  nodes: readonly T[],
  opts: { readonly maxAttempts?: number; readonly localFallback?: boolean } = {},
): FallbackTarget<T>[] {
  const max = opts.maxAttempts ?? DEFAULT_RETRY_POLICY.maxAttempts;
  const out: FallbackTarget<T>[] = [];
  for (let i = 0; i < nodes.length && i < max; i++) out.push({ kind: 'node', node: nodes[i]! });
  if (opts.localFallback) out.push({ kind: 'local' });
  return out;
}
