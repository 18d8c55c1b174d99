import { z } from 'zod';
import { MODALITY_VALUES } from '../constants.ts';
import { IntentUrnSchema, PositiveIntSchema, UnitIntervalSchema } from '../primitives.ts';

/** An input/output modality: `text`, `image`, `audio` or `video` (iicp-dir.md §3.1, ADR-046). */
export const ModalitySchema = z.enum(MODALITY_VALUES);
export type Modality = z.infer<typeof ModalitySchema>;

/** A typed quantitative capability limit `{value, unit}` (node-capability-format.md §2). */
export const CapabilityLimitSchema = z.looseObject({
  value: z.number(),
  unit: z.string().min(1),
});
export type CapabilityLimit = z.infer<typeof CapabilityLimitSchema>;

const nonEmptyStrings = z.array(z.string().min(1));

/**
 * One capability object, as REGISTER sends it and NODELIST echoes it
 * (node-capability-format.md §2–§7; iicp-core.md §2.1).
 *
 * Only `intent` is required: the directory accepts the minimum registration and checks
 * the conditional inference fields when they are present (spec/decisions.md, required
 * REGISTER fields). Unknown fields are kept: registered vocabulary and namespaced
 * `extensions` must be preserved verbatim (§8), and unknown ones are ignorable (§7).
 */
export const CapabilitySchema = z
  .looseObject({
    intent: IntentUrnSchema,
    /** Capability version, "1" if absent (§2). */
    version: z.string().min(1).optional(),
    /** Minimum IICP phase, 1 if absent (§2). */
    phase: z.int().min(1).optional(),
    variant_id: z.string().min(1).optional(),
    /** Accepted input media; `["text"]` when absent (iicp-dir.md §3.1). */
    input_modalities: z.array(ModalitySchema).optional(),
    output_modalities: z.array(ModalitySchema).optional(),
    features: nonEmptyStrings.optional(),
    execution_capabilities: nonEmptyStrings.optional(),
    limits: z.record(z.string(), CapabilityLimitSchema).optional(),
    supported_profiles: nonEmptyStrings.optional(),
    claim_provenance: z.looseObject({}).optional(),
    extensions: z.record(z.string(), z.unknown()).optional(),

    // LLM inference (§3). `models` ≥1 and `max_tokens` > 0 when present (iicp-core.md §2.1).
    models: nonEmptyStrings.min(1).optional(),
    max_tokens: PositiveIntSchema.optional(),
    context_length: PositiveIntSchema.optional(),
    supports_streaming: z.boolean().optional(),
    /** Advisory; unknown values must not be rejected (iicp-core.md §2.1). */
    quantization: z.string().optional(),
    /** Advisory; unknown values must not be rejected (iicp-core.md §2.1). */
    inference_engine: z.string().optional(),
    hardware: z.string().optional(),
    avg_tokens_per_second: z.number().nonnegative().optional(),
    // Embeddings and retrieval (§3, §6).
    dimensions: PositiveIntSchema.optional(),
    batch_size: PositiveIntSchema.optional(),
    index_type: z.string().optional(),
    index_size: z.int().nonnegative().optional(),
    metric: z.string().optional(),
    // MCP tool execution (§4).
    mcp_tools: nonEmptyStrings.optional(),
    mcp_version: z.string().min(1).optional(),
    mcp_versions: nonEmptyStrings.optional(),
    sandboxed: z.boolean().optional(),
    allowed_domains: nonEmptyStrings.optional(),
    // Compute / batch (§5).
    max_batch_size: PositiveIntSchema.optional(),
    supported_formats: nonEmptyStrings.optional(),
    max_payload_mb: z.number().positive().optional(),
    // CIP intents (§7).
    max_length: PositiveIntSchema.optional(),
    max_candidates: PositiveIntSchema.optional(),
  })
  .superRefine((cap, ctx) => {
    // "when present it MUST contain `mcp_version`" (§4).
    if (cap.mcp_versions && cap.mcp_version && !cap.mcp_versions.includes(cap.mcp_version)) {
      ctx.addIssue({
        code: 'custom',
        path: ['mcp_versions'],
        message: 'mcp_versions must contain mcp_version',
      });
    }
  });
export type Capability = z.infer<typeof CapabilitySchema>;

/** Key-order-independent serialisation, used only to spot exact duplicates. */
function stableKey(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableKey).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableKey(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}

/**
 * A REGISTER capability array: at least one entry; `(intent, variant_id)` unique when
 * `variant_id` is present; exact duplicate objects invalid (node-capability-format.md §7).
 */
export const CapabilityListSchema = z
  .array(CapabilitySchema)
  .min(1, { message: 'capabilities must contain at least one capability' })
  .superRefine((caps, ctx) => {
    const variants = new Set<string>();
    const seen = new Set<string>();
    caps.forEach((cap, i) => {
      if (cap.variant_id !== undefined) {
        const key = `${cap.intent}\u0000${cap.variant_id}`;
        if (variants.has(key)) {
          ctx.addIssue({
            code: 'custom',
            path: [i, 'variant_id'],
            message: '(intent, variant_id) must be unique',
          });
        }
        variants.add(key);
      }
      const whole = stableKey(cap);
      if (seen.has(whole)) {
        ctx.addIssue({ code: 'custom', path: [i], message: 'duplicate capability object' });
      }
      seen.add(whole);
    });
  });

/**
 * Provider CIP policy block sent at REGISTER (node-capability-format.md §9).
 * Defaults (all `false`, reputations 0, `max_concurrent_remote` 2) are applied by the
 * reader, not here, so a parsed message equals what was sent.
 */
export const ProviderPolicySchema = z.looseObject({
  allow_remote_inference: z.boolean().optional(),
  allow_tool_execution: z.boolean().optional(),
  allow_file_access: z.boolean().optional(),
  /** "MUST remain false — safety boundary" (§9). */
  allow_shell_execution: z.literal(false).optional(),
  /** "MUST remain false — safety boundary" (§9). */
  allow_browser_automation: z.literal(false).optional(),
  /** "MUST remain false — safety boundary" (§9). */
  allow_private_memory_access: z.literal(false).optional(),
  minimum_caller_reputation: UnitIntervalSchema.optional(),
  require_credits: z.boolean().optional(),
  minimum_reputation: UnitIntervalSchema.optional(),
  max_concurrent_remote: z.int().nonnegative().optional(),
});
export type ProviderPolicy = z.infer<typeof ProviderPolicySchema>;

/** The defaults of the provider policy block (node-capability-format.md §9). */
export const PROVIDER_POLICY_DEFAULTS = {
  allow_remote_inference: false,
  allow_tool_execution: false,
  allow_file_access: false,
  allow_shell_execution: false,
  allow_browser_automation: false,
  allow_private_memory_access: false,
  minimum_caller_reputation: 0,
  require_credits: false,
  minimum_reputation: 0,
  max_concurrent_remote: 2,
} as const satisfies Required<ProviderPolicy>;

/** The `cip_policy` echo in NODELIST (iicp-dir.md §3.4 field semantics). */
export const CipPolicySchema = z.looseObject({
  allow_remote_inference: z.boolean().optional(),
  allow_tool_execution: z.boolean().optional(),
  allow_file_access: z.boolean().optional(),
  /** Deprecated in favour of `pricing.credit_cost_multiplier` (ADR-019). */
  pricing_credits_per_1000: z.number().nonnegative().nullable().optional(),
});
export type CipPolicy = z.infer<typeof CipPolicySchema>;

/** CIP conformance level (iicp-dir.md §3.4): never null in NODELIST. */
export const CipConformanceLevelSchema = z.enum([
  'CIP-None',
  'CIP-Consumer',
  'CIP-Provider',
  'CIP-Full',
]);
export type CipConformanceLevel = z.infer<typeof CipConformanceLevelSchema>;

/**
 * Pricing block. REGISTER may carry the capability-format §9 form
 * (`accepts_credits`, `credits_per_1000_tokens`, `free_tier_tokens`) or the ADR-019 form
 * (iicp-dir.md §3.4: `credit_cost_multiplier`, `pricing_model`, `currency`, …); NODELIST
 * echoes the ADR-019 form plus `attested`. One open schema covers both.
 */
export const PricingSchema = z.looseObject({
  accepts_credits: z.boolean().optional(),
  credits_per_1000_tokens: z.number().nonnegative().optional(),
  free_tier_tokens: z.int().nonnegative().optional(),
  credit_cost_multiplier: z.number().nonnegative().optional(),
  /** Only `per_token` is defined in v1; others are reserved, so any string is kept. */
  pricing_model: z.string().optional(),
  currency: z.string().optional(),
  effective_from: z.string().nullable().optional(),
  effective_until: z.string().nullable().optional(),
  declaration_signature: z.string().nullable().optional(),
  attested: z.boolean().optional(),
});
export type Pricing = z.infer<typeof PricingSchema>;
