/**
 * The service-lifecycle profile (iicp-service-lifecycle-profile.md): a caller asks for
 * streaming by listing this URN in `constraints.required_profiles` (or
 * `optional_profiles`, §2) and accepting `text/event-stream`; the node then answers
 * `POST /v1/task` with the ordered lifecycle events of §4 as server-sent events.
 * Without the profile the answer stays one buffered RESPONSE (§6).
 */
export const LIFECYCLE_PROFILE = 'urn:iicp:profile:service-lifecycle:v1';

/** Profiles this node implements (advertised as capability `supported_profiles`). */
export const SUPPORTED_PROFILES: readonly string[] = [LIFECYCLE_PROFILE];

export type LifecycleEventName =
  'accepted' | 'partial' | 'completed' | 'failed' | 'cancelled' | 'timed_out';

/** §4 partial-event envelope (plus the RESPONSE fields on the terminal event). */
export interface LifecycleEvent {
  task_id: string;
  sequence: number;
  event: LifecycleEventName;
  is_final: boolean;
  result?: unknown;
  error?: { code: string; message: string } | null;
  [extra: string]: unknown;
}

/** One SSE frame: `event:` is the lifecycle event name, `data:` the JSON envelope. */
export function sseFrame(ev: LifecycleEvent): string {
  return `event: ${ev.event}\ndata: ${JSON.stringify(ev)}\n\n`;
}

function profileList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/**
 * Profiles a CALL requires that this node lacks (→ reject before acceptance, §2);
 * unknown optional profiles are ignored.
 */
export function missingRequiredProfiles(constraints: Record<string, unknown>): string[] {
  return profileList(constraints.required_profiles).filter((p) => !SUPPORTED_PROFILES.includes(p));
}

/** Did the caller negotiate the lifecycle profile and accept an event stream? */
export function wantsLifecycleStream(
  constraints: Record<string, unknown>,
  accept: string | undefined,
): boolean {
  const negotiated =
    profileList(constraints.required_profiles).includes(LIFECYCLE_PROFILE) ||
    profileList(constraints.optional_profiles).includes(LIFECYCLE_PROFILE);
  return (
    negotiated && typeof accept === 'string' && /(^|,)\s*text\/event-stream\s*(;|,|$)/i.test(accept)
  );
}
