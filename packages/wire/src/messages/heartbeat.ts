import { z } from 'zod';
import { METRICS_BATCH_ID_MAX_LENGTH } from '../constants.ts';
import { NonNegativeIntSchema, UnitIntervalSchema, UuidSchema } from '../primitives.ts';
import { PricingSchema } from './capability.ts';
import { CxPublicKeySchema, recoveryFieldsShape, updaterEvidenceShape } from './node-fields.ts';

/** Heartbeat task-outcome metrics (iicp-dir.md §3.2). */
export const HeartbeatMetricsSchema = z.looseObject({
  tasks_success: NonNegativeIntSchema,
  tasks_failed: NonNegativeIntSchema,
  avg_latency_ms: z.number().nonnegative().optional(),
});
export type HeartbeatMetrics = z.infer<typeof HeartbeatMetricsSchema>;

/** `metrics_batch_id`: "1–64 printable ASCII characters" (iicp-dir.md §3.2). */
export const MetricsBatchIdSchema = z
  .string()
  .regex(/^[\x20-\x7e]+$/, { message: 'metrics_batch_id must be printable ASCII' })
  .max(METRICS_BATCH_ID_MAX_LENGTH);

/**
 * PING / HEARTBEAT `POST /v1/heartbeat` body, Bearer node_token (iicp-core.md §4.1;
 * iicp-dir.md §3.2). `available` defaults to `true` when absent: the reader applies it.
 * `metrics` without `metrics_batch_id` is legacy evidence, accepted (iicp-dir.md §3.2).
 */
export const HeartbeatRequestSchema = z.looseObject({
  message_type: z.literal('HEARTBEAT').optional(),
  node_id: UuidSchema,
  load: UnitIntervalSchema.optional(),
  active_jobs: NonNegativeIntSchema.optional(),
  available: z.boolean().optional(),
  sla_p95_ms: NonNegativeIntSchema.optional(),
  /** Cumulative successful tasks, heartbeat-reported (iicp-dir.md §3.4 `completed_tasks_count`). */
  completed_tasks_count: NonNegativeIntSchema.optional(),
  metrics: HeartbeatMetricsSchema.optional(),
  metrics_batch_id: MetricsBatchIdSchema.optional(),
  /** Lowercase hex HMAC-SHA256(node_hmac_key, challenge) (iicp-dir.md §3.2, ADR-047). */
  challenge_response: z
    .string()
    .regex(/^[0-9a-f]{64}$/, { message: 'challenge_response must be 64 lowercase hex characters' })
    .optional(),
  cx_public_key: CxPublicKeySchema.nullable().optional(),
  pricing: PricingSchema.nullable().optional(),
  ...updaterEvidenceShape,
  ...recoveryFieldsShape,
});
export type HeartbeatRequest = z.infer<typeof HeartbeatRequestSchema>;

/** PONG `200` (iicp-core.md §4.2; iicp-dir.md §3.2). */
export const HeartbeatResponseSchema = z.looseObject({
  ok: z.literal(true),
  next_heartbeat_ms: z.int().positive(),
  /** Current reputation in [0,1]; 0.5 with no history. */
  reputation_score: UnitIntervalSchema.optional(),
  /** Absent means legacy evidence, never to be shown as `outcome-v2`. */
  reputation_model: z.string().optional(),
  reputation_epoch: z.string().optional(),
  metrics_batch_accepted: z.string().nullable().optional(),
  /** Fresh hex nonce for the next `challenge_response`. */
  challenge: z.string().optional(),
});
export type HeartbeatResponse = z.infer<typeof HeartbeatResponseSchema>;
