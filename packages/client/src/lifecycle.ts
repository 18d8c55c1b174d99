import type { TaskError } from '@iicp/wire';

/**
 * Service lifecycle profile (iicp-service-lifecycle-profile.md). A caller asks for
 * streaming by requiring the profile in `constraints.required_profiles` (§2); over
 * HTTP this project also sends `Accept: text/event-stream`, and a node that supports
 * the profile answers `POST /v1/task` with SSE whose `data` is one §4 envelope per
 * event. See README.md ("Streaming") for the binding.
 */
export const SERVICE_LIFECYCLE_PROFILE = 'urn:iicp:profile:service-lifecycle:v1';

export const LIFECYCLE_EVENTS = [
  'accepted',
  'partial',
  'completed',
  'failed',
  'cancelled',
  'timed_out',
  'rejected',
] as const;
export type LifecycleEventName = (typeof LIFECYCLE_EVENTS)[number];

/** §4 partial-event envelope. */
export interface LifecycleEvent {
  readonly task_id: string;
  readonly sequence: number;
  readonly event: LifecycleEventName;
  readonly is_final: boolean;
  readonly result?: unknown;
  readonly error?: TaskError | null;
  readonly tokens_used?: number;
  readonly model_used?: string;
  readonly [extra: string]: unknown;
}

const TERMINAL: ReadonlySet<string> = new Set([
  'completed',
  'failed',
  'cancelled',
  'timed_out',
  'rejected',
]);

/** Checks a decoded SSE `data` value against §4; returns undefined when it is not one. */
export function asLifecycleEvent(value: unknown): LifecycleEvent | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.task_id !== 'string') return undefined;
  if (typeof v.sequence !== 'number' || !Number.isSafeInteger(v.sequence) || v.sequence < 0) {
    return undefined;
  }
  if (typeof v.event !== 'string' || !(LIFECYCLE_EVENTS as readonly string[]).includes(v.event)) {
    return undefined;
  }
  if (typeof v.is_final !== 'boolean') return undefined;
  // "is_final=true is required on that terminal event" and false otherwise (§3, §4).
  if (v.is_final !== TERMINAL.has(v.event)) return undefined;
  if (v.error != null) {
    const e = v.error as Record<string, unknown>;
    if (typeof e !== 'object' || typeof e.code !== 'string' || typeof e.message !== 'string') {
      return undefined;
    }
  }
  if (v.tokens_used !== undefined && (typeof v.tokens_used !== 'number' || v.tokens_used < 0)) {
    return undefined;
  }
  return v as LifecycleEvent;
}

/**
 * The text carried by a chunk, for LLM intents: a string chunk as the profile's
 * vectors have it, or an OpenAI-shaped `choices[0].delta.content` / `text` /
 * `message.content`. Undefined when the chunk carries no text.
 */
export function textOfChunk(result: unknown): string | undefined {
  if (typeof result === 'string') return result;
  if (result === null || typeof result !== 'object') return undefined;
  const r = result as Record<string, unknown>;
  if (typeof r.text === 'string') return r.text;
  if (typeof r.content === 'string') return r.content;
  const choice = Array.isArray(r.choices) ? (r.choices[0] as Record<string, unknown>) : undefined;
  if (!choice || typeof choice !== 'object') return undefined;
  const delta = choice.delta as Record<string, unknown> | undefined;
  if (delta && typeof delta.content === 'string') return delta.content;
  if (typeof choice.text === 'string') return choice.text;
  const message = choice.message as Record<string, unknown> | undefined;
  if (message && typeof message.content === 'string') return message.content;
  return undefined;
}
