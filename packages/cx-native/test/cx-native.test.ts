import { createCipheriv, hkdfSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cxNative, unavailableReason } from '../index.cjs';

/**
 * The addon's AES-256-GCM against node:crypto and the GCM specification's test case 16
 * (AES-256, 96-bit IV, with AAD), its HKDF-SHA256 against RFC 5869 and `hkdfSync`.
 * `.ci/run` installs with a compiler and Node's headers, so the addon must be built
 * there: a silent fallback would fail here.
 */
const hex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function nodeSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, pt: Uint8Array): string {
  const c = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: 16 });
  c.setAAD(aad);
  return toHex(Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]));
}

const native = () => {
  if (!cxNative) throw new Error(`@iicp/cx-native is unavailable: ${unavailableReason}`);
  return cxNative;
};
/** The AES-GCM pair under short names. */
const g = () => ({ seal: native().aesGcmSeal, open: native().aesGcmOpen });

const arbKey = fc.uint8Array({ minLength: 32, maxLength: 32 });
const arbNonce = fc.uint8Array({ minLength: 12, maxLength: 12 });

describe('@iicp/cx-native AES-256-GCM', () => {
  it('was built at install and passed its load check', () => {
    expect(unavailableReason).toBeUndefined();
    expect(cxNative).toBeDefined();
  });

  it('reproduces GCM test case 16 (AES-256, 96-bit IV, 20 bytes of AAD)', () => {
    const key = hex('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308');
    const nonce = hex('cafebabefacedbaddecaf888');
    const aad = hex('feedfacedeadbeeffeedfacedeadbeefabaddad2');
    const pt = hex(
      'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72' +
        '1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39',
    );
    const want =
      '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa' +
      '8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662' +
      '76fc6ece0f4e1768cddf8853bb2d551b';
    expect(toHex(g().seal(key, nonce, aad, pt))).toBe(want);
    expect(nodeSeal(key, nonce, aad, pt)).toBe(want);
    expect(toHex(g().open(key, nonce, aad, hex(want))!)).toBe(toHex(pt));
  });

  it('seals exactly as node:crypto and opens its own output', () => {
    fc.assert(
      fc.property(
        arbKey,
        arbNonce,
        fc.uint8Array({ maxLength: 80 }),
        fc.uint8Array({ maxLength: 2048 }),
        (key, nonce, aad, pt) => {
          const sealed = g().seal(key, nonce, aad, pt);
          expect(toHex(sealed)).toBe(nodeSeal(key, nonce, aad, pt));
          expect(toHex(g().open(key, nonce, aad, sealed)!)).toBe(toHex(pt));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses (null) when any bit of the sealed bytes, aad, nonce or key changes', () => {
    fc.assert(
      fc.property(
        arbKey,
        arbNonce,
        fc.uint8Array({ minLength: 1, maxLength: 40 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.constantFrom('sealed', 'aad', 'nonce', 'key'),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (key, nonce, aad, pt, where, at, bit) => {
          const sealed = g().seal(key, nonce, aad, pt);
          const args = { key: key.slice(), nonce: nonce.slice(), aad: aad.slice(), sealed };
          const target = args[where as keyof typeof args];
          const i = at % target.length;
          target[i] = target[i]! ^ (1 << bit);
          expect(g().open(args.key, args.nonce, args.aad, args.sealed)).toBeNull();
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reads Uint8Array views at an offset (Buffer pool slices) and empty inputs', () => {
    const key = Buffer.alloc(64, 3).subarray(16, 48);
    const nonce = Buffer.alloc(40, 9).subarray(5, 17);
    const aad = Buffer.from('xxaadyy').subarray(2, 5);
    const pt = Buffer.from('--plaintext--').subarray(2, 11);
    const sealed = g().seal(key, nonce, aad, pt);
    expect(toHex(sealed)).toBe(nodeSeal(key, nonce, aad, pt));
    const empty = new Uint8Array(0);
    const onlyTag = g().seal(key, nonce, empty, empty);
    expect(toHex(onlyTag)).toBe(nodeSeal(key, nonce, empty, empty));
    expect(onlyTag.length).toBe(16);
    expect(g().open(key, nonce, empty, onlyTag)!.length).toBe(0);
  });

  it('throws a TypeError for wrong argument types and lengths, never returns garbage', () => {
    const k = new Uint8Array(32);
    const n = new Uint8Array(12);
    const e = new Uint8Array(0);
    const bad: (() => unknown)[] = [
      () => g().seal(new Uint8Array(31), n, e, e),
      () => g().seal(new Uint8Array(16), n, e, e),
      () => g().seal(k, new Uint8Array(16), e, e),
      () => g().seal(k, n, e, 'text' as unknown as Uint8Array),
      () => g().seal(k, n, e, new Uint16Array(4) as unknown as Uint8Array),
      () => (g().seal as (...a: unknown[]) => unknown)(k, n, e),
      () => g().open(k, n, e, new Uint8Array(15)),
      () => g().open(k, new Uint8Array(11), e, new Uint8Array(16)),
    ];
    for (const call of bad) expect(call).toThrow(TypeError);
  });
});

describe('@iicp/cx-native HKDF-SHA256', () => {
  it('reproduces RFC 5869 test cases 1 and 3 (the first 32 bytes of each OKM)', () => {
    const ikm = new Uint8Array(22).fill(0x0b);
    expect(
      toHex(
        native().hkdfSha256(ikm, hex('000102030405060708090a0b0c'), hex('f0f1f2f3f4f5f6f7f8f9')),
      ),
    ).toBe('3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf');
    expect(toHex(native().hkdfSha256(ikm, new Uint8Array(0), new Uint8Array(0)))).toBe(
      '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d',
    );
  });

  it('equals hkdfSync for any ikm, salt (also longer than a block) and info', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 100 }),
        fc.uint8Array({ maxLength: 150 }),
        fc.uint8Array({ maxLength: 200 }),
        (ikm, salt, info) => {
          const want = Buffer.from(hkdfSync('sha256', ikm, salt, info, 32));
          expect(toHex(native().hkdfSha256(ikm, salt, info))).toBe(want.toString('hex'));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('throws a TypeError unless given three Uint8Arrays', () => {
    const b = new Uint8Array(8);
    const h = native().hkdfSha256 as (...a: unknown[]) => unknown;
    for (const args of [[b, b], [b, b, 'x'], [b, new Int8Array(2), b], []]) {
      expect(() => h(...args)).toThrow(TypeError);
    }
  });
});
