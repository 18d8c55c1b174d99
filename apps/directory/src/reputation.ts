/**
 * Outcome-v2 reputation (iicp-semantics.md §11; spec/decisions.md D-022) as a pure
 * rule: per-task deltas, the per-call positive cap (RT-01, +0.10), the hourly velocity
 * ceiling (RT-01b, +0.20 per node per rolling hour, the window opening at the first
 * positive event), and the [0,1] clamp. Negative deltas are never capped or windowed.
 * Audit reports never reach this rule (D-029); nor do elapsed time or probes (§11.2).
 */

/** Task completed successfully (§11.2). */
export const REPUTATION_SUCCESS_DELTA = 0.01;
/** Task failed: adapter error or 5xx backend (§11.2). */
export const REPUTATION_FAILURE_DELTA = -0.05;
/** Task timed out (§11.2). */
export const REPUTATION_TIMEOUT_DELTA = -0.1;
/** Positive part of one heartbeat's (or report's) summed delta (§11.2 RT-01). */
export const MAX_POSITIVE_DELTA_PER_CALL = 0.1;
/** Positive gain per node per rolling hour (§11.6 RT-01b). */
export const MAX_HOURLY_GAIN = 0.2;
export const HOURLY_WINDOW_MS = 3600_000;
/** Initial score of every node (§11.3). */
export const INITIAL_REPUTATION = 0.5;

export interface TaskOutcomes {
  readonly success: number;
  readonly failed: number;
  readonly timedOut: number;
}

/** Σ per-task delta of a batch, split into its capped positive and full negative part. */
export function outcomeDelta(o: TaskOutcomes): { positive: number; negative: number } {
  const sum =
    o.success * REPUTATION_SUCCESS_DELTA +
    o.failed * REPUTATION_FAILURE_DELTA +
    o.timedOut * REPUTATION_TIMEOUT_DELTA;
  return {
    positive: Math.min(Math.max(0, sum), MAX_POSITIVE_DELTA_PER_CALL),
    negative: Math.min(0, sum),
  };
}

export interface ReputationState {
  readonly score: number;
  readonly hourlyGain: number;
  /** Epoch ms of the window's first positive event, or null. */
  readonly windowStart: number | null;
}

/** Scores are kept to 1e-9 so repeated float sums do not drift past the clamp. */
function round(x: number): number {
  return Math.round(x * 1e9) / 1e9;
}

/** Apply one call's delta under the hourly ceiling; returns the next state. */
export function applyReputationDelta(
  s: ReputationState,
  delta: { positive: number; negative: number },
  now: number,
): ReputationState {
  let gain = s.hourlyGain;
  let start = s.windowStart;
  let allowed = 0;
  if (delta.positive > 0) {
    if (start === null || now - start >= HOURLY_WINDOW_MS || now < start) {
      start = now;
      gain = 0;
    }
    allowed = Math.min(delta.positive, Math.max(0, MAX_HOURLY_GAIN - gain));
    gain = round(gain + allowed);
  }
  const score = round(Math.min(1, Math.max(0, s.score + allowed + delta.negative)));
  return { score, hourlyGain: gain, windowStart: start };
}
