/**
 * The common `POST /v1/chat/completions` body read without the zod walk: returns exactly
 * what `OpenAiChatRequestSchema.parse` returns (a copy: the schema's keys first, in the
 * schema's order, then the other keys in the body's order; each message copied the same
 * way), or `undefined` whenever it is not certain, and the route's schema then runs (and
 * words any error). Pinned to the schema by a fixed-seed property test
 * (test/fast-body.test.ts), key order and `undefined`-valued keys included.
 *
 * Taken without the schema: a plain object whose schema fields are absent, `undefined`,
 * `null` where the schema allows it, or well-formed (`stream_options` only absent or
 * `null`), with plain-object messages with a known role. Anything else goes to zod.
 */

const ROLES: ReadonlySet<unknown> = new Set<unknown>([
  'system',
  'developer',
  'user',
  'assistant',
  'tool',
]);

/** The schema's own keys, in its order (openai.ts `OpenAiChatRequestSchema`). */
const SHAPE = [
  'model',
  'messages',
  'stream',
  'stream_options',
  'max_tokens',
  'max_completion_tokens',
  'temperature',
  'stop',
] as const;
const SHAPE_KEYS: ReadonlySet<string> = new Set<string>(SHAPE);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

const has = (o: object, k: string): boolean => Object.hasOwn(o, k);

/** `z.int().min(1).nullish()` */
function okCount(v: unknown): boolean {
  return v === undefined || v === null || (Number.isSafeInteger(v) && (v as number) >= 1);
}

function copyMessage(m: unknown): Record<string, unknown> | undefined {
  if (!isPlainObject(m) || !ROLES.has(m.role)) return undefined;
  const out: Record<string, unknown> = { role: m.role };
  if (has(m, 'content')) out.content = m.content;
  for (const k in m) {
    if (k === 'role' || k === 'content') continue;
    if (k === '__proto__' || !has(m, k)) return undefined;
    out[k] = m[k];
  }
  return out;
}

export function fastChatBody(input: unknown): Record<string, unknown> | undefined {
  if (!isPlainObject(input)) return undefined;
  const out: Record<string, unknown> = {};
  if (has(input, 'model')) {
    const model = input.model;
    if (model !== undefined && !(typeof model === 'string' && model.length >= 1)) return undefined;
    out.model = model;
  }
  const messages = input.messages;
  if (!Array.isArray(messages) || messages.length === 0) return undefined;
  const copied = new Array<Record<string, unknown>>(messages.length);
  for (let i = 0; i < messages.length; i++) {
    const m = copyMessage(messages[i]);
    if (!m) return undefined;
    copied[i] = m;
  }
  out.messages = copied;
  if (has(input, 'stream')) {
    const s = input.stream;
    if (s !== undefined && s !== null && typeof s !== 'boolean') return undefined;
    out.stream = s;
  }
  if (has(input, 'stream_options')) {
    const o = input.stream_options;
    if (o !== undefined && o !== null) return undefined;
    out.stream_options = o;
  }
  if (has(input, 'max_tokens')) {
    if (!okCount(input.max_tokens)) return undefined;
    out.max_tokens = input.max_tokens;
  }
  if (has(input, 'max_completion_tokens')) {
    if (!okCount(input.max_completion_tokens)) return undefined;
    out.max_completion_tokens = input.max_completion_tokens;
  }
  if (has(input, 'temperature')) {
    const t = input.temperature;
    if (t !== undefined && t !== null && !(typeof t === 'number' && t >= 0 && t <= 2))
      return undefined;
    out.temperature = t;
  }
  if (has(input, 'stop')) {
    const stop = input.stop;
    if (Array.isArray(stop)) {
      if (stop.length > 16) return undefined;
      for (let i = 0; i < stop.length; i++) if (typeof stop[i] !== 'string') return undefined;
      out.stop = stop.slice();
    } else if (stop === undefined || stop === null || typeof stop === 'string') {
      out.stop = stop;
    } else {
      return undefined;
    }
  }
  for (const k in input) {
    if (SHAPE_KEYS.has(k)) continue;
    if (k === '__proto__' || !has(input, k)) return undefined;
    out[k] = input[k];
  }
  return out;
}
