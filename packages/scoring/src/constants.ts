import {
  DISCOVER_DEFAULT_LIMIT,
  DISCOVER_MAX_LIMIT,
  LIVENESS_WINDOW_MS,
  MAX_CONCURRENT_MAX,
  MAX_CONCURRENT_MIN,
  MIN_DISCOVER_SCORE,
  REPUTATION_INITIAL,
} from '@iicp/wire';

/**
 * Routing-policy constants, each beside the spec text it quotes. Protocol-wide values come
 * from @iicp/wire; the names here are the ones the policy code reads.
 */

/** Score weights of one formula (iicp-semantics.md §3.1, ADR-008). They sum to 1. */
export interface ScoreWeights {
  readonly availability: number;
  readonly load: number;
  readonly capacity: number;
  readonly region: number;
  readonly reputation: number;
  readonly model: number;
  readonly price: number;
}

/** "Phase 3 weights (no `?model=` parameter)": 0.35 / 0.28 / 0.18 / 0.09 / 0.10. */
export const DEFAULT_WEIGHTS: ScoreWeights = Object.freeze({
  availability: 0.35,
  load: 0.28,
  capacity: 0.18,
  region: 0.09,
  reputation: 0.1,
  model: 0,
  price: 0,
});

/** "Phase 5 weights (with `?model=`)": 0.25 / 0.20 / 0.15 / 0.10 / 0.10 + 0.10 model + 0.10 price. */
export const MODEL_WEIGHTS: ScoreWeights = Object.freeze({
  availability: 0.25,
  load: 0.2,
  capacity: 0.15,
  region: 0.1,
  reputation: 0.1,
  model: 0.1,
  price: 0.1,
});

/** "Outside declared windows, `availability_factor = 0.5`" (iicp-semantics.md §4). */
export const OUTSIDE_WINDOW_AVAILABILITY = 0.5;

/** "Nodes with score < 0.1 MUST be excluded" (iicp-core.md §5, DIS-4). */
export const MIN_SCORE: number = MIN_DISCOVER_SCORE;

/** "`last_seen` within 90s" (iicp-core.md §5, DIS-3). */
export const LIVENESS_MS: number = LIVENESS_WINDOW_MS;

/** New nodes start at 0.5 (iicp-semantics.md §11.3, SYB-02). */
export const DEFAULT_REPUTATION: number = REPUTATION_INITIAL;

/** `limits.max_concurrent` "MUST be in range 1–256" (iicp-core.md §2.1). */
export const MAX_CONCURRENT_RANGE = Object.freeze({
  min: MAX_CONCURRENT_MIN,
  max: MAX_CONCURRENT_MAX,
});

/** Discover `limit`: "Default 10, max 50" (iicp-core.md §5). */
export const DISCOVER_LIMIT = Object.freeze({
  default: DISCOVER_DEFAULT_LIMIT,
  max: DISCOVER_MAX_LIMIT,
});

/**
 * Probation (iicp-dir.md §3.4 `probation`, iicp-semantics.md §11.3): interactive needs
 * `completed_tasks_count ≥ 100`; realtime needs ≥ 1000 and reputation ≥ 0.8.
 * `reputationFloor`: "Nodes with `reputation_score < 0.2` SHOULD be excluded"
 * (iicp-extensions.md §2.3).
 */
export interface EligibilityPolicy {
  readonly interactiveMinCompletedTasks: number;
  readonly realtimeMinCompletedTasks: number;
  readonly realtimeMinReputation: number;
  readonly reputationFloor: number;
  readonly livenessMs: number;
  readonly minScore: number;
}

export const DEFAULT_ELIGIBILITY_POLICY: EligibilityPolicy = Object.freeze({
  interactiveMinCompletedTasks: 100,
  realtimeMinCompletedTasks: 1000,
  realtimeMinReputation: 0.8,
  reputationFloor: 0.2,
  livenessMs: LIVENESS_MS,
  minScore: MIN_SCORE,
});
