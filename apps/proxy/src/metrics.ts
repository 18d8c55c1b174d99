import { DEFAULT_LATENCY_BUCKETS } from '@iicp/http';
import { isKnownErrorCode } from '@iicp/wire';
import { Counter, Histogram, type Registry } from 'prom-client';

/**
 * Routing metrics on the app's registry (`/metrics`). Labels are the intent URN (the
 * proxy only calls the three LLM intents), the client protocol, and table error codes;
 * never payloads, models, node ids or task ids.
 */
export interface ProxyMetrics {
  /** discover + failed attempts until an answer (or the stream's first event) is in hand. */
  readonly routing: Histogram<'intent'>;
  /** Whole request, to the last byte of the answer. */
  readonly latency: Histogram<'intent' | 'outcome'>;
  readonly requests: Counter<'intent' | 'protocol' | 'outcome'>;
  readonly attempts: Counter<'intent' | 'outcome'>;
  readonly retries: Counter<'intent'>;
  /** Retries that moved on at once (no backoff: `capacity_exceeded`, realtime 429). */
  readonly immediateSwitches: Counter<'intent'>;
  /** Attempts on the configured local fallback node (iicp-semantics.md §8 step 4). */
  readonly fallbacks: Counter<'intent'>;
  /** Times a node's circuit breaker went from closed/half-open to open. */
  readonly breakerOpens: Counter;
}

/** A code that may label a metric: table codes only, so a peer cannot grow the label set. */
export function codeLabel(code: string): string {
  return isKnownErrorCode(code) ? code : 'other';
}

/**
 * `beforeRead` runs whenever any of these metrics is read (a `/metrics` scrape, `get()`):
 * the gateway applies its deferred observations there.
 */
export function createProxyMetrics(registry: Registry, beforeRead?: () => void): ProxyMetrics {
  const registers = [registry];
  const collect = beforeRead
    ? () => {
        beforeRead();
      }
    : undefined;
  const common = collect ? { registers, collect } : { registers };
  return {
    routing: new Histogram({
      name: 'iicp_proxy_routing_seconds',
      help: 'Time to route a request: discovery and attempts until a node answered',
      labelNames: ['intent'] as const,
      buckets: DEFAULT_LATENCY_BUCKETS,
      ...common,
    }),
    latency: new Histogram({
      name: 'iicp_proxy_request_duration_seconds',
      help: 'Latency per intent, to the last byte of the answer',
      labelNames: ['intent', 'outcome'] as const,
      buckets: DEFAULT_LATENCY_BUCKETS,
      ...common,
    }),
    requests: new Counter({
      name: 'iicp_proxy_requests_total',
      help: 'Client requests by intent, client protocol and outcome (ok or IICP code)',
      labelNames: ['intent', 'protocol', 'outcome'] as const,
      ...common,
    }),
    attempts: new Counter({
      name: 'iicp_proxy_attempts_total',
      help: 'Task attempts on nodes by outcome (ok or IICP code)',
      labelNames: ['intent', 'outcome'] as const,
      ...common,
    }),
    retries: new Counter({
      name: 'iicp_proxy_retries_total',
      help: 'Attempts after the first one of a task',
      labelNames: ['intent'] as const,
      ...common,
    }),
    immediateSwitches: new Counter({
      name: 'iicp_proxy_immediate_switches_total',
      help: 'Failed attempts followed by the next node without backoff',
      labelNames: ['intent'] as const,
      ...common,
    }),
    fallbacks: new Counter({
      name: 'iicp_proxy_fallbacks_total',
      help: 'Attempts on the local fallback node',
      labelNames: ['intent'] as const,
      ...common,
    }),
    breakerOpens: new Counter({
      name: 'iicp_proxy_breaker_opens_total',
      help: 'Node circuit breakers that opened',
      ...common,
    }),
  };
}
