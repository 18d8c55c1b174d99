import { z } from 'zod';
import {
  INTENT_URN_MAX_LENGTH,
  MAX_CONCURRENT_MAX,
  MAX_CONCURRENT_MIN,
  QOS_VALUES,
  REGION_MAX_LENGTH,
  TIMEOUT_MS_MAX,
  TIMEOUT_MS_MIN,
} from './constants.ts';

/**
 * Intent URN as this project accepts it on the wire (spec/decisions.md, intent grammar).
 *
 * The spec has five grammars (iicp-semantics.md §1.1 ABNF, §1.5, task.json, nodelist.json,
 * the registry schema); this one accepts every URN of the intent registry (including the
 * action-less `translate:v1` and the slashed `mcp:tools/call:v1`) and the `x.<vendor>`
 * custom form, requires a version `v1`+, and rejects the deprecated `+modifier` suffix
 * (iicp-semantics.md §1.5: receivers must not strip a modifier, SDKs reject `+`).
 * Comparison is exact and case-sensitive (iicp-semantics.md §1.2), so no normalisation.
 */
export const INTENT_URN_PATTERN =
  /^urn:iicp:intent:(?:x\.[a-z0-9-]+|[a-z0-9-]+)(?::[a-z0-9_/-]+)*:v[1-9][0-9]*$/;

/** Prefix shared by every intent URN (iicp-semantics.md §1.1). */
export const INTENT_URN_PREFIX = 'urn:iicp:intent:';

/** True when `s` is an intent URN this project accepts (see {@link INTENT_URN_PATTERN}). */
export function isIntentUrn(s: unknown): s is string {
  return typeof s === 'string' && s.length <= INTENT_URN_MAX_LENGTH && INTENT_URN_PATTERN.test(s);
}

/** An intent URN (iicp-semantics.md §1.1; grammar decision in spec/decisions.md). */
export const IntentUrnSchema = z
  .string()
  .max(INTENT_URN_MAX_LENGTH, {
    message: `intent URN must be at most ${INTENT_URN_MAX_LENGTH} characters`,
  })
  .regex(INTENT_URN_PATTERN, {
    message:
      'intent must be urn:iicp:intent:<domain>[:<action>]:v<N> or urn:iicp:intent:x.<vendor>:<action>:v<N> (lowercase, no +modifier)',
  });
export type IntentUrn = z.infer<typeof IntentUrnSchema>;

/** The parts of an intent URN. */
export interface ParsedIntentUrn {
  /** First segment after the prefix: `llm`, `translate`, or `x.acme` for a custom intent. */
  domain: string;
  /** Segments between domain and version joined by `:` (`chat`, `tools/call`); absent for `translate:v1`. */
  action?: string;
  /** The version number, `1` for `...:v1`. */
  version: number;
  /** The vendor label of a custom `x.<vendor>` intent. */
  vendor?: string;
  /** True for the vendor-controlled `x.` form (iicp-semantics.md §1.1, custom intents). */
  custom: boolean;
}

/** Splits an intent URN into its parts; `undefined` when it is not an accepted URN. */
export function parseIntentUrn(s: string): ParsedIntentUrn | undefined {
  if (!isIntentUrn(s)) return undefined;
  const segments = s.slice(INTENT_URN_PREFIX.length).split(':');
  const versionSegment = segments.pop() as string;
  const domain = segments.shift() as string;
  const custom = domain.startsWith('x.');
  const parsed: ParsedIntentUrn = {
    domain,
    version: Number(versionSegment.slice(1)),
    custom,
  };
  if (segments.length > 0) parsed.action = segments.join(':');
  if (custom) parsed.vendor = domain.slice(2);
  return parsed;
}

/**
 * UUID version 4, case-insensitive (iicp-core.md §2.1 `node_id`, §3.1 `task_id`).
 * The version nibble must be 4 and the variant nibble one of 8, 9, a, b.
 */
export const UUID_V4_PATTERN =
  /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** True when `s` is a UUID v4 string (any letter case). */
export function isUuidV4(s: unknown): s is string {
  return typeof s === 'string' && UUID_V4_PATTERN.test(s);
}

/** A UUID v4 (iicp-core.md §2.1, §3.1). */
export const UuidV4Schema = z.string().regex(UUID_V4_PATTERN, { message: 'must be a UUID v4' });
export type UuidV4 = z.infer<typeof UuidV4Schema>;

/**
 * A node id as other messages reference it: the spec says "UUID" without a version in
 * several places (heartbeat `node_id`, iicp-core.md §4.1), and the directory issues v4,
 * so references accept any RFC 4122-shaped UUID.
 */
export const UuidSchema = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, {
    message: 'must be a UUID',
  });

/** IANA-style region tag such as `eu-central`, at most 64 characters (iicp-core.md §2.1). */
export const RegionSchema = z
  .string()
  .min(1, { message: 'region must not be empty' })
  .max(REGION_MAX_LENGTH, { message: `region must be at most ${REGION_MAX_LENGTH} characters` });
export type Region = z.infer<typeof RegionSchema>;

/**
 * CALL `constraints.timeout_ms`: integer in [100, 300000] (schemas/task.json; iicp-core.md
 * §3.1 only says > 0, and the project takes the schema's bounds: spec/decisions.md).
 */
export const TimeoutMsSchema = z.int().min(TIMEOUT_MS_MIN).max(TIMEOUT_MS_MAX);

/** `limits.max_concurrent`: integer 1–256 (iicp-core.md §2.1). */
export const MaxConcurrentSchema = z.int().min(MAX_CONCURRENT_MIN).max(MAX_CONCURRENT_MAX);

/** A strictly positive integer (`max_tokens`, `tokens_per_min`: iicp-core.md §2.1). */
export const PositiveIntSchema = z.int().positive();

/** A non-negative integer (counters, milliseconds). */
export const NonNegativeIntSchema = z.int().nonnegative();

/**
 * QoS class. All four values are accepted everywhere (iicp-core.md §3.1, iicp-semantics.md
 * §2.1), although task.json and the discover parameter table list only three.
 */
export const QosSchema = z.enum(QOS_VALUES);
export type Qos = z.infer<typeof QosSchema>;

/** A number in [0, 1]: load, share, scores, reputation. */
export const UnitIntervalSchema = z.number().min(0).max(1);

/** `HH:MM` in UTC, 00:00–23:59 (availability windows, iicp-semantics.md availability). */
export const HhMmSchema = z
  .string()
  .regex(/^(?:[01][0-9]|2[0-3]):[0-5][0-9]$/, { message: 'must be HH:MM (00:00–23:59)' });

/** An http(s) URL (node `endpoint`, directory origin). Scheme policy is the directory's job. */
export const HttpUrlSchema = z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' });

/** Lowercase or uppercase hex string. */
export const HexSchema = z.string().regex(/^[0-9a-fA-F]*$/, { message: 'must be hex' });

/** An RFC 3339 / ISO 8601 timestamp with offset (e.g. `expires_at`). */
export const TimestampSchema = z.iso.datetime({ offset: true });
