/**
 * IICP-CX Tier 1 (iicp-confidentiality.md §3–§6): the consumer encrypts the task
 * payload to the node's static X25519 key with a fresh ephemeral key per task.
 *
 *   shared = X25519(ephemeral_priv, node_pub)
 *   key    = HKDF-SHA256(ikm = shared, salt = nonce, info = "IICP-CX-v1" || task_id || intent, 32)
 *   body   = AES-256-GCM(key, nonce, payload_json, aad = UTF8(task_id + "|" + intent)) || tag
 *
 * The info string has no separators; the AAD has a `|` (§5). §4.1 describes the
 * envelope `aad` member as "task_id + intent concatenated"; decisions: we seal and
 * open with the §5 form, send its bytes in `aad`, and accept either spelling in a
 * received `aad` (the AEAD always uses the form recomputed from the request itself).
 * Tier 1 has no forward secrecy against node-key compromise and does not encrypt
 * responses (§5).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import type { CxPublicKey } from '@iicp/wire';
import { CxPublicKeySchema, IicpProtocolError } from '@iicp/wire';
import { concatBytes, fromBase64UrlStrict, toBase64Url, toHex, utf8 } from './encoding.ts';

/** HKDF info prefix (§5 step 4). */
export const CX_HKDF_INFO_PREFIX = 'IICP-CX-v1';
/** `iicp_conf.version` of Tier 1 (§4.1). */
export const CX_ENVELOPE_VERSION = 1;
export const CX_NONCE_BYTES = 12;
export const CX_KEY_BYTES = 32;
const GCM_TAG_BYTES = 16;
/** Nodes rotate their CX key at least every 90 days (CX-NODE-01). */
export const CX_KEY_MAX_LIFETIME_SECONDS = 90 * 24 * 3600;

export interface CxKeyPair {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  /** `cx-` + 16 hex, see {@link cxKeyId}. */
  readonly keyId: string;
}

/**
 * The HTTP confidentiality envelope that replaces `payload` (§4.1). Declared here
 * because @iicp/wire has no schema for it yet; it belongs there once the task schema
 * grows `iicp_conf`.
 */
export interface IicpConfEnvelope {
  readonly version: number;
  readonly recipient_key_id: string;
  readonly kem_ciphertext: string;
  readonly encrypted_body: string;
  readonly nonce: string;
  readonly aad: string;
  readonly plaintext_size: number;
}

/**
 * `key_id` = `"cx-"` + the first 16 hex of SHA-256 over the 32 raw key bytes
 * (spec/decisions.md D-054). §3.1 says "sha256 of DER-encoded key, first 8 hex bytes";
 * the notes report the `cx-` form for the research prototype the document points at.
 * No vector settles it, so receivers treat `key_id` as opaque (matched against what
 * they advertised) and this is to be confirmed against a live peer.
 */
export function cxKeyId(publicKey: Uint8Array): string {
  if (publicKey.length !== CX_KEY_BYTES) throw new RangeError('an X25519 public key is 32 bytes');
  return `cx-${toHex(sha256(publicKey)).slice(0, 16)}`;
}

export function generateCxKeyPair(): CxKeyPair {
  return cxKeyPairFromPrivateKey(x25519.utils.randomSecretKey());
}

export function cxKeyPairFromPrivateKey(privateKey: Uint8Array): CxKeyPair {
  if (privateKey.length !== CX_KEY_BYTES) throw new RangeError('an X25519 private key is 32 bytes');
  const publicKey = x25519.getPublicKey(privateKey);
  return { privateKey: Uint8Array.from(privateKey), publicKey, keyId: cxKeyId(publicKey) };
}

export function cxPublicKeyAdvertisement(
  pair: Pick<CxKeyPair, 'publicKey' | 'keyId'>,
  notAfter: Date,
  features?: readonly string[],
): CxPublicKey {
  return {
    algorithm: 'X25519',
    encoding: 'base64url',
    key: toBase64Url(pair.publicKey),
    key_id: pair.keyId,
    not_after: notAfter.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    hybrid_pq: null,
    ...(features === undefined ? {} : { features: [...features] }),
  };
}

/**
 * Read a peer's advertised key. `undefined` means "no usable CX key": the caller must
 * fail closed (§3.2), never fall back to plaintext.
 */
export function parseCxPublicKey(
  adv: unknown,
  nowSeconds: number = Date.now() / 1000,
): { publicKey: Uint8Array; keyId: string } | undefined {
  const parsed = CxPublicKeySchema.safeParse(adv);
  if (!parsed.success) return undefined;
  const a = parsed.data;
  const publicKey = fromBase64UrlStrict(a.key, CX_KEY_BYTES);
  if (!publicKey) return undefined;
  if (typeof a.not_after === 'string') {
    const t = Date.parse(a.not_after);
    if (Number.isNaN(t) || t / 1000 <= nowSeconds) return undefined;
  }
  return { publicKey, keyId: a.key_id };
}

const P25519 = 2n ** 255n - 19n;

/**
 * Whether 32 bytes are the canonical encoding of an X25519 u-coordinate: top bit clear
 * and u < p. RFC 7748 decoding ignores the top bit and reduces mod p, so without this
 * check a changed `kem_ciphertext` could still decrypt; honest senders never produce
 * another spelling, so refusing them costs nothing.
 */
function isCanonicalX25519(pub: Uint8Array): boolean {
  if (pub.length !== CX_KEY_BYTES || (pub[31]! & 0x80) !== 0) return false;
  let u = 0n;
  for (let i = 31; i >= 0; i--) u = (u << 8n) | BigInt(pub[i]!);
  return u < P25519;
}

function deriveKey(
  shared: Uint8Array,
  nonce: Uint8Array,
  taskId: string,
  intent: string,
): Uint8Array {
  const info = utf8(`${CX_HKDF_INFO_PREFIX}${taskId}${intent}`);
  return hkdf(sha256, shared, nonce, info, 32);
}

/** The AEAD associated data of §5: `UTF8(task_id + "|" + intent)`. */
export function cxAad(taskId: string, intent: string): Uint8Array {
  return utf8(`${taskId}|${intent}`);
}

export interface SealCxOptions {
  readonly recipientPublicKey: Uint8Array;
  /** The `key_id` the node advertised (sent back as `recipient_key_id`). */
  readonly recipientKeyId: string;
  readonly taskId: string;
  readonly intent: string;
  /** The payload JSON bytes (or text, encoded as UTF-8). */
  readonly plaintext: Uint8Array | string;
  /** Reproducible vectors only: a fixed ephemeral key and nonce. Never set in production. */
  readonly ephemeralPrivateKey?: Uint8Array;
  readonly nonce?: Uint8Array;
}

/** Consumer side: encrypt a task payload into an `iicp_conf` envelope. */
export function sealCx(opts: SealCxOptions): IicpConfEnvelope {
  const plaintext = typeof opts.plaintext === 'string' ? utf8(opts.plaintext) : opts.plaintext;
  const ephPriv = opts.ephemeralPrivateKey ?? x25519.utils.randomSecretKey();
  const ephPub = x25519.getPublicKey(ephPriv);
  const nonce = opts.nonce ?? new Uint8Array(randomBytes(CX_NONCE_BYTES));
  if (nonce.length !== CX_NONCE_BYTES) throw new RangeError('the CX nonce is 12 bytes');
  // Throws on a small-order node key: refusing to encrypt is the fail-closed answer.
  const shared = x25519.getSharedSecret(ephPriv, opts.recipientPublicKey);
  const key = deriveKey(shared, nonce, opts.taskId, opts.intent);
  const aad = cxAad(opts.taskId, opts.intent);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_BYTES });
  cipher.setAAD(aad);
  const body = concatBytes(cipher.update(plaintext), cipher.final(), cipher.getAuthTag());
  key.fill(0);
  shared.fill(0);
  return {
    version: CX_ENVELOPE_VERSION,
    recipient_key_id: opts.recipientKeyId,
    kem_ciphertext: toBase64Url(ephPub),
    encrypted_body: toBase64Url(body),
    nonce: toBase64Url(nonce),
    aad: toBase64Url(aad),
    plaintext_size: plaintext.length,
  };
}

/**
 * Which error codes a failed open produces. `tier1` (the default) is the shipped,
 * normative-for-conformance model of §6: every decrypt and no-support failure is
 * `IICP-E050` with status 422. `target` is the Tier-2 model: E060 unknown key, E061
 * version, E062 decrypt failure (400).
 */
export type CxErrorModel = 'tier1' | 'target';

export interface OpenCxOptions {
  readonly envelope: IicpConfEnvelope;
  /** The node's current keys (more than one during rotation). */
  readonly recipientKeys: readonly CxKeyPair[];
  /** task_id and intent of the request that carried the envelope. */
  readonly taskId: string;
  readonly intent: string;
  readonly errorModel?: CxErrorModel;
}

type CxFailure = 'unknown_key' | 'unsupported_version' | 'decrypt_failed';

function cxError(kind: CxFailure, model: CxErrorModel): IicpProtocolError {
  const message =
    kind === 'unknown_key'
      ? 'CX recipient key id is not a key of this node'
      : kind === 'unsupported_version'
        ? 'CX envelope version is not supported'
        : 'CX payload could not be decrypted';
  if (model === 'tier1') {
    return new IicpProtocolError('IICP-E050', message, { status: 422 });
  }
  const code =
    kind === 'unknown_key'
      ? 'IICP-E060'
      : kind === 'unsupported_version'
        ? 'IICP-E061'
        : 'IICP-E062';
  return new IicpProtocolError(code, message);
}

/**
 * Provider side: decrypt an `iicp_conf` envelope. Throws an {@link IicpProtocolError}
 * (see {@link CxErrorModel}) on any failure; the message never carries key material
 * or payload bytes.
 */
export function openCx(opts: OpenCxOptions): Uint8Array {
  const model = opts.errorModel ?? 'tier1';
  const env = opts.envelope as unknown as Record<string, unknown>;
  if (env === null || typeof env !== 'object') throw cxError('decrypt_failed', model);
  if (env.version !== CX_ENVELOPE_VERSION) throw cxError('unsupported_version', model);
  const pair = opts.recipientKeys.find((k) => k.keyId === env.recipient_key_id);
  if (!pair) throw cxError('unknown_key', model);
  if (
    typeof env.kem_ciphertext !== 'string' ||
    typeof env.encrypted_body !== 'string' ||
    typeof env.nonce !== 'string' ||
    typeof env.aad !== 'string' ||
    typeof env.plaintext_size !== 'number'
  ) {
    throw cxError('decrypt_failed', model);
  }
  const ephPub = fromBase64UrlStrict(env.kem_ciphertext, CX_KEY_BYTES);
  const nonce = fromBase64UrlStrict(env.nonce, CX_NONCE_BYTES);
  const body = fromBase64UrlStrict(env.encrypted_body);
  const sentAad = fromBase64UrlStrict(env.aad);
  if (
    !ephPub ||
    !nonce ||
    !body ||
    !sentAad ||
    body.length < GCM_TAG_BYTES ||
    !isCanonicalX25519(ephPub)
  ) {
    throw cxError('decrypt_failed', model);
  }
  const aad = cxAad(opts.taskId, opts.intent);
  const sentAadText = Buffer.from(sentAad).toString('utf8');
  if (
    sentAadText !== `${opts.taskId}|${opts.intent}` &&
    sentAadText !== `${opts.taskId}${opts.intent}`
  ) {
    throw cxError('decrypt_failed', model);
  }
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(pair.privateKey, ephPub);
  } catch {
    throw cxError('decrypt_failed', model);
  }
  const key = deriveKey(shared, nonce, opts.taskId, opts.intent);
  shared.fill(0);
  const ct = body.subarray(0, body.length - GCM_TAG_BYTES);
  const tag = body.subarray(body.length - GCM_TAG_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    const plaintext = concatBytes(decipher.update(ct), decipher.final());
    if (plaintext.length !== env.plaintext_size) throw new Error('size mismatch');
    return plaintext;
  } catch {
    throw cxError('decrypt_failed', model);
  } finally {
    key.fill(0);
  }
}
