/**
 * Relay metrics on the app's Prometheus registry (the one @iicp/http serves at
 * `/metrics`). Written as prom-client "collectors" (objects with `get()`), so the
 * relay needs no direct prom-client dependency; labels are bounded enums, never
 * worker ids, paths or payload bytes.
 */
import type { RelayHub } from './hub.ts';

type MetricType = 'gauge' | 'counter' | 'histogram';
interface Sample {
  value: number;
  labels?: Record<string, string | number>;
  metricName?: string;
}
interface Collector {
  name: string;
  help: string;
  type: MetricType;
  aggregator: 'sum';
  get(): { name: string; help: string; type: MetricType; aggregator: 'sum'; values: Sample[] };
  reset(): void;
}

function collector(
  name: string,
  help: string,
  type: MetricType,
  values: () => Sample[],
): Collector {
  const c: Collector = {
    name,
    help,
    type,
    aggregator: 'sum',
    get: () => ({ name: c.name, help, type, aggregator: 'sum', values: values() }),
    reset: () => {},
  };
  return c;
}

/** Buckets for the relay's own added latency: its target is ≤ 2 ms p50 (DESIGN.md). */
export const ADDED_LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25, 1,
];

export type BindResult =
  'ok' | 'conflict' | 'session_cap' | 'rate_limited' | 'ticket_refused' | 'unavailable' | 'invalid';
export type CallResult =
  'ok' | 'timeout' | 'worker_lost' | 'cancelled' | 'shutdown' | 'unbound' | 'queue_full';
const BIND_RESULTS: readonly BindResult[] = [
  'ok',
  'conflict',
  'session_cap',
  'rate_limited',
  'ticket_refused',
  'unavailable',
  'invalid',
];
const CALL_RESULTS: readonly CallResult[] = [
  'ok',
  'timeout',
  'worker_lost',
  'cancelled',
  'shutdown',
  'unbound',
  'queue_full',
];

export class RelayMetrics {
  readonly bytesToWorker = { value: 0 };
  readonly bytesToConsumer = { value: 0 };
  readonly binds = new Map<BindResult, number>(BIND_RESULTS.map((r) => [r, 0]));
  readonly calls = new Map<CallResult, number>(CALL_RESULTS.map((r) => [r, 0]));
  readonly #buckets = new Array<number>(ADDED_LATENCY_BUCKETS.length).fill(0);
  #latencyCount = 0;
  #latencySum = 0;

  bind(r: BindResult): void {
    this.binds.set(r, (this.binds.get(r) ?? 0) + 1);
  }
  call(r: CallResult): void {
    this.calls.set(r, (this.calls.get(r) ?? 0) + 1);
  }
  /** Time the relay itself added to one call, in seconds. */
  addedLatency(seconds: number): void {
    this.#latencyCount += 1;
    this.#latencySum += seconds;
    for (let i = 0; i < ADDED_LATENCY_BUCKETS.length; i++) {
      if (seconds <= ADDED_LATENCY_BUCKETS[i]!) this.#buckets[i]! += 1;
    }
  }

  collectors(hub: RelayHub, prefix = 'iicp_relay_'): Collector[] {
    return [
      collector(`${prefix}sessions`, 'Bound worker sessions', 'gauge', () => [
        { value: hub.sessionCount },
      ]),
      collector(
        `${prefix}queued_calls`,
        'Consumer calls waiting for a worker pull',
        'gauge',
        () => [{ value: hub.queuedCalls }],
      ),
      collector(`${prefix}queued_bytes`, 'Request bytes held in the call queues', 'gauge', () => [
        { value: hub.queuedBytes },
      ]),
      collector(
        `${prefix}inflight_calls`,
        'Calls taken by a worker, not yet answered',
        'gauge',
        () => [{ value: hub.inflightCalls }],
      ),
      collector(
        `${prefix}forwarded_bytes_total`,
        'Body bytes forwarded, by direction',
        'counter',
        () => [
          { value: this.bytesToWorker.value, labels: { direction: 'to_worker' } },
          { value: this.bytesToConsumer.value, labels: { direction: 'to_consumer' } },
        ],
      ),
      collector(`${prefix}binds_total`, 'Bind attempts by result', 'counter', () =>
        [...this.binds].map(([result, value]) => ({ value, labels: { result } })),
      ),
      collector(`${prefix}calls_total`, 'Relayed consumer calls by result', 'counter', () =>
        [...this.calls].map(([result, value]) => ({ value, labels: { result } })),
      ),
      collector(
        `${prefix}added_latency_seconds`,
        'Time the relay adds to a call: arrival to hand-over plus result to reply',
        'histogram',
        () => [
          ...ADDED_LATENCY_BUCKETS.map((le, i) => ({
            value: this.#buckets[i]!,
            labels: { le },
            metricName: `${prefix}added_latency_seconds_bucket`,
          })),
          {
            value: this.#latencyCount,
            labels: { le: '+Inf' },
            metricName: `${prefix}added_latency_seconds_bucket`,
          },
          { value: this.#latencySum, metricName: `${prefix}added_latency_seconds_sum` },
          { value: this.#latencyCount, metricName: `${prefix}added_latency_seconds_count` },
        ],
      ),
    ];
  }
}
