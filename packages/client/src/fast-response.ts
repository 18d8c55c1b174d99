import type { TaskResponse } from '@iicp/wire';

/**
 * A hand-written reading of the common successful RESPONSE (iicp-core.md §3.2) that
 * returns exactly what `TaskResponseSchema.parse` returns, or `undefined` whenever it is
 * not certain, in which case the caller runs the schema (which then also words any
 * error). Every task answer passes here, and the schema walk was a few percent of the
 * proxy's CPU per task. Pinned to the schema by a property test (test/fast-response.test.ts),
 * key order included.
 *
 * Accepted without the schema: a plain object holding only the members below, with
 * `status: "success"`, `result` present, `error` null or absent, `metrics` with only
 * `latency_ms` (and `tokens_used`), `trace` with only `trace_id`. Anything else (error
 * answers, `billing`, unknown members, odd values) goes to the schema.
 */
export function fastTaskResponse(input: unknown): TaskResponse | undefined {
  if (!isPlainObject(input)) return undefined;
  for (const k of Object.keys(input)) if (!KNOWN.has(k)) return undefined;
  const { task_id, status, result, metrics, model_used, error, generated_by_ai, trace } = input;
  if (typeof task_id !== 'string' || !UUID.test(task_id)) return undefined;
  if (status !== 'success' || result === undefined) return undefined;
  if (has(input, 'error') && error !== null) return undefined;
  if (has(input, 'model_used') && typeof model_used !== 'string') return undefined;
  if (has(input, 'generated_by_ai') && typeof generated_by_ai !== 'boolean') return undefined;
  // Shape order, as the schema builds its output: task_id, status, result, metrics,
  // model_used, error, generated_by_ai, billing, trace.
  const out: Record<string, unknown> = { task_id, status, result };
  if (has(input, 'metrics')) {
    const m = fastMetrics(metrics);
    if (!m) return undefined;
    out.metrics = m;
  }
  if (has(input, 'model_used')) out.model_used = model_used;
  if (has(input, 'error')) out.error = null;
  if (has(input, 'generated_by_ai')) out.generated_by_ai = generated_by_ai;
  if (has(input, 'trace')) {
    const t = fastTrace(trace);
    if (!t) return undefined;
    out.trace = t;
  }
  return out as TaskResponse;
}

const KNOWN = new Set([
  'task_id',
  'status',
  'result',
  'metrics',
  'model_used',
  'error',
  'generated_by_ai',
  'trace',
]);

/** `UuidSchema`'s pattern (packages/wire/src/primitives.ts): any RFC 4122-shaped UUID. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const has = (o: object, k: string): boolean => Object.hasOwn(o, k);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

function ownKeysWithin(v: Record<string, unknown>, allowed: readonly string[]): boolean {
  for (const k of Object.keys(v)) if (!allowed.includes(k)) return false;
  return true;
}

/** `TaskMetricsSchema`: latency_ms a finite number ≥ 0, tokens_used a safe integer ≥ 0. */
function fastMetrics(v: unknown): Record<string, unknown> | undefined {
  if (!isPlainObject(v) || !ownKeysWithin(v, ['latency_ms', 'tokens_used'])) return undefined;
  const { latency_ms, tokens_used } = v;
  if (typeof latency_ms !== 'number' || !Number.isFinite(latency_ms) || !(latency_ms >= 0))
    return undefined;
  if (!has(v, 'tokens_used')) return { latency_ms };
  if (typeof tokens_used !== 'number' || !Number.isSafeInteger(tokens_used) || tokens_used < 0)
    return undefined;
  return { latency_ms, tokens_used };
}

/** `TaskTraceSchema` with only `trace_id` (a string of 1–64 UTF-16 units) or empty. */
function fastTrace(v: unknown): Record<string, unknown> | undefined {
  if (!isPlainObject(v) || !ownKeysWithin(v, ['trace_id'])) return undefined;
  if (!has(v, 'trace_id')) return {};
  const id = v.trace_id;
  if (typeof id !== 'string' || id.length < 1 || id.length > 64) return undefined;
  return { trace_id: id };
}
