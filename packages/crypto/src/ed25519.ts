/**
 * Ed25519 (RFC 8032) with strict verification.
 *
 * Decision (spec/decisions.md, "Ed25519 verification"): every IICP signature is
 * verified in RFC 8032 / FIPS 186-5 strict mode, never ZIP-215. That means: S must be
 * canonical (S < L), the public key and R must be canonical encodings (y < p), and a
 * small-order public key is refused. noble's `verify` is permissive unless told
 * `zip215: false`, so this is the only place in the project that calls it.
 */
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

/** Deterministic RFC 8032 signature (64 bytes). */
export function ed25519Sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  return ed25519.sign(message, secretKey);
}

/**
 * Strict RFC 8032 verification. Never throws: wrong lengths, non-canonical encodings,
 * S ≥ L and small-order keys all answer `false`.
 */
export function ed25519Verify(
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array,
): boolean {
  if (signature.length !== ED25519_SIGNATURE_LENGTH) return false;
  if (publicKey.length !== ED25519_PUBLIC_KEY_LENGTH) return false;
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
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
