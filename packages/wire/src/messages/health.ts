import { z } from 'zod';
import { NonNegativeIntSchema } from '../primitives.ts';

/**
 * Node `GET /iicp/health` (conformance-test-suite.md NODE-HEALTH-01/02, DIR-TRUST-01):
 * `status` is `ok` or `degraded`; `load` and `active_jobs` are numeric; `models` lets the
 * directory compare registered models with served ones.
 */
export const HealthResponseSchema = z.looseObject({
  status: z.enum(['ok', 'degraded']),
  load: z.number().min(0),
  active_jobs: NonNegativeIntSchema,
  /** Null before the node has registered. */
  node_id: z.string().nullable().optional(),
  models: z.array(z.string()).optional(),
});
export type HealthResponse = z.infer<typeof HealthResponseSchema>;
