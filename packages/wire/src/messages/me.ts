import { z } from 'zod';
import { UuidSchema } from '../primitives.ts';

/**
 * `GET /v1/me`, Bearer node_token (iicp-core.md §11, DIR-ADDR-04): the caller's own
 * id, the source IP the directory observes, and its registered endpoint. The IP history
 * is never exposed.
 */
export const MeResponseSchema = z.looseObject({
  node_id: UuidSchema,
  observed_source_ip: z.string().min(1),
  endpoint: z.string().min(1),
});
export type MeResponse = z.infer<typeof MeResponseSchema>;
