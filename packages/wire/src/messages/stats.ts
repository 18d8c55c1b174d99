import { z } from 'zod';
import { NonNegativeIntSchema } from '../primitives.ts';

/** `mesh_health` aggregate (iicp-dir.md §3.9b): floats in [0,1]; label thresholds as health_label. */
export const MeshHealthSchema = z.looseObject({
  score: z.number().min(0).max(1),
  label: z.enum([
    'healthy',
    'degraded',
    'impaired',
    'critical',
    'offline',
    'insufficient_sample',
    'unavailable',
  ]),
  mean: z.number().min(0).max(1).optional(),
  p10: z.number().min(0).max(1).optional(),
  distribution: z.record(z.string(), NonNegativeIntSchema).optional(),
  sample: NonNegativeIntSchema.optional(),
  basis: z.string().optional(),
  window: z.string().optional(),
});

/** Credit schedule mirror (iicp-dir.md §3.9b; normative tier weights). */
export const CreditScheduleSchema = z.looseObject({
  formula: z.string().optional(),
  tokens_per_credit: z.number().positive().optional(),
  tier_weights: z.record(z.string(), z.number().nonnegative()).optional(),
  evaluation_grant: z
    .looseObject({ credits: z.number().nonnegative(), interval_seconds: z.int().positive() })
    .optional(),
  burn_rate_pct: z.number().nonnegative().optional(),
});

/** SDK adoption telemetry (iicp-dir.md §3.9b, #531). */
export const SdkAdoptionSchema = z.looseObject({
  total_active: NonNegativeIntSchema,
  by_language: z.record(z.string(), NonNegativeIntSchema),
  by_version: z.record(z.string(), NonNegativeIntSchema),
});

/** Public stats `GET /v1/stats` (iicp-dir.md §3.9b). Additive sections are kept. */
export const StatsResponseSchema = z.looseObject({
  server: z.looseObject({
    /** Nodes with `last_seen` within the 90 s liveness window. */
    active_nodes: NonNegativeIntSchema,
    version: z.string(),
  }),
  probes: z.looseObject({ last_probe_at: z.string().nullable().optional() }).optional(),
  credit_schedule: CreditScheduleSchema.optional(),
  mesh_health: MeshHealthSchema.optional(),
  directory_health: z
    .looseObject({
      score: z.number().nullable().optional(),
      label: z.string().nullable().optional(),
    })
    .optional(),
  sdk_adoption: SdkAdoptionSchema.optional(),
  credits_extension: z.looseObject({}).optional(),
  dispatch_discovery_adoption: z.looseObject({}).optional(),
});
export type StatsResponse = z.infer<typeof StatsResponseSchema>;
