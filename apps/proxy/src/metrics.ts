import { DEFAULT_LATENCY_BUCKETS, FastCounter, FastHistogram } from '@iicp/http';
import { isKnownErrorCode } from '@iicp/wire';
import type { Registry } from 'prom-client';

/**
 * Routing metrics on the app's registry (`/metrics`). Labels are the intent URN (the
 * proxy only calls the three LLM intents), the client protocol, and table error codes;
 * never payloads, models, node ids or task ids.
 */
export interface ProxyMetrics {
  /** discover + failed attempts until an answer (or the stream's first event) is in hand. */
  readonly routing: FastHistogram<'intent'>;
  /** Whole request, to the last byte of the answer. */
  readonly latency: FastHistogram<'intent' | 'outcome'>;
  readonly requests: FastCounter<'intent' | 'protocol' | 'outcome'>;
  readonly attempts: FastCounter<'intent' | 'outcome'>;
  readonly retries: FastCounter<'intent'>;
  /** Retries that moved on at once (no backoff: `capacity_exceeded`, realtime 429). */
  readonly immediateSwitches: FastCounter<'intent'>;
  /** Attempts on the configured local fallback node (iicp-semantics.md §8 step 4). */
  readonly fallbacks: FastCounter<'intent'>;
  /** Times a node's circuit breaker went from closed/half-open to open. */
  readonly breakerOpens: FastCounter;
}

/** A code that may label a metric: table codes only, so a peer cannot grow the label set. */
export function codeLabel(code: string): string {
  return isKnownErrorCode(code) ? code : 'other';
}

/**
 * Every proxy metric is one of @iicp/http's FastHistogram/FastCounter (prom-client's
 * exposition, without hashing the label object per call). `beforeRead` runs whenever any
 * of them is read (a `/metrics` scrape renders through `getForPromString`/`get`): the
 * gateway applies its deferred observations there.
 */
export function createProxyMetrics(registry: Registry, beforeRead?: () => void): ProxyMetrics {
  const registers = [registry];
  const common = { registers };
  const read = <M extends { get(): Promise<unknown> }>(metric: M): M => {
    if (!beforeRead) return metric;
    const m = metric as M & { getForPromString?: () => Promise<unknown> };
    const get = m.get.bind(m);
    m.get = (() => {
      beforeRead();
      return get();
    }) as M['get'];
    if (typeof m.getForPromString === 'function') {
      const forProm = m.getForPromString.bind(m);
      m.getForPromString = () => {
        beforeRead();
        return forProm();
      };
    }
    return m;
  };
  return {
    routing: read(
      new FastHistogram({
        name: 'iicp_proxy_routing_seconds',
        help: 'Time to route a request: discovery and attempts until a node answered',
        labelNames: ['intent'] as const,
        buckets: DEFAULT_LATENCY_BUCKETS,
        ...common,
      }),
    ),
    latency: read(
      new FastHistogram({
        name: 'iicp_proxy_request_duration_seconds',
        help: 'Latency per intent, to the last byte of the answer',
        labelNames: ['intent', 'outcome'] as const,
        buckets: DEFAULT_LATENCY_BUCKETS,
        ...common,
      }),
    ),
    requests: read(
      new FastCounter({
        name: 'iicp_proxy_requests_total',
        help: 'Client requests by intent, client protocol and outcome (ok or IICP code)',
        labelNames: ['intent', 'protocol', 'outcome'] as const,
        ...common,
      }),
    ),
    attempts: read(
      new FastCounter({
        name: 'iicp_proxy_attempts_total',
        help: 'Task attempts on nodes by outcome (ok or IICP code)',
        labelNames: ['intent', 'outcome'] as const,
        ...common,
      }),
    ),
    retries: read(
      new FastCounter({
        name: 'iicp_proxy_retries_total',
        help: 'Attempts after the first one of a task',
        labelNames: ['intent'] as const,
        ...common,
      }),
    ),
    immediateSwitches: read(
      new FastCounter({
        name: 'iicp_proxy_immediate_switches_total',
        help: 'Failed attempts followed by the next node without backoff',
        labelNames: ['intent'] as const,
        ...common,
      }),
    ),
    fallbacks: read(
      new FastCounter({
        name: 'iicp_proxy_fallbacks_total',
        help: 'Attempts on the local fallback node',
        labelNames: ['intent'] as const,
        ...common,
      }),
    ),
    breakerOpens: read(
      new FastCounter({
        name: 'iicp_proxy_breaker_opens_total',
        help: 'Node circuit breakers that opened',
        ...common,
      }),
    ),
  };
}
