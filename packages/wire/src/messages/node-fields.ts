import { z } from 'zod';
import { HhMmSchema, IntentUrnSchema, UnitIntervalSchema } from '../primitives.ts';

/**
 * Field groups that REGISTER, HEARTBEAT, NODELIST and node detail share
 * (iicp-dir.md §3.1, §3.2, §3.4).
 */

/**
 * Availability window `{start, end, share}`, times `HH:MM` UTC (iicp-semantics.md §4).
 * `end` may be `24:00` so a window can close at midnight.
 */
export const AvailabilityWindowSchema = z.looseObject({
  start: HhMmSchema,
  end: z.union([HhMmSchema, z.literal('24:00')]),
  share: UnitIntervalSchema.optional(),
});
export type AvailabilityWindow = z.infer<typeof AvailabilityWindowSchema>;

/** IICP-CX X25519 key advertisement (iicp-dir.md §3.4 `cx_public_key`; schemas/nodelist.json CxPublicKey). */
export const CxPublicKeySchema = z.looseObject({
  algorithm: z.literal('X25519'),
  encoding: z.literal('base64url'),
  key: z.string().regex(/^[A-Za-z0-9_-]+$/, { message: 'key must be base64url without padding' }),
  key_id: z.string().min(1),
  not_after: z.string().nullable().optional(),
  hybrid_pq: z.unknown().optional(),
  /** Additive feature list such as `response_encryption_v1`; unknown features are ignored. */
  features: z.array(z.string()).optional(),
});
export type CxPublicKey = z.infer<typeof CxPublicKeySchema>;

/** How the node is reachable for the native transport (iicp-dir.md §3.1, ADR-041). */
export const TransportMethodSchema = z.enum([
  'direct',
  'upnp_mapped',
  'stun_hole_punch',
  'turn_relay',
  'external_tunnel',
  'webrtc_datachannel',
]);
export type TransportMethod = z.infer<typeof TransportMethodSchema>;

/** ICE-style transport candidate (iicp-dir.md §3.1, RFC 8445 §5.1.2.1 priority). */
export const TransportCandidateSchema = z.looseObject({
  type: z.enum(['host', 'srflx', 'relay']),
  address: z.string().min(1),
  port: z.int().min(0).max(65535),
  priority: z.int().nonnegative().optional(),
  base: z.string().optional(),
});
export type TransportCandidate = z.infer<typeof TransportCandidateSchema>;

/** Browser WebRTC advertisement `transport_metadata.webrtc` (iicp-dir.md §3.1, draft #523). */
export const WebRtcTransportSchema = z.looseObject({
  signaling_directory: z.string().min(1),
  mailbox_id: z.string().min(1),
  /** MUST be present; consumers treat expired handles as absent. */
  expires_at: z.string().min(1),
  ice_servers: z
    .array(z.looseObject({ urls: z.union([z.string(), z.array(z.string())]) }))
    .optional(),
  datachannel_protocol: z.string().optional(),
  relay_fallback: z.boolean().optional(),
});

/** Transport-specific detail; opaque to clients that only use `endpoint` (iicp-dir.md §3.4). */
export const TransportMetadataSchema = z.looseObject({
  webrtc: WebRtcTransportSchema.optional(),
});
export type TransportMetadata = z.infer<typeof TransportMetadataSchema>;

/** Native transport URL: scheme `iicp` or `iicpsec` (iicp-dir.md §3.1, dual-endpoint model). */
export const TransportEndpointSchema = z.url({
  protocol: /^iicp(?:sec)?$/,
  message: 'transport_endpoint must be an iicp:// or iicpsec:// URL',
});

/** `implementation_name` grammar (iicp-dir.md §3.1, v1.1.24). */
export const IMPLEMENTATION_NAME_PATTERN = /^[A-Za-z0-9@][A-Za-z0-9._/@+-]{0,63}$/;
/** `implementation_version` / `sdk_compatibility_version` grammar (iicp-dir.md §3.1, v1.1.24). */
export const IMPLEMENTATION_VERSION_PATTERN = /^[0-9A-Za-z][0-9A-Za-z._+-]{0,31}$/;

/** Implementation and SDK-compatibility metadata (iicp-dir.md §3.1, v1.1.24). */
export const implementationMetadataShape = {
  sdk_language: z.string().nullable().optional(),
  /** Legacy alias of `sdk_compatibility_version`. */
  sdk_version: z.string().nullable().optional(),
  implementation_name: z.string().regex(IMPLEMENTATION_NAME_PATTERN).nullable().optional(),
  implementation_version: z.string().regex(IMPLEMENTATION_VERSION_PATTERN).nullable().optional(),
  sdk_compatibility_version: z.string().regex(IMPLEMENTATION_VERSION_PATTERN).nullable().optional(),
};

/** Optional advisory updater evidence on REGISTER and HEARTBEAT (iicp-dir.md §3.2). */
export const updaterEvidenceShape = {
  auto_update_enabled: z.boolean().nullable().optional(),
  auto_update_interval_s: z.int().min(300).nullable().optional(),
  sdk_latest_seen: z.string().nullable().optional(),
  sdk_update_last_checked_at: z.string().nullable().optional(),
  sdk_update_error_class: z.string().nullable().optional(),
};

/** Route self-recovery states (iicp-dir.md §3.15.2). */
export const RecoveryStateSchema = z.enum([
  'stable',
  'route_mismatch',
  'endpoint_dead',
  'tunnel_starting',
  'tunnel_cooldown',
  'backend_attention',
  'supervisor_restart_pending',
  'operator_action_needed',
  'unavailable',
]);
export type RecoveryState = z.infer<typeof RecoveryStateSchema>;

/** Route self-recovery actions (iicp-dir.md §3.15.3). */
export const RecoveryActionSchema = z.enum([
  'none',
  'reregister',
  'wait_cooldown',
  'restart_self',
  'operator_endpoint_needed',
  'backend_attention',
]);
export type RecoveryAction = z.infer<typeof RecoveryActionSchema>;

/** Advisory, directory-visible recovery fields (iicp-dir.md §3.15.4). */
export const recoveryFieldsShape = {
  recovery_state: RecoveryStateSchema.nullable().optional(),
  route_recovery_hint: z.string().nullable().optional(),
  recovery_action: RecoveryActionSchema.nullable().optional(),
  recovery_next_retry_at: z.string().nullable().optional(),
  recovery_attempt: z.int().nonnegative().nullable().optional(),
  recovery_supervised: z.boolean().nullable().optional(),
};

/** Self-attested backend family (iicp-dir.md §3.4 `backend`); kept open, informational only. */
export const BACKEND_VALUES = [
  'ollama',
  'lmstudio',
  'vllm',
  'llamacpp',
  'meshllm',
  'anthropic',
  'custom',
] as const;

/** `policy_manifest.signature` block (iicp-dir.md §3.1, signed-manifest phase A). */
export const PolicyManifestSignatureSchema = z.looseObject({
  algorithm: z.string().min(1),
  key_id: z.string().nullable().optional(),
  public_key: z.string().min(1),
  signature: z.string().min(1),
  signed_at: z.string().nullable().optional(),
  expires_at: z.string().nullable().optional(),
});

const manifestBaseShape = {
  version: z.string().nullable().optional(),
  jurisdiction: z.string().nullable().optional(),
  policy_url: z.string().nullable().optional(),
  contact_url: z.string().nullable().optional(),
  /** Defaults to `true` when omitted. */
  remote_executor_can_read_prompt: z.boolean().optional(),
  /** `none`, `opt_in` or `provider_defined`; unknown values are read as provider_defined, so kept. */
  training_use: z.string().nullable().optional(),
  retention: z
    .looseObject({
      task_payload: z.string().nullable().optional(),
      logs_days: z.int().nonnegative().nullable().optional(),
    })
    .nullable()
    .optional(),
  subprocessors: z.array(z.string()).nullable().optional(),
  unsupported_intents: z.array(IntentUrnSchema).nullable().optional(),
  signed_statement: z.string().nullable().optional(),
};

/** Node data-handling declaration sent at REGISTER (iicp-dir.md §3.1 `policy_manifest`). */
export const PolicyManifestSchema = z.looseObject({
  ...manifestBaseShape,
  signature: PolicyManifestSignatureSchema.optional(),
});
export type PolicyManifest = z.infer<typeof PolicyManifestSchema>;

/** The directory's public echo of a manifest plus evidence (iicp-dir.md §3.4 `node_policy_manifest`). */
export const NodePolicyManifestSchema = z.looseObject({
  ...manifestBaseShape,
  evidence: z.string().nullable().optional(),
  verification: z
    .looseObject({
      status: z.enum([
        'self_attested',
        'signed_valid',
        'signed_invalid',
        'signed_expired',
        'signed_revoked',
        'signed_superseded',
      ]),
      algorithm: z.string().nullable().optional(),
      key_id: z.string().nullable().optional(),
      signed_at: z.string().nullable().optional(),
      expires_at: z.string().nullable().optional(),
      canonical_sha256: z.string().nullable().optional(),
      public_key_sha256: z.string().nullable().optional(),
      error: z.string().nullable().optional(),
    })
    .nullable()
    .optional(),
  manifest_identity_level: z
    .enum([
      'self_attested',
      'signed_valid',
      'operator_bound',
      'known_operator',
      'rotated',
      'revoked',
    ])
    .nullable()
    .optional(),
  operator_fingerprint: z.string().nullable().optional(),
  policy_key_fingerprint: z.string().nullable().optional(),
  revoked_at: z.string().nullable().optional(),
  rotation_epoch: z.int().nonnegative().nullable().optional(),
  revocation_reason_class: z.string().nullable().optional(),
  operator_governance: z
    .looseObject({
      known_operator: z.boolean().optional(),
      terms_status: z.enum(['current', 'outdated', 'missing']).optional(),
      terms_version: z.string().nullable().optional(),
      dpa_status: z.enum(['current', 'outdated', 'missing']).optional(),
      dpa_version: z.string().nullable().optional(),
      acceptance_method: z.string().nullable().optional(),
      evidence: z.string().optional(),
    })
    .nullable()
    .optional(),
});
export type NodePolicyManifest = z.infer<typeof NodePolicyManifestSchema>;

/** Directory-composed health label (iicp-dir.md §3.4 `health_label`, ADR-044). */
export const HealthLabelSchema = z.enum(['healthy', 'degraded', 'impaired', 'critical', 'offline']);
export type HealthLabel = z.infer<typeof HealthLabelSchema>;
