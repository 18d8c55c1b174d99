/**
 * HKDF-SHA256 (RFC 5869) with one 32-byte output block, in plain JavaScript: the key
 * derivation of every IICP-CX seal and open (two per task on each side).
 *
 * Why not `node:crypto`: each `createHmac` builds a native HMAC context and a stream
 * object, and a live node pays that four times per task; SHA-256 is additions, shifts
 * and bitwise operations on 32-bit words, which V8 compiles to the same machine
 * instructions, with no secret-dependent table lookups or branches. Nine compression
 * rounds derive one CX key (PRK = HMAC(salt, ikm), OKM = HMAC(PRK, info || 0x01)).
 * Pinned to `hkdfSync` and noble by property tests and to the RFC 5869 vectors.
 *
 * Not reentrant across threads by construction (module scratch buffers), which JS
 * guarantees; every scratch buffer is zeroed before the function returns.
 */
import { sha256 } from '@noble/hashes/sha2.js';

/** SHA-256 round constants (FIPS 180-4 §4.2.2). */
const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** SHA-256 initial hash value (FIPS 180-4 §5.3.3). */
const IV = Int32Array.from([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

const BLOCK_BYTES = 64;
const OUT_BYTES = 32;

/** Scratch: message schedule, chaining state, key block, padded tail, inner hash, PRK. */
const W = new Int32Array(64);
const H = new Int32Array(8);
const KEY_BLOCK = new Uint8Array(BLOCK_BYTES);
const TAIL = new Uint8Array(2 * BLOCK_BYTES);
const INNER = new Uint8Array(OUT_BYTES);
const PRK = new Uint8Array(OUT_BYTES);

/** One SHA-256 compression of `b[off .. off + 64)` into `H`. */
function compress(b: Uint8Array, off: number): void {
  for (let i = 0; i < 16; i++) {
    const j = off + i * 4;
    W[i] = (b[j]! << 24) | (b[j + 1]! << 16) | (b[j + 2]! << 8) | b[j + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const x = W[i - 15]!;
    const y = W[i - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
  }
  let a = H[0]!;
  let b1 = H[1]!;
  let c = H[2]!;
  let d = H[3]!;
  let e = H[4]!;
  let f = H[5]!;
  let g = H[6]!;
  let h = H[7]!;
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[i]! + W[i]!) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b1) ^ (a & c) ^ (b1 & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b1;
    b1 = a;
    a = (t1 + t2) | 0;
  }
  H[0] = (H[0]! + a) | 0;
  H[1] = (H[1]! + b1) | 0;
  H[2] = (H[2]! + c) | 0;
  H[3] = (H[3]! + d) | 0;
  H[4] = (H[4]! + e) | 0;
  H[5] = (H[5]! + f) | 0;
  H[6] = (H[6]! + g) | 0;
  H[7] = (H[7]! + h) | 0;
}

/**
 * SHA-256 of `KEY_BLOCK ^ pad || msg || suffix` into `out` (big-endian words), where
 * `suffix` is one byte (HKDF's block counter) or -1 for none.
 */
function hashKeyed(pad: number, msg: Uint8Array, suffix: number, out: Uint8Array): void {
  H.set(IV);
  for (let i = 0; i < BLOCK_BYTES; i++) TAIL[i] = KEY_BLOCK[i]! ^ pad;
  compress(TAIL, 0);
  let off = 0;
  for (; msg.length - off >= BLOCK_BYTES; off += BLOCK_BYTES) compress(msg, off);
  const rest = msg.length - off;
  const extra = suffix >= 0 ? 1 : 0;
  // The rest, the suffix, 0x80 and the 64-bit bit length: one block or two.
  const tail = rest + extra + 9 <= BLOCK_BYTES ? BLOCK_BYTES : 2 * BLOCK_BYTES;
  TAIL.fill(0, 0, tail);
  TAIL.set(msg.subarray(off), 0);
  if (extra) TAIL[rest] = suffix;
  TAIL[rest + extra] = 0x80;
  // Total length in bits: the key block plus the message and suffix (below 2^53 bits).
  const bits = (BLOCK_BYTES + msg.length + extra) * 8;
  const hi = Math.floor(bits / 0x100000000);
  TAIL[tail - 8] = hi >>> 24;
  TAIL[tail - 7] = hi >>> 16;
  TAIL[tail - 6] = hi >>> 8;
  TAIL[tail - 5] = hi;
  TAIL[tail - 4] = bits >>> 24;
  TAIL[tail - 3] = bits >>> 16;
  TAIL[tail - 2] = bits >>> 8;
  TAIL[tail - 1] = bits;
  compress(TAIL, 0);
  if (tail > BLOCK_BYTES) compress(TAIL, BLOCK_BYTES);
  for (let i = 0; i < 8; i++) {
    const v = H[i]!;
    out[i * 4] = v >>> 24;
    out[i * 4 + 1] = v >>> 16;
    out[i * 4 + 2] = v >>> 8;
    out[i * 4 + 3] = v;
  }
}

/** HMAC-SHA256(key, msg || suffix) into `out` (RFC 2104). */
function hmac(key: Uint8Array, msg: Uint8Array, suffix: number, out: Uint8Array): void {
  KEY_BLOCK.fill(0);
  if (key.length > BLOCK_BYTES) {
    const digest = sha256(key);
    KEY_BLOCK.set(digest);
    digest.fill(0);
  } else {
    KEY_BLOCK.set(key);
  }
  hashKeyed(0x36, msg, suffix, INNER);
  hashKeyed(0x5c, INNER, -1, out);
}

/** HKDF-SHA256(ikm, salt, info) to 32 bytes: PRK = HMAC(salt, ikm), OKM = HMAC(PRK, info || 1). */
export function hkdfSha256To32(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array): Uint8Array {
  const okm = new Uint8Array(OUT_BYTES);
  try {
    hmac(salt, ikm, -1, PRK);
    hmac(PRK, info, 1, okm);
    return okm;
  } finally {
    PRK.fill(0);
    INNER.fill(0);
    KEY_BLOCK.fill(0);
    TAIL.fill(0);
    W.fill(0);
    H.fill(0);
  }
}
