import {
  DEFAULT_REPUTATION,
  DEFAULT_WEIGHTS,
  MAX_CONCURRENT_RANGE,
  MODEL_WEIGHTS,
  type ScoreWeights,
} from './constants.ts';
import type { CapabilityInput, ScoringNode } from './types.ts';

/**
 * Term definitions for the directory score (iicp-semantics.md §3.1, ADR-008). Every
 * term is in [0, 1]; where the spec names a term without defining it, the rule here is a
 * project decision recorded in packages/scoring/README.md.
 */

/** Clamp to [0, 1]; NaN becomes 0. */
export function clampUnit(x: number): number {
  return x >= 1 ? 1 : x > 0 ? x : 0;
}

/** `limits.max_concurrent` forced into the spec range 1–256 (so ratios never divide by 0). */
export function clampMaxConcurrent(n: number): number {
  if (!(n >= MAX_CONCURRENT_RANGE.min)) return MAX_CONCURRENT_RANGE.min;
  return n > MAX_CONCURRENT_RANGE.max ? MAX_CONCURRENT_RANGE.max : Math.floor(n);
}

/**
 * `normalized_load`: the heartbeat `load` clamped to [0, 1]; without it,
 * `active_jobs / max_concurrent` (how iicp-core.md §4.1 defines `load`); without both, 0.
 */
export function normalizedLoad(
  node: Pick<ScoringNode, 'load' | 'activeJobs' | 'maxConcurrent'>,
): number {
  const load = node.load;
  if (typeof load === 'number' && !Number.isNaN(load)) return clampUnit(load);
  const jobs = node.activeJobs;
  if (typeof jobs === 'number' && !Number.isNaN(jobs)) {
    return clampUnit(jobs / clampMaxConcurrent(node.maxConcurrent));
  }
  return 0;
}

/** `reputation_score` clamped to [0, 1]; absent or NaN → 0.5. */
export function reputationOf(node: Pick<ScoringNode, 'reputation'>): number {
  const r = node.reputation;
  return typeof r === 'number' && !Number.isNaN(r) ? clampUnit(r) : DEFAULT_REPUTATION;
}

/** `completed_tasks_count`; absent, negative or NaN → 0. */
export function completedTasksOf(node: Pick<ScoringNode, 'completedTasks'>): number {
  const c = node.completedTasks;
  return typeof c === 'number' && c > 0 ? c : 0;
}

/** The multiplier scoring uses: absent/null/negative/NaN → the spec default 1.0. */
export function effectiveMultiplier(node: Pick<ScoringNode, 'creditCostMultiplier'>): number {
  const m = node.creditCostMultiplier;
  return typeof m === 'number' && m >= 0 && m !== Infinity ? m : 1;
}

/** `capacity_ratio` = max_concurrent / the largest max_concurrent among the intent's records. */
export function capacityRatio(maxConcurrent: number, largest: number): number {
  return clampMaxConcurrent(maxConcurrent) / largest;
}

/** `price_score` = cheapest multiplier / this multiplier; the cheapest gets 1.0. */
export function priceScore(multiplier: number, cheapest: number): number {
  return multiplier <= cheapest ? 1 : cheapest / multiplier;
}

/** `region_match`: 1 when a region was asked for and equals the node's exactly, else 0. */
export function regionMatch(nodeRegion: string, wanted: string | null | undefined): number {
  return wanted ? (nodeRegion === wanted ? 1 : 0) : 0;
}

/** `model_match`: 1 when the capability lists the model exactly, else 0 (never a filter). */
export function modelMatch(cap: CapabilityInput, model: string | null | undefined): number {
  return model && cap.models ? (cap.models.includes(model) ? 1 : 0) : 0;
}

/** The weight set for a query: model-aware when `model` is present (iicp-semantics.md §3.1). */
export function weightsFor(model: string | null | undefined): ScoreWeights {
  return model ? MODEL_WEIGHTS : DEFAULT_WEIGHTS;
}

/**
 * The weighted sum. One function for every caller (reference ranking, index) so the
 * floating-point result is bit-identical however a node is scored. Clamped because the
 * decimal weights sum to 1 only up to rounding.
 */
export function combineScore(
  w: ScoreWeights,
  availability: number,
  oneMinusLoad: number,
  capacity: number,
  region: number,
  reputation: number,
  model: number,
  price: number,
): number {
  const s =
    w.availability * availability +
    w.load * oneMinusLoad +
    w.capacity * capacity +
    w.region * region +
    w.reputation * reputation +
    w.model * model +
    w.price * price;
  return s > 1 ? 1 : s;
}

/** Every term of one node's score, for explanations, vectors and debugging. */
export interface ScoreBreakdown {
  readonly availability: number;
  readonly load: number;
  readonly capacity: number;
  readonly region: number;
  readonly reputation: number;
  readonly model: number;
  readonly price: number;
  readonly weights: ScoreWeights;
  readonly score: number;
}
