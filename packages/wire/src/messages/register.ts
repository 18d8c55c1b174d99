import { z } from 'zod';
import {
  HttpUrlSchema,
  MaxConcurrentSchema,
  PositiveIntSchema,
  RegionSchema,
  UuidSchema,
  UuidV4Schema,
} from '../primitives.ts';
import {
  CapabilityListSchema,
  CipConformanceLevelSchema,
  CipPolicySchema,
  PricingSchema,
  ProviderPolicySchema,
} from './capability.ts';
import { OperatorDelegationSchema } from './delegation.ts';
import {
  AvailabilityWindowSchema,
  CxPublicKeySchema,
  PolicyManifestSchema,
  TransportCandidateSchema,
  TransportEndpointSchema,
  TransportMetadataSchema,
  TransportMethodSchema,
  implementationMetadataShape,
  recoveryFieldsShape,
  updaterEvidenceShape,
} from './node-fields.ts';

/** REGISTER `limits` (iicp-core.md §2.1): `max_concurrent` 1–256; `tokens_per_min` > 0 when present. */
export const RegisterLimitsSchema = z.looseObject({
  max_concurrent: MaxConcurrentSchema,
  tokens_per_min: PositiveIntSchema.optional(),
});
export type RegisterLimits = z.infer<typeof RegisterLimitsSchema>;

/**
 * INIT / REGISTER `POST /v1/register` body (iicp-core.md §2.1; iicp-dir.md §3.1).
 *
 * Required: `endpoint`, `region`, ≥1 capability with `intent`, `limits.max_concurrent`
 * (the directory minimum; core's `models`/`max_tokens`/`tokens_per_min` are checked when
 * present: spec/decisions.md). Unknown registration fields are ignorable and kept.
 * A re-registration carries `node_id` and `current_node_token` (ownership proof and token
 * refresh, iicp-dir.md §3.1). Routability (IICP-E035), liveness and ownership are the
 * directory's checks, not the schema's.
 */
export const RegisterRequestSchema = z
  .looseObject({
    message_type: z.literal('REGISTER').optional(),
    node_id: UuidV4Schema.optional(),
    endpoint: HttpUrlSchema,
    region: RegionSchema,
    capabilities: CapabilityListSchema,
    limits: RegisterLimitsSchema,
    /** Ed25519 gossip key, base64 (Phase 2). */
    public_key: z.string().min(1).optional(),
    availability: z.array(AvailabilityWindowSchema).optional(),
    operator_delegation: OperatorDelegationSchema.optional(),
    /** Re-register proof; rotates the token (the old one then gets 401). */
    current_node_token: z.string().min(1).optional(),
    transport_endpoint: TransportEndpointSchema.nullable().optional(),
    transport_method: TransportMethodSchema.nullable().optional(),
    transport_candidates: z.array(TransportCandidateSchema).nullable().optional(),
    /** Set only with `transport_method=turn_relay`. */
    relay_endpoint: z.string().min(1).nullable().optional(),
    /** Observability only. */
    nat_type: z.string().nullable().optional(),
    transport_metadata: TransportMetadataSchema.nullable().optional(),
    address_family: z.enum(['ipv4', 'ipv6', 'dual']).nullable().optional(),
    relay_capable: z.boolean().optional(),
    policy_manifest: PolicyManifestSchema.optional(),
    /** CIP provider policy (node-capability-format.md §9). */
    policy: ProviderPolicySchema.optional(),
    cip_policy: CipPolicySchema.optional(),
    cip_conformance_level: CipConformanceLevelSchema.optional(),
    cip_modes: z.array(z.string()).optional(),
    pricing: PricingSchema.nullable().optional(),
    cx_public_key: CxPublicKeySchema.nullable().optional(),
    /** Self-attested backend family; informational (see BACKEND_VALUES). */
    backend: z.string().nullable().optional(),
    ...implementationMetadataShape,
    ...updaterEvidenceShape,
    ...recoveryFieldsShape,
  })
  .superRefine((reg, ctx) => {
    // "If both fields are non-null, their values MUST be identical" (iicp-dir.md §3.1).
    if (
      reg.sdk_version != null &&
      reg.sdk_compatibility_version != null &&
      reg.sdk_version !== reg.sdk_compatibility_version
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['sdk_compatibility_version'],
        message: 'sdk_compatibility_version and sdk_version must be equal when both are set',
      });
    }
    // `operator_delegation.node_id` "MUST equal the registering node's id" is checked by
    // the directory (a mismatch leaves the node unverified, it does not reject).
  });
export type RegisterRequest = z.infer<typeof RegisterRequestSchema>;

/**
 * ACK, `201 Created` (iicp-core.md §2.2; iicp-dir.md §3.1).
 * `node_token` is ≥32 random bytes as hex, returned once. `observed_source_ip` is a core
 * MUST that the dir example omits: the project's directory always sends it, the schema
 * tolerates its absence from other directories. `proxy_token` and `node_hmac_key` are the
 * credentials telemetry and CIP expect (spec/decisions.md).
 */
export const RegisterAckSchema = z.looseObject({
  message_type: z.literal('ACK').optional(),
  node_id: UuidSchema,
  node_token: z.string().min(1),
  expires_at: z.union([z.string(), z.number(), z.null()]),
  directory: z.string().min(1),
  observed_source_ip: z.string().min(1).optional(),
  proxy_token: z.string().min(1).optional(),
  node_hmac_key: z.string().min(1).optional(),
});
export type RegisterAck = z.infer<typeof RegisterAckSchema>;

/** Deregister `DELETE /v1/register` (also `POST /v1/deregister`) body, Bearer node_token. */
export const DeregisterRequestSchema = z.looseObject({
  node_id: UuidSchema,
});
export type DeregisterRequest = z.infer<typeof DeregisterRequestSchema>;

/** Deregister response `200 {deregistered: true}`. */
export const DeregisterResponseSchema = z.looseObject({
  deregistered: z.literal(true),
});
export type DeregisterResponse = z.infer<typeof DeregisterResponseSchema>;
