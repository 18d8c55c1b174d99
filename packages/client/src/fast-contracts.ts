import { CHAT_ROLES } from '@iicp/wire';

/**
 * Hand-written checks of the `llm:chat:v1` payload contract (packages/wire's
 * `LlmChatInputSchema` / `LlmChatOutputSchema`) for the client's hot path. Each answers
 * `true` only when the schema certainly accepts the value; anything else (`false`) goes
 * to the schema, which then decides and words the error. The client only needs the
 * verdict (the value it sends or returns is the caller's / the node's own), so a `true`
 * here replaces a schema walk per call. Pinned to the schemas by a fixed-seed property
 * test (test/fast-contracts.test.ts): `true` never meets a value the schema refuses.
 */

const ROLES: ReadonlySet<unknown> = new Set<unknown>(CHAT_ROLES);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** `LlmChatInputSchema`: messages (≥ 1 turns with a role and content), sampling options. */
export function chatInputSurelyValid(p: Record<string, unknown>): boolean {
  if (!isPlainObject(p)) return false;
  const messages = p.messages;
  if (!Array.isArray(messages) || messages.length === 0) return false;
  for (let i = 0; i < messages.length; i++) {
    const m: unknown = messages[i];
    if (!isPlainObject(m) || !ROLES.has(m.role)) return false;
    if (!Object.hasOwn(m, 'content') || m.content === undefined) return false;
  }
  const maxTokens = p.max_tokens;
  if (maxTokens !== undefined && !(Number.isSafeInteger(maxTokens) && (maxTokens as number) >= 1))
    return false;
  const t = p.temperature;
  if (t !== undefined && !(typeof t === 'number' && t >= 0 && t <= 2)) return false;
  const stop = p.stop;
  if (stop !== undefined) {
    if (!Array.isArray(stop)) return false;
    for (let i = 0; i < stop.length; i++) if (typeof stop[i] !== 'string') return false;
  }
  return true;
}

/** `LlmChatOutputSchema`: choices (index, message object, finish reason), usage object. */
export function chatOutputSurelyValid(r: unknown): boolean {
  if (!isPlainObject(r)) return false;
  const choices = r.choices;
  if (!Array.isArray(choices)) return false;
  for (let i = 0; i < choices.length; i++) {
    const c: unknown = choices[i];
    if (!isPlainObject(c)) return false;
    const index = c.index;
    if (index !== undefined && !(Number.isSafeInteger(index) && (index as number) >= 0))
      return false;
    if (!isPlainObject(c.message)) return false;
    const f = c.finish_reason;
    if (f !== undefined && f !== null && typeof f !== 'string') return false;
  }
  const usage = r.usage;
  if (usage !== undefined && !isPlainObject(usage)) return false;
  return true;
}
