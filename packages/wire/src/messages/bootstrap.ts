import { z } from 'zod';
import { NonNegativeIntSchema, UuidSchema } from '../primitives.ts';

/** `GET /v1/bootstrap?limit=` (iicp-dir.md §3.5): default 5, max 50 (clamped by the directory). */
export const BootstrapQuerySchema = z.looseObject({
  limit: z
    .preprocess((v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v), z.int().min(1))
    .optional(),
});
export type BootstrapQuery = z.infer<typeof BootstrapQuerySchema>;

/** One bootstrap peer: only what is needed to dial it (iicp-dir.md §3.5). */
export const BootstrapPeerSchema = z.looseObject({
  node_id: UuidSchema,
  endpoint: z.string().min(1),
  region: z.string(),
  last_seen: z.string(),
});
export type BootstrapPeer = z.infer<typeof BootstrapPeerSchema>;

/** BOOTSTRAP response `{peers, count}`, freshest first (iicp-dir.md §3.5). */
export const BootstrapResponseSchema = z.looseObject({
  peers: z.array(BootstrapPeerSchema),
  count: NonNegativeIntSchema,
});
export type BootstrapResponse = z.infer<typeof BootstrapResponseSchema>;

/**
 * PEER_EXCHANGE `POST /v1/peers` body (iicp-dir.md §3.6), signed by `X-IICP-Signature`
 * over the raw body; `timestamp_ms` within ±60 s is the receiver's check.
 */
export const PeerExchangeRequestSchema = z.looseObject({
  sender_id: UuidSchema,
  known_peers: z.array(z.unknown()),
  timestamp_ms: NonNegativeIntSchema,
  ttl_s: NonNegativeIntSchema.optional(),
});
export type PeerExchangeRequest = z.infer<typeof PeerExchangeRequestSchema>;

/** PEER_EXCHANGE `200` response: ≤20 peers seen within 90 s (iicp-dir.md §3.6). */
export const PeerExchangeResponseSchema = z.looseObject({
  new_peers: z.array(
    z.looseObject({
      node_id: UuidSchema,
      endpoint: z.string().min(1),
      region: z.string(),
      last_seen_ms: NonNegativeIntSchema,
    }),
  ),
  receiver_id: UuidSchema,
});
export type PeerExchangeResponse = z.infer<typeof PeerExchangeResponseSchema>;
