import { z } from 'zod';
import { DISCOVER_MAX_LIMIT } from '../constants.ts';
import {
  IntentUrnSchema,
  NonNegativeIntSchema,
  QosSchema,
  RegionSchema,
  UnitIntervalSchema,
  UuidSchema,
} from '../primitives.ts';
import {
  CapabilitySchema,
  CipConformanceLevelSchema,
  CipPolicySchema,
  ModalitySchema,
  PricingSchema,
} from './capability.ts';
import {
  CxPublicKeySchema,
  HealthLabelSchema,
  NodePolicyManifestSchema,
  TransportCandidateSchema,
  TransportMetadataSchema,
  TransportMethodSchema,
  implementationMetadataShape,
} from './node-fields.ts';

/** A query-string number: `"0.5"` → 0.5; empty or non-numeric strings fail. */
function queryNumber<T extends z.ZodType<number>>(inner: T) {
  return z.preprocess((v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v), inner);
}

/** A query-string boolean: `true/false/1/0/yes/no/on/off`, or a real boolean. */
export const QueryBooleanSchema = z.union([z.boolean(), z.stringbool()]);

/** Discover view (iicp-dir.md §3.3): route-bearing `dispatch` (default) or redacted `public`. */
export const DiscoverViewSchema = z.enum(['dispatch', 'public']);
export type DiscoverView = z.infer<typeof DiscoverViewSchema>;

/**
 * QUERY `GET /v1/discover` parameters (iicp-core.md §5; iicp-dir.md §3.3). Values arrive
 * as strings and are coerced. `limit` must be a positive integer; values above 50 are
 * clamped by {@link clampDiscoverLimit}, not rejected. Unknown parameters are ignored.
 */
export const DiscoverQuerySchema = z.looseObject({
  intent: IntentUrnSchema,
  qos: QosSchema.optional(),
  /** Preference, not exclusion. */
  region: RegionSchema.optional(),
  limit: queryNumber(z.int().min(1)).optional(),
  min_reputation: queryNumber(UnitIntervalSchema).optional(),
  max_multiplier: queryNumber(z.number().nonnegative()).optional(),
  min_quality_score: queryNumber(UnitIntervalSchema).optional(),
  cip_capable: QueryBooleanSchema.optional(),
  modality: ModalitySchema.optional(),
  view: DiscoverViewSchema.optional(),
  /** Switches to the model-aware score weights (iicp-semantics.md §3.1). */
  model: z.string().min(1).optional(),
});
export type DiscoverQuery = z.infer<typeof DiscoverQuerySchema>;

/** Applies "Default 10, max 50" (iicp-core.md §5). */
export function clampDiscoverLimit(limit: number | undefined, fallback = 10): number {
  return Math.min(limit ?? fallback, DISCOVER_MAX_LIMIT);
}

/** Reputation tier label (iicp-dir.md §3.4, trust group). */
export const ReputationTierSchema = z.enum(['bronze', 'silver', 'gold', 'platinum', 'none']);

/** Self-reported updater evidence as NODELIST shows it (schemas/nodelist.json `auto_update`). */
export const AutoUpdateSchema = z.looseObject({
  enabled: z.boolean().nullable().optional(),
  interval_s: z.int().min(300).nullable().optional(),
  latest_seen: z.string().nullable().optional(),
  last_checked_at: z.string().nullable().optional(),
  error_class: z.string().nullable().optional(),
  evidence: z.enum(['unknown', 'self_reported']).optional(),
});

/**
 * Every per-node field the directory emits in route-dispatch NODELIST and node detail
 * (iicp-dir.md §3.4; schemas/nodelist.json NodeSummary), all optional here; the message
 * schemas below say which are required.
 */
export const nodeFieldsShape = {
  node_id: UuidSchema.optional(),
  node_id_prefix: z.string().optional(),
  endpoint: z.string().min(1).optional(),
  region: z.string().optional(),
  latency_estimate_ms: NonNegativeIntSchema.optional(),
  // Route group.
  transport_endpoint: z.string().nullable().optional(),
  transport_method: TransportMethodSchema.nullable().optional(),
  transport_candidates: z.array(TransportCandidateSchema).nullable().optional(),
  relay_endpoint: z.string().nullable().optional(),
  transport_metadata: TransportMetadataSchema.nullable().optional(),
  nat_type: z.string().nullable().optional(),
  address_family: z.enum(['ipv4', 'ipv6', 'dual']).nullable().optional(),
  relay_capable: z.boolean().optional(),
  public_reachable: z.boolean().nullable().optional(),
  browser_usable: z.boolean().nullable().optional(),
  routing_hint: z.string().nullable().optional(),
  // Reachability group. `route_evidence` is a string in iicp-dir.md, an array in nodelist.json.
  reachability_tier: z.enum(['direct', 'relay']).nullable().optional(),
  route_evidence: z
    .union([z.string(), z.array(z.string())])
    .nullable()
    .optional(),
  probe_source: z.string().nullable().optional(),
  exposure_mode: z.string().nullable().optional(),
  route_class: z.string().nullable().optional(),
  // Runtime group.
  load: UnitIntervalSchema.optional(),
  active_jobs: NonNegativeIntSchema.optional(),
  max_concurrent: z.int().positive().optional(),
  status: z.string().optional(),
  lifetime_jobs: NonNegativeIntSchema.optional(),
  sla_p95_ms: NonNegativeIntSchema.nullable().optional(),
  // Trust group.
  reputation_score: UnitIntervalSchema.optional(),
  reputation_tier: ReputationTierSchema.nullable().optional(),
  completed_tasks_count: NonNegativeIntSchema.optional(),
  operator_display_name: z.string().nullable().optional(),
  operator_fingerprint: z.string().nullable().optional(),
  health_label: HealthLabelSchema.nullable().optional(),
  // Capability group.
  input_modalities: z.array(z.string()).nullable().optional(),
  models: z.array(z.string()).nullable().optional(),
  quantization: z.string().nullable().optional(),
  inference_engine: z.string().nullable().optional(),
  backend: z.string().nullable().optional(),
  capabilities: z.array(CapabilitySchema).optional(),
  // CIP and billing.
  cip_conformance_level: CipConformanceLevelSchema.optional(),
  cip_policy: CipPolicySchema.nullable().optional(),
  pricing: PricingSchema.nullable().optional(),
  // Privacy.
  cx_public_key: CxPublicKeySchema.nullable().optional(),
  key_ready: z.boolean().optional(),
  privacy_routing_status: z.enum(['key_ready', 'transitional']).optional(),
  node_policy_manifest: NodePolicyManifestSchema.nullable().optional(),
  // SDK.
  ...implementationMetadataShape,
  sdk_status: z.enum(['current', 'downlevel', 'unknown']).optional(),
  sdk_baseline_version: z.string().nullable().optional(),
  upgrade_required: z.boolean().optional(),
  auto_update: AutoUpdateSchema.optional(),
};

/**
 * One node of a route-dispatch NODELIST (iicp-dir.md §3.4; schemas/nodelist.json
 * NodeSummary: `score` in [0,1] and `available` required; open object).
 */
export const NodeSummarySchema = z.looseObject({
  ...nodeFieldsShape,
  score: UnitIntervalSchema,
  available: z.boolean(),
});
export type NodeSummary = z.infer<typeof NodeSummarySchema>;

/** Fields `view=public` MUST NOT expose (iicp-dir.md §3.3 `view`, §3.4 public view). */
export const PUBLIC_VIEW_FORBIDDEN_FIELDS = [
  'node_id',
  'endpoint',
  'transport_endpoint',
  'transport_metadata',
  'transport_candidates',
  'relay_endpoint',
  'cx_public_key',
] as const;

/**
 * One node of a `view=public` NODELIST (iicp-dir.md §3.4, public presentation view): an
 * 8-hex `node_id_prefix` instead of the id, no route fields, no raw keys. `available` is not
 * in the spec example, so it is optional here.
 */
export const PublicNodeSummarySchema = z
  .looseObject({
    ...nodeFieldsShape,
    node_id_prefix: z.string().min(1),
    score: UnitIntervalSchema,
    available: z.boolean().optional(),
  })
  .superRefine((node, ctx) => {
    for (const field of PUBLIC_VIEW_FORBIDDEN_FIELDS) {
      if (node[field] !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [field],
          message: `${field} must not appear in the public view`,
        });
      }
    }
  });
export type PublicNodeSummary = z.infer<typeof PublicNodeSummarySchema>;

const nodeListEnvelopeShape = {
  count: NonNegativeIntSchema.optional(),
  query_ms: NonNegativeIntSchema.optional(),
  relay_available: z.boolean().optional(),
  route_fields_present: z.boolean().optional(),
  redaction: z.looseObject({}).optional(),
  dispatch_ticket_endpoint: z.string().optional(),
  ticketed_dispatch_available: z.boolean().optional(),
};

/**
 * NODELIST, the `GET /v1/discover` response in the default route-dispatch view
 * (iicp-core.md §5; iicp-dir.md §3.4; schemas/nodelist.json). Nodes arrive score-descending.
 */
export const NodeListSchema = z.looseObject({
  ...nodeListEnvelopeShape,
  nodes: z.array(NodeSummarySchema),
  view: z.literal('dispatch').optional(),
  data_class: z.literal('route_dispatch').optional(),
});
export type NodeList = z.infer<typeof NodeListSchema>;

/** NODELIST in `view=public` (iicp-dir.md §3.4, public presentation view). */
export const PublicNodeListSchema = z.looseObject({
  ...nodeListEnvelopeShape,
  nodes: z.array(PublicNodeSummarySchema),
  view: z.literal('public'),
  data_class: z.literal('public_presentation').optional(),
  route_fields_present: z.literal(false).optional(),
});
export type PublicNodeList = z.infer<typeof PublicNodeListSchema>;
