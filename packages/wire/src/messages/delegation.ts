import { z } from 'zod';
import { UuidSchema } from '../primitives.ts';

const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/**
 * Operator → node binding sent at REGISTER (iicp-dir.md §3.1 `operator_delegation`,
 * ADR-045 Phase A). `sig` is base64 Ed25519 over the sorted compact JSON
 * `{"node_id":…,"not_after":…,"operator_pub":…}` (slashes unescaped). An invalid delegation
 * leaves the node operator-unverified and never rejects the registration, so this schema
 * checks shape only; the signature is checked by @iicp/crypto.
 */
export const OperatorDelegationSchema = z.looseObject({
  /** MUST equal the registering node's id. */
  node_id: UuidSchema,
  /** Base64 32-byte Ed25519 public key. */
  operator_pub: z.string().regex(BASE64, { message: 'operator_pub must be base64' }),
  /** Unix seconds; short TTL is the revocation baseline. */
  not_after: z.int().nonnegative(),
  /** Base64 Ed25519 signature. */
  sig: z.string().regex(BASE64, { message: 'sig must be base64' }),
});
export type OperatorDelegation = z.infer<typeof OperatorDelegationSchema>;

/** The three fields the delegation signature covers, in the order the signed bytes sort them. */
export const OPERATOR_DELEGATION_SIGNED_FIELDS = ['node_id', 'not_after', 'operator_pub'] as const;
