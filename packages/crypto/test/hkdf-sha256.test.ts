import { hkdfSync } from 'node:crypto';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hkdfSha256To32 } from '../src/hkdf-sha256.ts';

// RFC 5869 Appendix A, the SHA-256 cases. The OKM of a longer output starts with the
// first expansion block, which is the 32 bytes derived here.
const RFC5869 = [
  {
    name: 'A.1 (basic)',
    ikm: '0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b',
    salt: '000102030405060708090a0b0c',
    info: 'f0f1f2f3f4f5f6f7f8f9',
    okm: '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf',
  },
  {
    name: 'A.2 (80-byte inputs: a salt longer than nothing, multi-block info)',
    ikm: Array.from({ length: 80 }, (_, i) => i.toString(16).padStart(2, '0')).join(''),
    salt: Array.from({ length: 80 }, (_, i) => (0x60 + i).toString(16).padStart(2, '0')).join(''),
    info: Array.from({ length: 80 }, (_, i) => (0xb0 + i).toString(16).padStart(2, '0')).join(''),
    okm: 'b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c',
  },
  {
    name: 'A.3 (empty salt and info)',
    ikm: '0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b',
    salt: '',
    info: '',
    okm: '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d',
  },
];

describe('HKDF-SHA256 in plain JS', () => {
  for (const v of RFC5869) {
    it(`reproduces RFC 5869 ${v.name}`, () => {
      const okm = hkdfSha256To32(hexToBytes(v.ikm), hexToBytes(v.salt), hexToBytes(v.info));
      expect(bytesToHex(okm)).toBe(v.okm);
    });
  }

  it('equals hkdfSync and noble at every length around the block boundaries', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        // Salts past 64 bytes are hashed first (RFC 2104), as no CX nonce ever is.
        fc.uint8Array({ maxLength: 150 }),
        fc.uint8Array({ maxLength: 260 }),
        (ikm, salt, info) => {
          const got = bytesToHex(hkdfSha256To32(ikm, salt, info));
          expect(got).toBe(Buffer.from(hkdfSync('sha256', ikm, salt, info, 32)).toString('hex'));
          expect(got).toBe(bytesToHex(hkdf(sha256, ikm, salt, info, 32)));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('gives a fresh array each call and leaves its inputs untouched', () => {
    const ikm = new Uint8Array(32).fill(7);
    const salt = new Uint8Array(12).fill(3);
    const info = new Uint8Array(70).fill(1);
    const a = hkdfSha256To32(ikm, salt, info);
    const b = hkdfSha256To32(ikm, salt, info);
    expect(a).not.toBe(b);
    expect(a).toEqual(b);
    expect(
      ikm.every((x) => x === 7) && salt.every((x) => x === 3) && info.every((x) => x === 1),
    ).toBe(true);
  });
});
