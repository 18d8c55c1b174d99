import { Registry, collectDefaultMetrics } from 'prom-client';
import { FastHistogram } from './fast-metrics.ts';

export interface MetricsOptions {
  /** Route that serves the Prometheus text format. Default `/metrics`. */
  path?: string;
  /** Prefix for every metric name, e.g. `iicp_directory_`. Default none. */
  prefix?: string;
  /** Process metrics (CPU, memory, event loop, GC). Default true. */
  defaultMetrics?: boolean;
  /** Histogram buckets in seconds. */
  buckets?: number[];
}

/** Buckets sized for an edge whose target is p99 of a few milliseconds. */
export const DEFAULT_LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/** Route label for requests that matched no route: never the raw URL (unbounded). */
export const UNMATCHED_ROUTE_LABEL = '(unmatched)';

export interface HttpMetrics {
  readonly registry: Registry;
  /** prom-client-compatible; `labels(method, route, status)` gives a cached child. */
  readonly requestDuration: FastHistogram<'method' | 'route' | 'status_code'>;
}

/**
 * One prom-client Registry per app instance (tests build many apps in one process;
 * the global registry would collide), with the default process metrics and the
 * per-route latency histogram.
 */
export function createHttpMetrics(opts: MetricsOptions = {}): HttpMetrics {
  const registry = new Registry();
  const prefix = opts.prefix ?? '';
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix });
  const requestDuration = new FastHistogram({
    name: `${prefix}http_request_duration_seconds`,
    help: 'HTTP request latency by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: opts.buckets ?? DEFAULT_LATENCY_BUCKETS,
    registers: [registry],
  });
  return { registry, requestDuration };
}
