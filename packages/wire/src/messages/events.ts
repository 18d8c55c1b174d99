import { z } from 'zod';
import { NonNegativeIntSchema } from '../primitives.ts';

/**
 * Event types of the federated stream (iicp-federated-directory.md DIR-FED-16 plus the
 * live set of iicp-dir.md §3.7) and the local-only lifecycle pair. Consumers ignore
 * types they do not recognise, so the envelope accepts any upper-snake name.
 */
export const DIRECTORY_EVENT_TYPES = [
  'REGISTER',
  'DEREGISTER',
  'AUDIT_REPORT',
  'CREDIT_AWARD',
  'REPUTATION_DECAY',
  'REPUTATION_UPDATE',
  'REACHABILITY_DEMOTE',
  'REACHABILITY_RESTORE',
  'REPLICA_REGISTERED',
  'REPLICA_DEREGISTERED',
  'OPERATOR_OBSERVED',
  'EVICT',
  'REACTIVATE',
] as const;
export type DirectoryEventType = (typeof DIRECTORY_EVENT_TYPES)[number];

/**
 * Signed, hash-chained event envelope (iicp-dir.md §3.7 "Event Envelope";
 * iicp-federated-directory.md §5.1):
 * `sig = hex(Ed25519(SHA256(event_id:event_type:seq:ts_ms:sha256_hex(jcs(payload)):prev_hash)))`,
 * `prev_hash = sha256_hex(previous.sig)` or the genesis root; `null` marks the legacy
 * un-chained prefix. iicp-dir.md §3.7 says base64url for `sig` where S.13 says hex, so
 * `sig` is a non-empty string here and the verifier decides.
 */
export const DirectoryEventSchema = z.looseObject({
  // The published chain vector uses ids like "event-0001": any non-empty id is accepted.
  event_id: z.string().min(1).max(128),
  event_type: z.string().regex(/^[A-Z][A-Z0-9_]*$/, { message: 'event_type must be UPPER_SNAKE' }),
  seq: NonNegativeIntSchema,
  ts_ms: NonNegativeIntSchema,
  payload: z.record(z.string(), z.unknown()),
  prev_hash: z
    .string()
    .regex(/^[0-9a-f]{64}$/, { message: 'prev_hash must be 64 lowercase hex' })
    .nullable()
    .optional(),
  sig: z.string().min(1),
  // Absent in the published chain vector; our directory always sets it.
  signer_did: z.string().min(1).optional(),
});
export type DirectoryEvent = z.infer<typeof DirectoryEventSchema>;

/** `GET /v1/events` query (iicp-federated-directory.md §5.2): limit default 100, cap 1000. */
export const EventsQuerySchema = z.looseObject({
  since_seq: z
    .preprocess(
      (v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v),
      NonNegativeIntSchema,
    )
    .optional(),
  limit: z
    .preprocess((v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v), z.int().min(1))
    .optional(),
  /** Comma-separated type filter such as `REGISTER,DEREGISTER`. */
  event_types: z
    .string()
    .regex(/^[A-Z0-9_]+(?:,[A-Z0-9_]+)*$/)
    .optional(),
});
export type EventsQuery = z.infer<typeof EventsQuerySchema>;

/** `GET /v1/events` response (iicp-dir.md §3.7; iicp-federated-directory.md §5.2). */
export const EventsResponseSchema = z.looseObject({
  events: z.array(DirectoryEventSchema),
  next_seq: NonNegativeIntSchema,
  genesis_hash: z.string().nullable(),
  replica_lag_ms: NonNegativeIntSchema.optional(),
});
export type EventsResponse = z.infer<typeof EventsResponseSchema>;
