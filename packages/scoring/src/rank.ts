import { availabilityFactor } from './availability.ts';
import { DEFAULT_ELIGIBILITY_POLICY, DISCOVER_LIMIT, type EligibilityPolicy } from './constants.ts';
import { intentRiskDecision, type IntentRiskOptions } from './intent-risk.ts';
import {
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
  type ScoreBreakdown,
} from './score.ts';
import type {
  CapabilityInput,
  DiscoverQueryInput,
  QosLevel,
  RankedNode,
  ScoringNode,
} from './types.ts';

/** Why a node is not in a discover result. */
export type IneligibleReason =
  | 'no_capability'
  | 'modality'
  | 'unavailable'
  | 'stale'
  | 'reputation_floor'
  | 'min_reputation'
  | 'probation'
  | 'max_multiplier'
  | 'not_cip_capable'
  | 'below_min_score';

/** The capability a node registered for exactly this intent (case-sensitive, iicp-semantics.md §1.2). */
export function capabilityFor(node: ScoringNode, intent: string): CapabilityInput | undefined {
  for (const c of node.capabilities) if (c.intent === intent) return c;
  return undefined;
}

/** Whether a capability accepts an input modality; absent `input_modalities` means text only. */
export function acceptsModality(cap: CapabilityInput, modality: string): boolean {
  const m = cap.inputModalities;
  return m && m.length > 0 ? m.includes(modality) : modality === 'text';
}

/** Discover `limit` with the spec default and cap applied. */
export function effectiveLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DISCOVER_LIMIT.default;
  return Math.min(DISCOVER_LIMIT.max, Math.max(1, Math.floor(limit)));
}

/**
 * QoS probation (iicp-dir.md §3.4): interactive needs enough completed tasks; realtime
 * needs more and a high reputation; batch, best-effort and no qos have no gate.
 */
export function passesProbation(
  qos: QosLevel | null | undefined,
  completedTasks: number,
  reputation: number,
  policy: EligibilityPolicy = DEFAULT_ELIGIBILITY_POLICY,
): boolean {
  if (qos === 'interactive') return completedTasks >= policy.interactiveMinCompletedTasks;
  if (qos === 'realtime') {
    return (
      completedTasks >= policy.realtimeMinCompletedTasks &&
      reputation >= policy.realtimeMinReputation
    );
  }
  return true;
}

/**
 * Hard filters that do not depend on the score, in the order the reason is reported.
 * Region is deliberately absent: it is a preference, never an exclusion.
 */
export function ineligibleReason(
  node: ScoringNode,
  query: DiscoverQueryInput,
  policy: EligibilityPolicy = DEFAULT_ELIGIBILITY_POLICY,
): IneligibleReason | undefined {
  const cap = capabilityFor(node, query.intent);
  if (!cap) return 'no_capability';
  if (query.modality && !acceptsModality(cap, query.modality)) return 'modality';
  if (!node.available) return 'unavailable';
  if (!(query.now - node.lastSeenMs <= policy.livenessMs)) return 'stale';
  const rep = reputationOf(node);
  if (rep < policy.reputationFloor) return 'reputation_floor';
  if (typeof query.minReputation === 'number' && rep < query.minReputation) return 'min_reputation';
  if (!passesProbation(query.qos, completedTasksOf(node), rep, policy)) return 'probation';
  if (query.maxMultiplier != null && effectiveMultiplier(node) > query.maxMultiplier)
    return 'max_multiplier';
  if (query.cipCapable && node.allowRemoteInference !== true) return 'not_cip_capable';
  return undefined;
}

/** The score floor of a query: 0.1, or `min_quality_score` when higher (NaN is ignored). */
export function scoreFloor(
  query: DiscoverQueryInput,
  policy: EligibilityPolicy = DEFAULT_ELIGIBILITY_POLICY,
): number {
  const q = query.minScore;
  return typeof q === 'number' && q > policy.minScore ? q : policy.minScore;
}

/** Normalisation context of one intent: the largest capacity and the cheapest multiplier. */
export interface ScoreContext {
  readonly largestMaxConcurrent: number;
  readonly cheapestMultiplier: number;
}

/** The context over every record that registered the intent (before per-query filters). */
export function scoreContext(nodes: readonly ScoringNode[], intent: string): ScoreContext {
  let largest = 1;
  let cheapest = Infinity;
  for (const n of nodes) {
    if (!capabilityFor(n, intent)) continue;
    const mc = clampMaxConcurrent(n.maxConcurrent);
    if (mc > largest) largest = mc;
    const m = effectiveMultiplier(n);
    if (m < cheapest) cheapest = m;
  }
  return {
    largestMaxConcurrent: largest,
    cheapestMultiplier: cheapest === Infinity ? 1 : cheapest,
  };
}

/** One node's score with every term, for a query and context (the reference computation). */
export function scoreBreakdown(
  node: ScoringNode,
  query: DiscoverQueryInput,
  ctx: ScoreContext,
): ScoreBreakdown {
  const cap = capabilityFor(node, query.intent);
  const w = weightsFor(query.model);
  const availability = availabilityFactor(node.availability, query.now);
  const load = normalizedLoad(node);
  const capacity = capacityRatio(node.maxConcurrent, ctx.largestMaxConcurrent);
  const region = regionMatch(node.region, query.region);
  const reputation = reputationOf(node);
  const model = query.model && cap ? modelMatch(cap, query.model) : 0;
  const price = query.model ? priceScore(effectiveMultiplier(node), ctx.cheapestMultiplier) : 0;
  const score = combineScore(w, availability, 1 - load, capacity, region, reputation, model, price);
  return { availability, load, capacity, region, reputation, model, price, weights: w, score };
}

/** Deterministic discover order: score descending, then `node_id` ascending (code-unit order). */
export function compareRanked(a: RankedNode, b: RankedNode): number {
  if (a.score !== b.score) return b.score - a.score;
  return a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0;
}

export interface RankOptions extends IntentRiskOptions {
  readonly policy?: EligibilityPolicy;
}

/**
 * The reference discover ranking: risk gate, hard filters, score, score floor, order, limit.
 * Linear in the number of nodes and allocation-heavy; the directory uses
 * {@link DiscoverIndex}, and tests hold the two equal.
 */
export function rankCandidates(
  nodes: readonly ScoringNode[],
  query: DiscoverQueryInput,
  opts: RankOptions = {},
): RankedNode[] {
  if (intentRiskDecision(query.intent, opts).action === 'refuse') return [];
  const policy = opts.policy ?? DEFAULT_ELIGIBILITY_POLICY;
  const ctx = scoreContext(nodes, query.intent);
  const floor = scoreFloor(query, policy);
  const out: RankedNode[] = [];
  for (const node of nodes) {
    if (ineligibleReason(node, query, policy) !== undefined) continue;
    const { score } = scoreBreakdown(node, query, ctx);
    if (score >= floor) out.push({ nodeId: node.nodeId, score });
  }
  out.sort(compareRanked);
  return out.slice(0, effectiveLimit(query.limit));
}
