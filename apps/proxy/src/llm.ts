import type { StreamDelta } from '@iicp/client';

/** Shared reading of LLM intent results (registry: llm-chat-v1, llm-completion-v1 outputs). */

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export { isRecord };

/** `choices[0]` of a result, if any. */
export function firstChoice(result: unknown): Record<string, unknown> | undefined {
  if (!isRecord(result) || !Array.isArray(result.choices)) return undefined;
  const c = result.choices[0];
  return isRecord(c) ? c : undefined;
}

/**
 * The finish reason a delta reports: the node's terminal event carries
 * `{finish_reason}`; a buffered answer carries it in `choices[0]`.
 */
export function finishReasonOf(result: unknown): string | null | undefined {
  if (isRecord(result) && 'finish_reason' in result) {
    const f = result.finish_reason;
    return typeof f === 'string' ? f : null;
  }
  const c = firstChoice(result);
  if (c && 'finish_reason' in c)
    return typeof c.finish_reason === 'string' ? c.finish_reason : null;
  return undefined;
}

/** The OpenAI-shaped `delta` of a chat chunk (content, tool calls), or one built from text. */
export function chatDeltaOf(d: StreamDelta): Record<string, unknown> | undefined {
  const c = firstChoice(d.result);
  // The node's terminal chunk is `{delta: {}, finish_reason}`: nothing to send as content.
  if (c && isRecord(c.delta)) return Object.keys(c.delta).length > 0 ? c.delta : undefined;
  if (d.text !== undefined && d.text !== '') return { content: d.text };
  return undefined;
}

/** A token count: a finite number ≥ 0 (a module function: no closure per answer). */
function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
}

/** Token counts from a result's `usage`, falling back to the RESPONSE's `tokens_used`. */
export function usageOf(
  result: unknown,
  tokensUsed: number | undefined,
): { prompt: number; completion: number; total: number } | undefined {
  const u = isRecord(result) && isRecord(result.usage) ? result.usage : undefined;
  const prompt = num(u?.prompt_tokens) ?? num(u?.input_tokens);
  const completion = num(u?.completion_tokens) ?? num(u?.output_tokens);
  const total = num(u?.total_tokens);
  if (prompt === undefined && completion === undefined && total === undefined) {
    return tokensUsed === undefined
      ? undefined
      : { prompt: 0, completion: tokensUsed, total: tokensUsed };
  }
  const p = prompt ?? 0;
  const c = completion ?? Math.max(0, (total ?? 0) - p);
  return { prompt: p, completion: c, total: total ?? p + c };
}

/** Drops top-level `null` values: OpenAI clients send `null` for "not set", IICP schemas don't take it. */
export function withoutNulls(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

/** Seconds since the epoch. */
export function unixSeconds(now: number): number {
  return Math.floor(now / 1000);
}
