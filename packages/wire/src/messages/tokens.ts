import { z } from 'zod';
import { DISPATCH_ROUTE_TICKET_AUDIENCE, DISPATCH_ROUTE_TICKET_TYPE } from '../constants.ts';
import { IntentUrnSchema, QosSchema, UuidSchema } from '../primitives.ts';
import { CxPublicKeySchema } from './node-fields.ts';

const unixSeconds = z.int().nonnegative();

/**
 * Consumer token payload (iicp-dir.md §3.12): `{v:1, iss, sub (caller node_id), aud
 * (target node_id), intent | "*", iat, exp}` with `exp = iat + 300` by default. The
 * token is `b64url(payload) + "." + hex(Ed25519("iicp:consumer-token:v1\n" + b64))`;
 * signing and checks live in @iicp/crypto.
 */
export const ConsumerTokenClaimsSchema = z
  .looseObject({
    v: z.literal(1),
    iss: z.string().min(1),
    sub: z.string().min(1),
    aud: z.string().min(1),
    intent: z.union([IntentUrnSchema, z.literal('*')]),
    iat: unixSeconds,
    exp: unixSeconds,
  })
  .refine((c) => c.exp > c.iat, { path: ['exp'], message: 'exp must be after iat' });
export type ConsumerTokenClaims = z.infer<typeof ConsumerTokenClaimsSchema>;

/** `POST /api/v1/consumer-token` body, Bearer node_token (iicp-dir.md §3.12). */
export const ConsumerTokenRequestSchema = z.looseObject({
  target_node_id: UuidSchema,
  intent: z.union([IntentUrnSchema, z.literal('*')]),
});
export type ConsumerTokenRequest = z.infer<typeof ConsumerTokenRequestSchema>;

/** `201` consumer-token response (iicp-dir.md §3.12). */
export const ConsumerTokenResponseSchema = z.looseObject({
  token: z.string().regex(/^[A-Za-z0-9_-]+\.[0-9a-f]+$/, {
    message: 'token must be <base64url_payload>.<sig_hex>',
  }),
  expires_at: unixSeconds,
  caller_node_id: z.string().min(1),
  target_node_id: z.string().min(1),
  intent: z.string().min(1),
});
export type ConsumerTokenResponse = z.infer<typeof ConsumerTokenResponseSchema>;

/** `GET /api/v1/directory-key` (iicp-dir.md §3.12): 32-byte Ed25519 key as 64 hex. */
export const DirectoryKeyResponseSchema = z.looseObject({
  public_key: z.string().regex(/^[0-9a-fA-F]{64}$/, { message: 'public_key must be 64 hex' }),
  algorithm: z.literal('ed25519'),
});
export type DirectoryKeyResponse = z.infer<typeof DirectoryKeyResponseSchema>;

/**
 * Dispatch route ticket claims (iicp-dir.md §3.4, ticketed dispatch): type
 * `dispatch-route-ticket`, audience `iicp.directory.dispatch`, one `node_id`, one
 * `intent`, a short expiry. `jti` is at least 96 bits of hex (the project issues 128).
 */
export const DispatchRouteTicketClaimsSchema = z
  .looseObject({
    v: z.literal(1),
    typ: z.literal(DISPATCH_ROUTE_TICKET_TYPE),
    iss: z.string().min(1),
    aud: z.literal(DISPATCH_ROUTE_TICKET_AUDIENCE),
    // D-042: exactly 24 lowercase hex, as the profile and its published vector have it.
    jti: z.string().regex(/^[0-9a-f]{24}$/, { message: 'jti must be 24 lowercase hex' }),
    // The published vector uses a non-UUID id ("node-00000001"): accept any node id.
    node_id: z.string().min(1).max(128),
    intent: IntentUrnSchema,
    iat: unixSeconds,
    exp: unixSeconds,
    policy_manifest_sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
  })
  .refine((c) => c.exp > c.iat, { path: ['exp'], message: 'exp must be after iat' });
export type DispatchRouteTicketClaims = z.infer<typeof DispatchRouteTicketClaimsSchema>;

/** Keys a ticket request must never carry: it is control-plane only (iicp-dir.md §3.4). */
export const DISPATCH_TICKET_FORBIDDEN_KEYS = [
  'prompt',
  'messages',
  'payload',
  'input',
  'chat',
  'content',
  'response',
] as const;

/**
 * `POST /v1/dispatch/ticket` body (iicp-dir.md §3.4, ticketed dispatch discovery).
 * Prompt-free: any task-body key is rejected (and must never be echoed); `node_id` and
 * `node_id_prefix` are mutually exclusive; at most ten exclusions.
 */
export const DispatchTicketRequestSchema = z
  .looseObject({
    intent: IntentUrnSchema,
    qos: QosSchema.optional(),
    node_id: UuidSchema.optional(),
    node_id_prefix: z
      .string()
      .regex(/^[0-9a-f]{4,32}$/i)
      .optional(),
    exclude_node_id_prefixes: z
      .array(z.string().regex(/^[0-9a-f-]{1,36}$/i))
      .max(10)
      .optional(),
  })
  .superRefine((req, ctx) => {
    for (const key of DISPATCH_TICKET_FORBIDDEN_KEYS) {
      if (key in req) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: 'dispatch ticket requests must not carry task content',
        });
      }
    }
    if (req.node_id !== undefined && req.node_id_prefix !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['node_id_prefix'],
        message: 'send node_id or node_id_prefix, not both',
      });
    }
  });
export type DispatchTicketRequest = z.infer<typeof DispatchTicketRequestSchema>;

/** `201` dispatch ticket response (iicp-dir.md §3.4, ticketed dispatch discovery). */
export const DispatchTicketResponseSchema = z.looseObject({
  ticket: z.string().regex(/^[A-Za-z0-9_-]+\.[0-9a-f]+$/),
  ticket_id_prefix: z.string().min(1),
  expires_at: z.union([unixSeconds, z.string()]),
  intent: IntentUrnSchema,
  node_id: UuidSchema,
  node_id_prefix: z.string().min(1),
  route: z.looseObject({
    node_id: UuidSchema,
    endpoint: z.string().min(1),
    transport_endpoint: z.string().nullable().optional(),
    cx_public_key: z.union([CxPublicKeySchema, z.looseObject({}), z.null()]).optional(),
  }),
  algorithm: z.literal('ed25519'),
  data_class: z.literal('ticketed_route_dispatch'),
  route_fields_present: z.literal(true),
  prompt_payload_accepted: z.literal(false),
});
export type DispatchTicketResponse = z.infer<typeof DispatchTicketResponseSchema>;
