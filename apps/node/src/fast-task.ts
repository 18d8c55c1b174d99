import {
  CHAT_ROLES,
  isIntentUrn,
  PRIORITY_VALUES,
  QOS_VALUES,
  TIMEOUT_MS_MAX,
  TIMEOUT_MS_MIN,
  UUID_V4_PATTERN,
  type TaskRequest,
} from '@iicp/wire';

/**
 * A hand-written reading of the common CALL (iicp-core.md §3.1) that returns exactly
 * what `TaskRequestSchema.parse` returns, or `undefined` whenever it is not certain, in
 * which case the route runs the schema (which then also words any error). Every task
 * passes here; the schema walk was a few percent of the node's CPU per task. Pinned to
 * the schema by a property test (test/fast-task.test.ts), key order included.
 *
 * Accepted without the schema: a plain object holding only `task_id`, `intent`,
 * `payload`, `constraints` (`timeout_ms`, `qos`, `priority`, and `required_profiles` /
 * `optional_profiles` as arrays of strings), `trace` (`trace_id`) and `auth`
 * (`node_token`). Anything else (`billing`, `cip`, other constraints, unknown
 * members, an own `__proto__` key in the payload, odd values) goes to the schema.
 */
export function fastTaskRequest(input: unknown): TaskRequest | undefined {
  if (!isPlainObject(input) || !keysWithin(input, TOP)) return undefined;
  const { task_id, intent, payload, constraints, trace, auth } = input;
  if (typeof task_id !== 'string' || !UUID_V4_PATTERN.test(task_id)) return undefined;
  if (!isIntentUrn(intent)) return undefined;
  const p = fastPayload(payload);
  const c = fastConstraints(constraints);
  if (!p || !c) return undefined;
  // Shape order, as the schema builds its output: task_id, intent, payload,
  // constraints, trace, billing, cip, auth.
  const out: Record<string, unknown> = { task_id, intent, payload: p, constraints: c };
  if (has(input, 'trace')) {
    if (!isPlainObject(trace) || !keysWithin(trace, ['trace_id'])) return undefined;
    if (has(trace, 'trace_id')) {
      const id = trace.trace_id;
      if (typeof id !== 'string' || id.length < 1 || id.length > 64) return undefined;
      out.trace = { trace_id: id };
    } else {
      out.trace = {};
    }
  }
  if (has(input, 'auth')) {
    if (!isPlainObject(auth) || !keysWithin(auth, ['node_token'])) return undefined;
    const token = auth.node_token;
    if (typeof token !== 'string' || token.length < 1) return undefined;
    out.auth = { node_token: token };
  }
  return out as TaskRequest;
}

const TOP = ['task_id', 'intent', 'payload', 'constraints', 'trace', 'auth'] as const;

const has = (o: object, k: string): boolean => Object.hasOwn(o, k);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

function keysWithin(v: Record<string, unknown>, allowed: readonly string[]): boolean {
  for (const k of Object.keys(v)) if (!allowed.includes(k)) return false;
  return true;
}

/** `TaskPayloadSchema` (a record): a top-level copy, values as they are. */
function fastPayload(v: unknown): Record<string, unknown> | undefined {
  if (!isPlainObject(v) || has(v, '__proto__')) return undefined;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = v[k];
  return out;
}

/**
 * Members of `constraints` the schema does not declare (it is a loose object: they pass
 * through by reference, after the declared ones, in input order) that the fast path
 * takes when they hold an array of strings: the service-lifecycle profile lists every
 * streamed CALL carries (iicp-service-lifecycle-profile.md §2).
 */
const PROFILE_LISTS = ['required_profiles', 'optional_profiles'] as const;

const CONSTRAINT_KEYS = ['timeout_ms', 'qos', 'priority', ...PROFILE_LISTS] as const;

function isStringArray(v: unknown): boolean {
  if (!Array.isArray(v) || Object.getPrototypeOf(v) !== Array.prototype) return false;
  for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'string') return false;
  return true;
}

/**
 * `TaskConstraintsSchema` with only `timeout_ms`, `qos`, `priority` and the profile
 * lists.
 */
function fastConstraints(v: unknown): Record<string, unknown> | undefined {
  if (!isPlainObject(v) || !keysWithin(v, CONSTRAINT_KEYS)) return undefined;
  const t = v.timeout_ms;
  if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < TIMEOUT_MS_MIN || t > TIMEOUT_MS_MAX)
    return undefined;
  const out: Record<string, unknown> = { timeout_ms: t };
  if (has(v, 'qos')) {
    if (!(QOS_VALUES as readonly unknown[]).includes(v.qos)) return undefined;
    out.qos = v.qos;
  }
  if (has(v, 'priority')) {
    if (!(PRIORITY_VALUES as readonly unknown[]).includes(v.priority)) return undefined;
    out.priority = v.priority;
  }
  for (const k of Object.keys(v)) {
    if (k !== 'required_profiles' && k !== 'optional_profiles') continue;
    if (!isStringArray(v[k])) return undefined;
    out[k] = v[k];
  }
  return out;
}

const CHAT_INTENT = 'urn:iicp:intent:llm:chat:v1';

/**
 * `true` only when `validateIntentPayload(intent, payload)` certainly passes, read by
 * hand for the common llm:chat:v1 input (messages with a known role and a `content`,
 * `max_tokens`, `temperature` and `stop` absent or in range); `false` means "ask the
 * schema", which then also words any error. Pinned to the schema by a property test
 * (test/fast-task.test.ts).
 */
export function chatPayloadSurelyValid(intent: string, payload: Record<string, unknown>): boolean {
  if (intent !== CHAT_INTENT || !isPlainObject(payload)) return false;
  const messages = payload.messages;
  if (!Array.isArray(messages) || messages.length === 0) return false;
  for (let i = 0; i < messages.length; i++) {
    const m: unknown = messages[i];
    if (!isPlainObject(m) || !has(m, 'content')) return false;
    if (!(CHAT_ROLES as readonly unknown[]).includes(m.role)) return false;
  }
  if (has(payload, 'max_tokens')) {
    const t = payload.max_tokens;
    if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 1) return false;
  }
  if (has(payload, 'temperature')) {
    const t = payload.temperature;
    if (typeof t !== 'number' || !(t >= 0 && t <= 2)) return false;
  }
  if (has(payload, 'stop')) {
    const stop = payload.stop;
    if (!Array.isArray(stop)) return false;
    for (let i = 0; i < stop.length; i++) if (typeof stop[i] !== 'string') return false;
  }
  return true;
}
