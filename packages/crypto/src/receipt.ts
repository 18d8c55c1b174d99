/**
 * CIP worker receipt (iicp-cooperative-inference.md §10.3): the worker signs what it
 * did with HMAC-SHA256 under the `node_hmac_key` the directory gave it at
 * registration; the coordinator re-hashes the result and the directory verifies the
 * HMAC before awarding credits (failure → `IICP-E027`).
 *
 *   response_hash = sha256_hex(PY_JSON(result))                 (null/empty → sha256(""))
 *   message       = task_id:tokens_used:parent:session:nonce:response_hash[:querying_node_id]
 *   signature     = hex(HMAC-SHA256(UTF8(node_hmac_key), UTF8(message)))
 *
 * The same HMAC answers the heartbeat liveness challenge (iicp-dir.md §3.2).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { canonicalJsonPython } from '@iicp/codec';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { fromHexStrict, toHex, utf8 } from './encoding.ts';

/** SHA-256 of zero bytes: the `response_hash` of a null or empty result (§10.3). */
export const EMPTY_RESPONSE_HASH =
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const SHA256_HEX = /^[0-9a-f]{64}$/;
/**
 * Accepted `nonce`: 1–64 printable ASCII (spec/decisions.md D-052; §10.3 says hex
 * ≥ 32, some workers send a uuid4). Its replay check is the caller's atomic store.
 */
const NONCE = /^[\x20-\x7e]{1,64}$/;

/** A fresh `receipt_nonce`: 16 CSPRNG bytes as 32 lowercase hex (≥ 128 bits, §10.3). */
export function generateReceiptNonce(): string {
  return randomBytes(16).toString('hex');
}

function isEmptyResult(result: unknown): boolean {
  if (result === null || result === undefined || result === '') return true;
  if (Array.isArray(result)) return result.length === 0;
  return typeof result === 'object' && Object.keys(result as object).length === 0;
}

/**
 * `response_hash` of a task result: SHA-256 hex of Python
 * `json.dumps(result, sort_keys=True, separators=(',', ':'))` as UTF-8. "A null/empty
 * result" (§10.3) is read as: null, absent, `""`, `[]` or `{}` (decision recorded in
 * the README); `0` and `false` are values and are hashed.
 */
export function computeResponseHash(result: unknown): string {
  if (isEmptyResult(result)) return EMPTY_RESPONSE_HASH;
  return toHex(sha256(utf8(canonicalJsonPython(result))));
}

/** The fields the receipt HMAC covers (§10.3 "Canonical message format"). */
export interface ReceiptSignedFields {
  /** The worker's sub-task id (not the parent task). */
  readonly task_id: string;
  /** Integer token count. */
  readonly tokens_used: number;
  /** Parent task id, `""` or absent when there is none. */
  readonly cip_parent_task_id?: string | null;
  /** Session key from the coordinator, `""` or absent when there is none. */
  readonly cip_session_key?: string | null;
  readonly nonce: string;
  readonly response_hash: string;
  /** Appended as a seventh field only when present and non-empty. */
  readonly querying_node_id?: string | null;
}

/** The exact string the HMAC is computed over. */
export function receiptCanonicalMessage(f: ReceiptSignedFields): string {
  if (!Number.isSafeInteger(f.tokens_used) || f.tokens_used < 0) {
    throw new RangeError('tokens_used must be a non-negative integer');
  }
  const parts = [
    f.task_id,
    String(f.tokens_used),
    f.cip_parent_task_id ?? '',
    f.cip_session_key ?? '',
    f.nonce,
    f.response_hash,
  ];
  if (typeof f.querying_node_id === 'string' && f.querying_node_id !== '') {
    parts.push(f.querying_node_id);
  }
  return parts.join(':');
}

/** hex(HMAC-SHA256(UTF8(key), UTF8(message))). */
export function hmacSha256Hex(key: string | Uint8Array, message: string): string {
  const k = typeof key === 'string' ? utf8(key) : key;
  return toHex(hmac(sha256, k, utf8(message)));
}

/** Worker side: the 64-hex `signature` of a receipt. */
export function signReceipt(fields: ReceiptSignedFields, nodeHmacKey: string): string {
  return hmacSha256Hex(nodeHmacKey, receiptCanonicalMessage(fields));
}

export type ReceiptFailure =
  | 'hmac_key_missing'
  | 'missing_response_hash'
  | 'malformed'
  | 'bad_signature'
  | 'response_hash_mismatch';

export type ReceiptVerifyResult =
  { readonly ok: true } | { readonly ok: false; readonly reason: ReceiptFailure };

export interface VerifyReceiptOptions {
  /** The worker's `node_hmac_key`; absent means not provisioned. */
  readonly nodeHmacKey: string | null | undefined;
  /**
   * The result the coordinator received. When given, `response_hash` must be its hash
   * (coordinator check, §10.3 "`response_hash` requirement").
   */
  readonly result?: unknown;
}

/**
 * The verification order of §10.3: key provisioned, `response_hash` 64 lowercase hex,
 * then the HMAC in constant time. Every failure is `IICP-E027` on the wire.
 */
export function verifyReceipt(
  receipt: ReceiptSignedFields & { readonly signature?: unknown },
  opts: VerifyReceiptOptions,
): ReceiptVerifyResult {
  if (typeof opts.nodeHmacKey !== 'string' || opts.nodeHmacKey === '') {
    return { ok: false, reason: 'hmac_key_missing' };
  }
  if (typeof receipt.response_hash !== 'string' || !SHA256_HEX.test(receipt.response_hash)) {
    return { ok: false, reason: 'missing_response_hash' };
  }
  if (
    typeof receipt.task_id !== 'string' ||
    !Number.isSafeInteger(receipt.tokens_used) ||
    receipt.tokens_used < 0 ||
    typeof receipt.nonce !== 'string' ||
    !NONCE.test(receipt.nonce) ||
    typeof receipt.signature !== 'string'
  ) {
    return { ok: false, reason: 'malformed' };
  }
  const presented = fromHexStrict(receipt.signature, 32);
  if (!presented) return { ok: false, reason: 'bad_signature' };
  const expected = hmac(sha256, utf8(opts.nodeHmacKey), utf8(receiptCanonicalMessage(receipt)));
  if (!timingSafeEqual(presented, expected)) return { ok: false, reason: 'bad_signature' };
  if ('result' in opts && computeResponseHash(opts.result) !== receipt.response_hash) {
    return { ok: false, reason: 'response_hash_mismatch' };
  }
  return { ok: true };
}

/**
 * Heartbeat liveness answer (iicp-dir.md §3.2): hex HMAC-SHA256 keyed by the UTF-8
 * `node_hmac_key` over the UTF-8 text of the challenge exactly as received (the spec
 * does not say to hex-decode it; see the README).
 */
export function challengeResponse(nodeHmacKey: string, challenge: string): string {
  return hmacSha256Hex(nodeHmacKey, challenge);
}

export function verifyChallengeResponse(
  nodeHmacKey: string,
  challenge: string,
  response: string,
): boolean {
  const presented = fromHexStrict(response, 32);
  if (!presented) return false;
  return timingSafeEqual(presented, hmac(sha256, utf8(nodeHmacKey), utf8(challenge)));
}
