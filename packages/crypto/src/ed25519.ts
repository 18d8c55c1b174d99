/**
 * Ed25519 (RFC 8032) with strict verification.
 *
 * Decision (spec/decisions.md, "Ed25519 verification"): every IICP signature is
 * verified in RFC 8032 / FIPS 186-5 strict mode, never ZIP-215. That means: S must be
 * canonical (S < L), the public key and R must be canonical encodings (y < p), and a
 * small-order public key is refused. noble's `verify` is permissive unless told
 * `zip215: false`, so this is the only place in the project that calls it.
 */
import {
  createPrivateKey,
  createPublicKey,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';

export const ED25519_PUBLIC_KEY_LENGTH = 32;
export const ED25519_SECRET_KEY_LENGTH = 32;
export const ED25519_SIGNATURE_LENGTH = 64;

export interface Ed25519KeyPair {
  /** The 32-byte RFC 8032 secret key (the seed). Keep it out of logs. */
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** A fresh key pair from the CSPRNG. */
export function generateEd25519KeyPair(): Ed25519KeyPair {
  const secretKey = ed25519.utils.randomSecretKey();
  return { secretKey, publicKey: ed25519.getPublicKey(secretKey) };
}

/** The key pair of a 32-byte seed (RFC 8032 §5.1.5). */
export function ed25519KeyPairFromSeed(seed: Uint8Array): Ed25519KeyPair {
  if (seed.length !== ED25519_SECRET_KEY_LENGTH) {
    throw new RangeError(
      `an Ed25519 seed is ${ED25519_SECRET_KEY_LENGTH} bytes, got ${seed.length}`,
    );
  }
  const secretKey = Uint8Array.from(seed);
  return { secretKey, publicKey: ed25519.getPublicKey(secretKey) };
}

export function ed25519PublicKey(secretKey: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(secretKey);
}

/** DER PKCS#8 prefix of a raw Ed25519 seed (RFC 8410 §7). */
const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);

/**
 * Native private keys by the seed array they were imported from, with a copy of the
 * seed they were made of. Signers (the directory key) pass the same array every time,
 * so the import is paid once; an array changed in place is imported again; the WeakMap
 * lets a dropped seed take its key object with it.
 */
const signingKeys = new WeakMap<Uint8Array, { seed: Buffer; key: KeyObject }>();

function nativeSigningKey(secretKey: Uint8Array): KeyObject {
  const held = signingKeys.get(secretKey);
  if (held && held.seed.equals(secretKey)) return held.key;
  const der = Buffer.alloc(PKCS8_PREFIX.length + secretKey.length);
  der.set(PKCS8_PREFIX);
  der.set(secretKey, PKCS8_PREFIX.length);
  const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  der.fill(0);
  signingKeys.set(secretKey, { seed: Buffer.from(secretKey), key });
  return key;
}

/**
 * Deterministic RFC 8032 signature (64 bytes). Signed in OpenSSL (`node:crypto`):
 * Ed25519 signatures are deterministic, so the bytes are the ones any RFC 8032
 * implementation produces (pinned against noble by a property test), ~20× faster.
 */
export function ed25519Sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  if (secretKey.length !== ED25519_SECRET_KEY_LENGTH) {
    throw new RangeError(
      `an Ed25519 secret key is ${ED25519_SECRET_KEY_LENGTH} bytes, got ${secretKey.length}`,
    );
  }
  const sig = nodeSign(null, message, nativeSigningKey(secretKey));
  return new Uint8Array(sig.buffer, sig.byteOffset, sig.length);
}

/** The group order L (RFC 8032 §5.1): a canonical S is below it. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

/** S (little-endian bytes 32..63 of the signature) < L. */
function isCanonicalS(signature: Uint8Array): boolean {
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(signature[i]!);
  return s < L;
}

/** DER SubjectPublicKeyInfo prefix of a raw Ed25519 key (RFC 8410). */
const SPKI_PREFIX = Uint8Array.from([
  0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
]);

/**
 * Keys already checked once, as native key objects (`null`: refused). Verification
 * runs on hot paths (consumer tokens, tickets) with few distinct keys, so the strict
 * point check (noble, ~1 ms) and the import are paid once per key, not per signature.
 */
const keyCache = new Map<string, KeyObject | null>();
const KEY_CACHE_MAX = 4096;

function nativeKey(publicKey: Uint8Array): KeyObject | null {
  const id = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.length).toString(
    'latin1',
  );
  const hit = keyCache.get(id);
  if (hit !== undefined) return hit;
  let key: KeyObject | null = null;
  if (isValidEd25519PublicKey(publicKey)) {
    const der = new Uint8Array(SPKI_PREFIX.length + publicKey.length);
    der.set(SPKI_PREFIX);
    der.set(publicKey, SPKI_PREFIX.length);
    key = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
  }
  if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
  keyCache.set(id, key);
  return key;
}

/**
 * Strict RFC 8032 verification. Never throws: wrong lengths, non-canonical encodings,
 * S ≥ L and small-order keys all answer `false`.
 *
 * The equation runs in OpenSSL (`node:crypto`, ~20× faster than pure JS); strictness
 * does not depend on it: S ≥ L is refused here, the key is checked once with noble
 * (canonical y, not small order), and OpenSSL compares the re-encoded R with the sent
 * bytes, so a non-canonical R never verifies.
 */
export function ed25519Verify(
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array,
): boolean {
  if (signature.length !== ED25519_SIGNATURE_LENGTH) return false;
  if (publicKey.length !== ED25519_PUBLIC_KEY_LENGTH) return false;
  if (!isCanonicalS(signature)) return false;
  const key = nativeKey(publicKey);
  if (!key) return false;
  try {
    return nodeVerify(null, message, key, signature);
  } catch {
    return false;
  }
}

/**
 * Whether 32 bytes are a usable Ed25519 public key: a canonical point encoding that is
 * not of small order. Use it to refuse a key at configuration time rather than at the
 * first failed verification.
 */
export function isValidEd25519PublicKey(publicKey: Uint8Array): boolean {
  if (publicKey.length !== ED25519_PUBLIC_KEY_LENGTH) return false;
  try {
    const point = ed25519.Point.fromBytes(publicKey, false);
    return !point.isSmallOrder();
  } catch {
    return false;
  }
}
