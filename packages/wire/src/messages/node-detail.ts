import { z } from 'zod';
import { UnitIntervalSchema, UuidSchema } from '../primitives.ts';
import { nodeFieldsShape } from './discover.ts';
import { AvailabilityWindowSchema, HealthLabelSchema } from './node-fields.ts';

/** Reachability component of node-detail health (iicp-dir.md §3.9c). */
export const HealthReachabilitySchema = z.looseObject({
  score: z.number().min(0).max(1).optional(),
  /** True when backed by a directory probe younger than 10 minutes. */
  observed: z.boolean().optional(),
  last_probe_at: z.string().nullable().optional(),
  test_id: z.string().nullable().optional(),
});

/**
 * Node-detail `health` block (conformance-test-suite.md DIR-NODE-HEALTH-01/02): `score` is
 * an integer 0–100 here (0–1 elsewhere), components include liveness, reachability and
 * latency and never `success_rate` or `reputation`.
 */
export const NodeHealthSchema = z
  .looseObject({
    score: z.int().min(0).max(100),
    label: HealthLabelSchema,
    observed: z.boolean().optional(),
    confidence: z.union([z.string(), z.number()]).nullable().optional(),
    evidence_level: z.string().nullable().optional(),
    latency_ms_basis: z.number().nullable().optional(),
    components: z
      .looseObject({
        liveness: z.unknown().optional(),
        reachability: HealthReachabilitySchema.optional(),
        latency: z.unknown().optional(),
      })
      .optional(),
    evaluated_at: z.string().nullable().optional(),
  })
  .superRefine((health, ctx) => {
    for (const removed of ['success_rate', 'reputation'] as const) {
      if (health.components && removed in health.components) {
        ctx.addIssue({
          code: 'custom',
          path: ['components', removed],
          message: `${removed} is not a health component (DIR-NODE-HEALTH-02)`,
        });
      }
    }
  });
export type NodeHealth = z.infer<typeof NodeHealthSchema>;

/**
 * `GET /v1/node/{id}` (iicp-dir.md §3.4 probation note, §3.9c; digest: full node plus
 * `probation`, gossip `public_key`, `health`). Unknown id → 404 `not_found`.
 */
export const NodeDetailSchema = z.looseObject({
  ...nodeFieldsShape,
  node_id: UuidSchema,
  available: z.boolean().optional(),
  /** True while `completed_tasks_count < 100`; only node detail carries it. */
  probation: z.boolean().optional(),
  /** Ed25519 gossip key registered at REGISTER (used to verify PEER_EXCHANGE). */
  public_key: z.string().nullable().optional(),
  health: NodeHealthSchema.optional(),
  /** ADR-044 composed health score in [0,1], where emitted beside `health_label`. */
  health_score: UnitIntervalSchema.optional(),
  availability: z.array(AvailabilityWindowSchema).optional(),
  last_seen: z.string().nullable().optional(),
  registered_at: z.string().nullable().optional(),
});
export type NodeDetail = z.infer<typeof NodeDetailSchema>;
