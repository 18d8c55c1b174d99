/**
 * Narrow inputs for the routing policy. Scoring runs on the directory's hot path, so it
 * takes only the facts it needs, already flattened, rather than whole wire messages; the
 * directory maps its stored REGISTER/HEARTBEAT state onto these shapes once per update.
 */

import type { Qos } from '@iicp/wire';

/** QoS class (iicp-core.md §3.1, iicp-semantics.md §2.1); the wire's `Qos`. */
export type QosLevel = Qos;

/** One availability window as declared at REGISTER (iicp-semantics.md §4): UTC `HH:MM`. */
export interface AvailabilityWindowInput {
  readonly start: string;
  readonly end: string;
  /** Fraction of the node offered to the mesh inside the window, in [0, 1]. */
  readonly share: number;
}

/** The part of a capability (iicp-core.md §2.1) that routing looks at. */
export interface CapabilityInput {
  readonly intent: string;
  readonly models?: readonly string[] | null | undefined;
  /** ADR-046 input modalities; absent means `["text"]`. */
  readonly inputModalities?: readonly string[] | null | undefined;
}

/**
 * A node as the directory knows it: REGISTER facts plus the latest HEARTBEAT.
 * Optional fields take the spec defaults documented on each.
 */
export interface ScoringNode {
  readonly nodeId: string;
  readonly region: string;
  readonly capabilities: readonly CapabilityInput[];
  /** `limits.max_concurrent` (1–256; clamped into that range for scoring). */
  readonly maxConcurrent: number;
  /** Heartbeat `available`; false makes the node ineligible (iicp-core.md §5). */
  readonly available: boolean;
  /** Epoch milliseconds of the last valid heartbeat (or the registration). */
  readonly lastSeenMs: number;
  /** Heartbeat `load` in [0, 1]; absent → `activeJobs / maxConcurrent`, else 0. */
  readonly load?: number | null | undefined;
  readonly activeJobs?: number | null | undefined;
  /** `reputation_score` in [0, 1]; absent → 0.5 (iicp-semantics.md §11.3). */
  readonly reputation?: number | null | undefined;
  /** `completed_tasks_count`; absent → 0 (so the node is in probation). */
  readonly completedTasks?: number | null | undefined;
  /** Declared availability windows; absent or empty → always available. */
  readonly availability?: readonly AvailabilityWindowInput[] | null | undefined;
  /**
   * The effective `pricing.credit_cost_multiplier` (iicp-dir.md §3.4). Absent or null
   * (no pricing declared) counts as the spec default 1.0. The caller resolves
   * `effective_from`/`effective_until` before handing it over.
   */
  readonly creditCostMultiplier?: number | null | undefined;
  /** `cip_policy.allow_remote_inference`, for `cip_capable=true` queries. */
  readonly allowRemoteInference?: boolean | undefined;
}

/** A DISCOVER query (iicp-dir.md §3.3) after validation. */
export interface DiscoverQueryInput {
  readonly intent: string;
  readonly qos?: QosLevel | null | undefined;
  /** Preference only: a match raises the score, a mismatch never excludes. */
  readonly region?: string | null | undefined;
  /** Result size; default 10, capped at 50. */
  readonly limit?: number | undefined;
  /** Switches to the model-aware weights; a preference, not a filter (iicp-semantics.md §3.1). */
  readonly model?: string | null | undefined;
  readonly minReputation?: number | null | undefined;
  /** `min_quality_score`: raises the 0.1 score floor (ADR-019). */
  readonly minScore?: number | null | undefined;
  /** `max_multiplier`: excludes nodes whose multiplier exceeds it. */
  readonly maxMultiplier?: number | null | undefined;
  /** `modality`: the capability for the intent must accept this input modality. */
  readonly modality?: string | null | undefined;
  /** `cip_capable=true`: only nodes with `allow_remote_inference`. */
  readonly cipCapable?: boolean | null | undefined;
  /** Evaluation time, epoch milliseconds (liveness and availability windows). */
  readonly now: number;
}

/** One ranked result: the canonical directory score and the node it belongs to. */
export interface RankedNode {
  readonly nodeId: string;
  readonly score: number;
}
