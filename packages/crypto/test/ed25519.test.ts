import { ed25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ed25519KeyPairFromSeed,
  ed25519Sign,
  ed25519Verify,
  generateEd25519KeyPair,
  isValidEd25519PublicKey,
} from '../src/index.ts';
import { hexToBytes, loadRepoJson } from './spec-vectors.ts';

interface Rfc8032Case {
  name: string;
  secret_key: string;
  public_key: string;
  message: string;
  signature: string;
}
const RFC8032 = loadRepoJson<{ cases: Rfc8032Case[] }>('spec/vectors/crypto-rfc8032-ed25519.json');

/** The group order L of edwards25519. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function leToBigInt(b: Uint8Array): bigint {
  let x = 0n;
  for (let i = b.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[i] ?? 0);
  return x;
}
function bigIntToLe(x: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

describe('Ed25519: RFC 8032 §7.1 known answers', () => {
  it('has all five vectors of §7.1', () => {
    expect(RFC8032.cases.map((c) => c.name)).toEqual([
      'TEST 1',
      'TEST 2',
      'TEST 3',
      'TEST 1024',
      'TEST SHA(abc)',
    ]);
    expect(hexToBytes(RFC8032.cases[3]!.message)).toHaveLength(1023);
  });

  for (const v of RFC8032.cases) {
    it(`${v.name}: public key, deterministic signature, strict verification`, () => {
      const pair = ed25519KeyPairFromSeed(hexToBytes(v.secret_key));
      expect(Buffer.from(pair.publicKey).toString('hex')).toBe(v.public_key);
      const msg = hexToBytes(v.message);
      const sig = ed25519Sign(msg, pair.secretKey);
      expect(Buffer.from(sig).toString('hex')).toBe(v.signature);
      expect(ed25519Verify(sig, msg, pair.publicKey)).toBe(true);
      const other = Uint8Array.from([...msg, 0]);
      expect(ed25519Verify(sig, other, pair.publicKey)).toBe(false);
    });
  }
});

describe('Ed25519: strict verification (decision: RFC 8032 strict, not ZIP-215)', () => {
  const v = RFC8032.cases[1]!;
  const pub = hexToBytes(v.public_key);
  const msg = hexToBytes(v.message);
  const sig = hexToBytes(v.signature);

  it('rejects a non-canonical S (S + L), which has the same value mod L', () => {
    const s = leToBigInt(sig.subarray(32));
    const bad = Uint8Array.from([...sig.subarray(0, 32), ...bigIntToLe(s + L, 32)]);
    expect(ed25519Verify(bad, msg, pub)).toBe(false);
  });

  it('rejects S = L exactly and S with the top bits set', () => {
    const r = sig.subarray(0, 32);
    expect(ed25519Verify(Uint8Array.from([...r, ...bigIntToLe(L, 32)]), msg, pub)).toBe(false);
    const high = Uint8Array.from(sig);
    high[63] = high[63]! | 0xe0;
    expect(ed25519Verify(high, msg, pub)).toBe(false);
  });

  it('rejects a small-order public key that ZIP-215 would accept for every message', () => {
    // A = identity (y = 1), R = identity, S = 0: the cofactored equation holds for any
    // message, so a permissive verifier accepts this "signature" of anything.
    const identity = bigIntToLe(1n, 32);
    const forged = Uint8Array.from([...identity, ...new Uint8Array(32)]);
    const anyMsg = new TextEncoder().encode('pay 1000 credits');
    expect(ed25519.verify(forged, anyMsg, identity, { zip215: true })).toBe(true);
    expect(ed25519Verify(forged, anyMsg, identity)).toBe(false);
    expect(isValidEd25519PublicKey(identity)).toBe(false);
  });

  it('rejects a non-canonical public key encoding (y ≥ p)', () => {
    const p = 2n ** 255n - 19n;
    const nonCanonical = bigIntToLe(p + 1n, 32); // the identity again, spelled y = p + 1
    const forged = Uint8Array.from([...bigIntToLe(1n, 32), ...new Uint8Array(32)]);
    expect(ed25519Verify(forged, msg, nonCanonical)).toBe(false);
    expect(isValidEd25519PublicKey(nonCanonical)).toBe(false);
  });

  it('answers false (never throws) for wrong lengths', () => {
    expect(ed25519Verify(sig.subarray(0, 63), msg, pub)).toBe(false);
    expect(ed25519Verify(sig, msg, pub.subarray(0, 31))).toBe(false);
    expect(ed25519Verify(new Uint8Array(64), msg, new Uint8Array(32))).toBe(false);
  });

  it('answers the same on repeat: the per-key check is cached, never the verdict', () => {
    const identity = bigIntToLe(1n, 32);
    const forged = Uint8Array.from([...identity, ...new Uint8Array(32)]);
    const s = leToBigInt(sig.subarray(32));
    const nonCanonicalS = Uint8Array.from([...sig.subarray(0, 32), ...bigIntToLe(s + L, 32)]);
    for (let i = 0; i < 3; i++) {
      expect(ed25519Verify(forged, msg, identity)).toBe(false);
      expect(ed25519Verify(sig, msg, pub)).toBe(true);
      expect(ed25519Verify(nonCanonicalS, msg, pub)).toBe(false);
      expect(ed25519Verify(sig, Uint8Array.from([...msg, 0]), pub)).toBe(false);
    }
  });

  it('accepts a real key as valid', () => {
    expect(isValidEd25519PublicKey(pub)).toBe(true);
  });

  it('property: a signature verifies only for its own message', () => {
    const pair = generateEd25519KeyPair();
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 256 }),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (m, pos, bit) => {
          const s = ed25519Sign(m, pair.secretKey);
          expect(ed25519Verify(s, m, pair.publicKey)).toBe(true);
          const flippedSig = Uint8Array.from(s);
          flippedSig[pos % 64] = flippedSig[pos % 64]! ^ (1 << bit);
          expect(ed25519Verify(flippedSig, m, pair.publicKey)).toBe(false);
          if (m.length > 0) {
            const flippedMsg = Uint8Array.from(m);
            flippedMsg[pos % m.length] = flippedMsg[pos % m.length]! ^ (1 << bit);
            expect(ed25519Verify(s, flippedMsg, pair.publicKey)).toBe(false);
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('ed25519Sign (native)', () => {
  it('produces the same bytes as the reference implementation for any seed and message', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 512 }),
        (seed, message) => {
          expect(Buffer.from(ed25519Sign(message, seed)).toString('hex')).toBe(
            Buffer.from(ed25519.sign(message, seed)).toString('hex'),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('signs with the seed array it is given each time, even after that array changes', () => {
    const seed = new Uint8Array(32).fill(7);
    const message = new TextEncoder().encode('iicp');
    const first = ed25519Sign(message, seed);
    expect(Buffer.from(first)).toEqual(Buffer.from(ed25519.sign(message, seed)));
    seed.fill(9);
    expect(Buffer.from(ed25519Sign(message, seed))).toEqual(
      Buffer.from(ed25519.sign(message, seed)),
    );
    expect(Buffer.from(ed25519Sign(message, seed))).not.toEqual(Buffer.from(first));
  });

  it('refuses a secret key that is not 32 bytes', () => {
    expect(() => ed25519Sign(new Uint8Array(1), new Uint8Array(31))).toThrow(RangeError);
  });
});
