/**
 * Operator delegation (iicp-dir.md §3.1 REGISTER `operator_delegation`, ADR-045 Phase
 * A): an operator's Ed25519 key vouches for one node until `not_after`. The directory
 * verifies it offline; a failure leaves the node operator-unverified but never rejects
 * the registration. `sig` is standard base64 Ed25519 over the sorted, compact JSON of
 * `{node_id, not_after, operator_pub}` with slashes unescaped.
 */
import { canonicalJsonSortedCompact } from '@iicp/codec';
import { sha256 } from '@noble/hashes/sha2.js';
import type { Ed25519Signer } from './directory-key.ts';
import { ed25519Verify, isValidEd25519PublicKey } from './ed25519.ts';
import { fromBase64Strict, toBase64, toHex, utf8 } from './encoding.ts';
import type { UnixClock } from './signed-token.ts';
import { systemClock } from './signed-token.ts';

export interface OperatorDelegationFields {
  readonly node_id: string;
  /** Standard base64 (with padding) of the 32-byte operator public key. */
  readonly operator_pub: string;
  /** Unix seconds. */
  readonly not_after: number;
}

export interface SignedOperatorDelegation extends OperatorDelegationFields {
  /** Standard base64 of the 64-byte signature. */
  readonly sig: string;
}

/** The exact bytes the operator signs. */
export function operatorDelegationSigningInput(f: OperatorDelegationFields): string {
  return canonicalJsonSortedCompact({
    node_id: f.node_id,
    not_after: f.not_after,
    operator_pub: f.operator_pub,
  });
}

/** Operator tooling: delegate `nodeId` to the holder of `signer` until `notAfter`. */
export function signOperatorDelegation(
  nodeId: string,
  notAfter: number,
  signer: Ed25519Signer,
): SignedOperatorDelegation {
  if (!Number.isSafeInteger(notAfter) || notAfter < 0)
    throw new RangeError('not_after must be unix seconds');
  const fields = { node_id: nodeId, operator_pub: toBase64(signer.publicKey), not_after: notAfter };
  const sig = signer.sign(utf8(operatorDelegationSigningInput(fields)));
  return { ...fields, sig: toBase64(sig) };
}

export type OperatorDelegationFailure = 'malformed' | 'wrong_node' | 'expired' | 'bad_signature';

export type OperatorDelegationResult =
  | {
      readonly ok: true;
      readonly operatorPublicKey: Uint8Array;
      /**
       * Short public handle of the operator key (iicp-dir.md §3.4 `operator_fingerprint`,
       * whose derivation the spec leaves open; its example has 12 hex): the first 12 hex
       * of sha256(operator key). The key itself stays directory-private.
       */
      readonly operatorFingerprint: string;
      readonly notAfter: number;
    }
  | { readonly ok: false; readonly reason: OperatorDelegationFailure };

export interface VerifyOperatorDelegationOptions {
  /** The id of the node that is registering; `node_id` must equal it. */
  readonly nodeId: string;
  readonly clock?: UnixClock;
}

/** Offline check: shape, node binding, `now ≤ not_after`, then the signature. */
export function verifyOperatorDelegation(
  delegation: unknown,
  opts: VerifyOperatorDelegationOptions,
): OperatorDelegationResult {
  if (delegation === null || typeof delegation !== 'object')
    return { ok: false, reason: 'malformed' };
  const d = delegation as Record<string, unknown>;
  if (
    typeof d.node_id !== 'string' ||
    typeof d.operator_pub !== 'string' ||
    typeof d.sig !== 'string' ||
    typeof d.not_after !== 'number' ||
    !Number.isSafeInteger(d.not_after) ||
    d.not_after < 0
  ) {
    return { ok: false, reason: 'malformed' };
  }
  const pub = fromBase64Strict(d.operator_pub, 32);
  const sig = fromBase64Strict(d.sig, 64);
  if (!pub || !sig || !isValidEd25519PublicKey(pub)) return { ok: false, reason: 'malformed' };
  if (d.node_id !== opts.nodeId) return { ok: false, reason: 'wrong_node' };
  const now = (opts.clock ?? systemClock)();
  if (now > d.not_after) return { ok: false, reason: 'expired' };
  const input = operatorDelegationSigningInput({
    node_id: d.node_id,
    operator_pub: d.operator_pub,
    not_after: d.not_after,
  });
  if (!ed25519Verify(sig, utf8(input), pub)) return { ok: false, reason: 'bad_signature' };
  return {
    ok: true,
    operatorPublicKey: pub,
    operatorFingerprint: toHex(sha256(pub)).slice(0, 12),
    notAfter: d.not_after,
  };
}
