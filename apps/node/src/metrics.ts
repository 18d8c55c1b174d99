import { Counter, Gauge, type Registry } from 'prom-client';
import { DEFAULT_LATENCY_BUCKETS, FastCounter, FastHistogram } from '@iicp/http';

/** Intent label for CALLs naming an intent this node does not serve (labels stay bounded). */
export const OTHER_INTENT_LABEL = '(other)';

export interface NodeMetrics {
  tasks: FastCounter<'intent' | 'status'>;
  latency: FastHistogram<'intent'>;
  tokens: FastCounter<'intent'>;
  active: Gauge;
  queueDepth: Gauge;
  rejected: Counter<'reason' | 'qos'>;
}

/**
 * Task metrics on the app's registry (`/metrics`): counts by intent and outcome, a
 * latency histogram, tokens, active tasks and queue depth. Labels are intent URNs the
 * node serves, outcome codes and QoS classes; never payloads, results or task ids.
 * Queue depth is always 0: admission control refuses instead of queueing
 * (iicp-semantics.md §2.2); the gauge exists so dashboards can show it. The three
 * metrics touched on every task are @iicp/http's FastCounter/FastHistogram (prom-client's
 * exposition, without hashing the label object on each call).
 */
export function createNodeMetrics(
  registry: Registry,
  opts: { activeTasks?: () => number } = {},
): NodeMetrics {
  const registers = [registry];
  const activeTasks = opts.activeTasks;
  return {
    tasks: new FastCounter({
      name: 'iicp_node_tasks_total',
      help: 'Tasks by intent and outcome (success, error code, timeout)',
      labelNames: ['intent', 'status'] as const,
      registers,
    }),
    latency: new FastHistogram({
      name: 'iicp_node_task_duration_seconds',
      help: 'Task latency from receipt to the last byte of the answer',
      labelNames: ['intent'] as const,
      buckets: DEFAULT_LATENCY_BUCKETS,
      registers,
    }),
    tokens: new FastCounter({
      name: 'iicp_node_tokens_total',
      help: 'Tokens reported by the backend',
      labelNames: ['intent'] as const,
      registers,
    }),
    // Read when collected (a scrape), not set on every task start and end.
    active: new Gauge({
      name: 'iicp_node_active_tasks',
      help: 'Tasks executing now',
      registers,
      ...(activeTasks
        ? {
            collect(this: Gauge) {
              this.set(activeTasks());
            },
          }
        : {}),
    }),
    queueDepth: new Gauge({
      name: 'iicp_node_queue_depth',
      help: 'Tasks waiting for a slot (always 0: the node refuses rather than queues)',
      registers,
    }),
    rejected: new Counter({
      name: 'iicp_node_rejections_total',
      help: 'CALLs refused before execution, by reason and QoS class',
      labelNames: ['reason', 'qos'] as const,
      registers,
    }),
  };
}
