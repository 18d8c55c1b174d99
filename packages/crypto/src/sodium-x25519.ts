/**
 * X25519 in libsodium, through the `sodium-native` addon, for `./cx-web.ts` on Node.
 *
 * Why: Node's own X25519 goes through OpenSSL's key objects, so a node pays for a
 * `KeyObject` import of every ephemeral key it receives and a consumer for a generated
 * `KeyObject` pair per task. libsodium works on the raw 32-byte keys in one call each:
 * on a live proxy and node that took about 100 µs and 45–55 µs of CPU off each task and
 * 0.04–0.08 ms off the p50 at 1 connection (two runs; docs/benchmarks.md, sixth pass).
 *
 * `sodium-native` ships its binaries inside the npm package (no download or compiler at
 * install). It is loaded lazily through `createRequire`, never imported statically, so
 * this module and `@iicp/crypto/cx` still load in browsers; where the addon is missing
 * or fails its RFC 7748 §6.1 known answer, {@link loadSodiumX25519} answers `undefined`
 * and the caller keeps Node's OpenSSL path, which produces the same bytes.
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { nodeRequire } from './node-require.ts';

/** The three `sodium-native` calls used here (the package has no type declarations). */
export interface SodiumX25519 {
  /** `q = X25519(n, p)`; throws when the result is all zero (a small-order `p`). */
  crypto_scalarmult(q: Uint8Array, n: Uint8Array, p: Uint8Array): void;
  /** `q = X25519(n, 9)`: the public key of the private scalar `n`. */
  crypto_scalarmult_base(q: Uint8Array, n: Uint8Array): void;
  /** Fills `buf` from the system CSPRNG. */
  randombytes_buf(buf: Uint8Array): void;
}

/** RFC 7748 §6.1: Alice's private key, her public key, Bob's public key, the shared secret. */
const KAT = {
  alicePrivate: '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
  alicePublic: '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
  bobPublic: 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
  shared: '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
} as const;

/** Whether `s` reproduces the RFC 7748 §6.1 answers (public key and shared secret). */
export function passesX25519KnownAnswer(s: SodiumX25519): boolean {
  const priv = hexToBytes(KAT.alicePrivate);
  const pub = new Uint8Array(32);
  const shared = new Uint8Array(32);
  s.crypto_scalarmult_base(pub, priv);
  s.crypto_scalarmult(shared, priv, hexToBytes(KAT.bobPublic));
  return bytesToHex(pub) === KAT.alicePublic && bytesToHex(shared) === KAT.shared;
}

/**
 * libsodium's X25519 when `sodium-native` loads here and passes the known answer;
 * `undefined` otherwise (browsers, a platform without a prebuilt binary). Never throws.
 */
export function loadSodiumX25519(): SodiumX25519 | undefined {
  try {
    const s = nodeRequire(import.meta.url)?.('sodium-native') as Partial<SodiumX25519> | undefined;
    if (
      !s ||
      typeof s.crypto_scalarmult !== 'function' ||
      typeof s.crypto_scalarmult_base !== 'function' ||
      typeof s.randombytes_buf !== 'function'
    ) {
      return undefined;
    }
    const sodium = s as SodiumX25519;
    return passesX25519KnownAnswer(sodium) ? sodium : undefined;
  } catch {
    return undefined;
  }
}
