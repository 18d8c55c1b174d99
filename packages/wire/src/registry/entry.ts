import { z } from 'zod';
import { IntentUrnSchema } from '../primitives.ts';

/*
 * The format of registry/intents.json: this project's own record of the spec's intent
 * vocabulary (iicp-semantics.md §1.1: "The registry is the authority for standard
 * intents"). registry/intents.schema.json is generated from these schemas.
 */

/**
 * Lifecycle of a registry entry (registry 1.4.0). See registry/README.md for what each
 * status means to this implementation.
 */
export const INTENT_STATUSES = [
  'active',
  'experimental',
  'reserved',
  'deprecated',
  'withdrawn',
] as const;
export const IntentStatusSchema = z.enum(INTENT_STATUSES);
export type IntentStatus = z.infer<typeof IntentStatusSchema>;

/** What kind of work an intent names (registry 1.4.0 `kind`). */
export const INTENT_KINDS = [
  'analysis',
  'generation',
  'inference',
  'interactive',
  'ranking',
  'representation',
  'tool',
  'transformation',
] as const;
export const IntentKindSchema = z.enum(INTENT_KINDS);
export type IntentKind = z.infer<typeof IntentKindSchema>;

/** A calendar date, `YYYY-MM-DD`. */
const DateSchema = z.iso.date();

/** A schema file path relative to the folder that holds it (`schemas/llm-chat-v1-input.json`). */
const SchemaPathSchema = z.string().regex(/^schemas\/[a-z0-9-]+\.json$/);

/** The pair of schema files that describe an intent's payload and result. */
export const SchemaRefsSchema = z.strictObject({
  /** Schema of the CALL `payload`. */
  input: SchemaPathSchema,
  /** Schema of the RESPONSE `result`. */
  output: SchemaPathSchema,
});

/** One standard intent. */
export const IntentRegistryEntrySchema = z
  .strictObject({
    /** The intent URN, compared exactly (iicp-semantics.md §1.2). */
    urn: IntentUrnSchema,
    /** First URN segment (`llm`). */
    domain: z.string().regex(/^[a-z0-9-]+$/),
    /** Segments between domain and version (`chat`, `tools/call`); `null` for `translate:v1`. */
    action: z
      .string()
      .regex(/^[a-z0-9_/-]+(?::[a-z0-9_/-]+)*$/)
      .nullable(),
    /** Version number from the `:v<N>` suffix. */
    version: z.int().min(1),
    /** Protocol phase the intent belongs to (1 core, 2 MCP binding, 5 cooperative inference). */
    phase: z.int().min(1),
    status: IntentStatusSchema,
    kind: IntentKindSchema,
    /** One sentence in this project's words. */
    summary: z.string().min(1).max(200),
    /** Our schemas, relative to registry/ (generated from @iicp/wire's zod schemas). */
    schemas: SchemaRefsSchema,
    /** The spec's schemas for the same intent, relative to the spec's registry/ folder. */
    spec_schemas: SchemaRefsSchema,
    /** Replacement intent of a deprecated one. */
    deprecated_by: IntentUrnSchema.optional(),
    /** When the deprecation took effect. */
    deprecated_since: DateSchema.optional(),
  })
  .superRefine((e, ctx) => {
    // The URN is the fact; the split fields must agree with it.
    const expected = `urn:iicp:intent:${e.domain}${e.action === null ? '' : `:${e.action}`}:v${e.version}`;
    if (e.urn !== expected) {
      ctx.addIssue({ code: 'custom', path: ['urn'], message: `urn does not match ${expected}` });
    }
    if (e.domain.startsWith('x.')) {
      ctx.addIssue({
        code: 'custom',
        path: ['domain'],
        message: 'x. custom intents are never listed',
      });
    }
    if (e.status === 'deprecated' && e.deprecated_by === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['deprecated_by'],
        message: 'a deprecated intent names its replacement',
      });
    }
    if (e.status !== 'deprecated' && e.deprecated_by !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['deprecated_by'],
        message: 'only deprecated intents have a replacement',
      });
    }
  });
export type IntentRegistryEntry = z.infer<typeof IntentRegistryEntrySchema>;

/** The whole registry/intents.json document. */
export const IntentRegistryDocumentSchema = z
  .strictObject({
    /** Editor hint pointing at registry/intents.schema.json. */
    $schema: z.string().optional(),
    /** Version of this file's format; bumped on incompatible change. */
    format: z.literal(1),
    /** The spec registry this file was checked against. */
    spec_registry: z.strictObject({
      version: z.string().regex(/^\d+\.\d+\.\d+$/),
      updated: DateSchema,
    }),
    intents: z.array(IntentRegistryEntrySchema).min(1),
  })
  .superRefine((doc, ctx) => {
    const seen = new Set<string>();
    doc.intents.forEach((e, i) => {
      if (seen.has(e.urn)) {
        ctx.addIssue({ code: 'custom', path: ['intents', i, 'urn'], message: 'duplicate urn' });
      }
      seen.add(e.urn);
    });
    doc.intents.forEach((e, i) => {
      if (e.deprecated_by !== undefined && !seen.has(e.deprecated_by)) {
        ctx.addIssue({
          code: 'custom',
          path: ['intents', i, 'deprecated_by'],
          message: 'replacement is not in the registry',
        });
      }
    });
  })
  .meta({
    title: 'IICP TypeScript intent registry',
    description:
      'Standard IICP intent URNs with lifecycle status and payload schema references (registry/README.md).',
  });
export type IntentRegistryDocument = z.infer<typeof IntentRegistryDocumentSchema>;
