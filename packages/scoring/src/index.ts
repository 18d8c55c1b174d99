// @iicp/scoring: see README.md. The public API is a curated list of named exports.

export type {
  AvailabilityWindowInput,
  CapabilityInput,
  DiscoverQueryInput,
  QosLevel,
  RankedNode,
  ScoringNode,
} from './types.ts';
export {
  DEFAULT_ELIGIBILITY_POLICY,
  DEFAULT_REPUTATION,
  DEFAULT_WEIGHTS,
  DISCOVER_LIMIT,
  LIVENESS_MS,
  MAX_CONCURRENT_RANGE,
  MIN_SCORE,
  MODEL_WEIGHTS,
  OUTSIDE_WINDOW_AVAILABILITY,
} from './constants.ts';
export type { EligibilityPolicy, ScoreWeights } from './constants.ts';
export {
  availabilityFactor,
  availabilityFactorCompiled,
  compileWindows,
  minuteOfDay,
  parseHhMm,
} from './availability.ts';
export type { CompiledWindow } from './availability.ts';
export {
  capacityRatio,
  clampMaxConcurrent,
  combineScore,
  completedTasksOf,
  effectiveMultiplier,
  modelMatch,
  normalizedLoad,
  priceScore,
  regionMatch,
  reputationOf,
  weightsFor,
} from './score.ts';
export type { ScoreBreakdown } from './score.ts';
export {
  acceptsModality,
  capabilityFor,
  compareRanked,
  effectiveLimit,
  ineligibleReason,
  passesProbation,
  rankCandidates,
  scoreBreakdown,
  scoreContext,
  scoreFloor,
} from './rank.ts';
export type { IneligibleReason, RankOptions, ScoreContext } from './rank.ts';
export { DiscoverIndex } from './discover-index.ts';
export type { DiscoverIndexOptions, HeartbeatUpdate } from './discover-index.ts';
export {
  INTENT_RISK_CATEGORIES,
  INTENT_RISK_RULES,
  INTENT_RISK_TAXONOMY_VERSION,
  PUBLIC_MESH_DEFAULT,
  classifyIntentRisk,
  intentRiskDecision,
} from './intent-risk.ts';
export type {
  IntentRiskAction,
  IntentRiskCategory,
  IntentRiskClassification,
  IntentRiskDecision,
  IntentRiskOptions,
  IntentRiskRule,
} from './intent-risk.ts';
export {
  SELECTION_PROFILE_V1,
  WEIGHTED_V1,
  filterDirectoryOrder,
  selectWeightedV1,
  weightedV1Weight,
} from './selection.ts';
export type {
  FilterOptions,
  SelectableNode,
  SelectionReceipt,
  WeightedSelection,
} from './selection.ts';
export { CIRCUIT_BREAKER_DEFAULTS, CircuitBreaker, CircuitBreakers } from './circuit-breaker.ts';
export type { BreakerState, CircuitBreakerOptions } from './circuit-breaker.ts';
export {
  DEFAULT_RETRY_POLICY,
  NODE_SWITCH_CODES,
  NON_RETRYABLE_STATUSES,
  TERMINAL_CODES,
  backoffDelayMs,
  classifyFailure,
  fallbackOrder,
  nextRetryStep,
  retryPolicyFor,
} from './retry.ts';
export type {
  AttemptFailure,
  FailureAction,
  FailureDecision,
  FallbackTarget,
  RetryPolicy,
  RetryStep,
} from './retry.ts';
