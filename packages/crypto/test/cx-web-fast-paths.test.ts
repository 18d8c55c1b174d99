import { createRequire } from 'node:module';
import type * as NodeCrypto from 'node:crypto';
import { hkdfSync } from 'node:crypto';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import {
  base64UrlToBytes,
  bytesToBase64Url,
  cxCryptoBackends,
  freshNonce,
  hkdf32,
  isCanonicalX25519,
  openCxRequest,
  openCxResponse,
  portableBase64Url,
  sealCxRequest,
  sealCxResponse,
} from '../src/cx-web.ts';
import { generateCxKeyPair, sealCx } from '../src/index.ts';
import type { SodiumX25519 } from '../src/sodium-x25519.ts';

// The Node fast paths of cx-web.ts (native base64url, HKDF in plain JS, ephemeral keys
// made ahead of time) must produce exactly what the generic paths produce.

/** The decoder as it was before the Buffer fast path (atob and a canonical re-encode). */
function referenceDecode(text: string, byteLength?: number): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return undefined;
  let bin: string;
  try {
    bin = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  } catch {
    return undefined;
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  if (portableBase64Url(out) !== text) return undefined;
  if (byteLength !== undefined && out.length !== byteLength) return undefined;
  return out;
}

const b64ish = fc.string({
  unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=. '),
  maxLength: 60,
});

describe('base64url fast path', () => {
  it('encodes as the portable encoder does', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(8), (bytes, skip) => {
        const view = bytes.subarray(Math.min(skip, bytes.length));
        expect(bytesToBase64Url(view)).toBe(portableBase64Url(view));
      }),
      { numRuns: 400 },
    );
  });

  it('decodes (and refuses) exactly as the reference decoder, always into a fresh array', () => {
    fc.assert(
      fc.property(
        fc.oneof(b64ish, fc.uint8Array({ maxLength: 64 }).map(portableBase64Url)),
        fc.option(fc.nat(48), { nil: undefined }),
        (text, len) => {
          const got = base64UrlToBytes(text, len);
          const want = referenceDecode(text, len);
          expect(got === undefined).toBe(want === undefined);
          if (got && want) {
            expect(Array.from(got)).toEqual(Array.from(want));
            expect(got.byteOffset).toBe(0);
            expect(got.buffer.byteLength).toBe(got.length);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('base64url canonical check on the last character', () => {
  it('refuses every other spelling of the last character, as the reference does', () => {
    // Canonical encodings whose last character is replaced by each of the 64: exactly
    // the original stays accepted when trailing bits are unused (length % 4 of 2 or 3).
    const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }), (bytes) => {
        const text = portableBase64Url(bytes);
        for (const c of abc) {
          const variant = text.slice(0, -1) + c;
          const got = base64UrlToBytes(variant);
          const want = referenceDecode(variant);
          expect(got === undefined).toBe(want === undefined);
          if (got && want) expect(Array.from(got)).toEqual(Array.from(want));
        }
      }),
      { numRuns: 200, seed: 7 },
    );
  });
});

describe('X25519 canonical check on bytes', () => {
  const P = 2n ** 255n - 19n;
  /** The check as it was: the little-endian value as a bigint, below p, top bit clear. */
  function reference(pub: Uint8Array): boolean {
    if (pub.length !== 32 || (pub[31]! & 0x80) !== 0) return false;
    let u = 0n;
    for (let i = 31; i >= 0; i--) u = (u << 8n) | BigInt(pub[i]!);
    return u < P;
  }
  const le = (u: bigint): Uint8Array => {
    const out = new Uint8Array(32);
    for (let i = 0; i < 32; i++) out[i] = Number((u >> BigInt(8 * i)) & 0xffn);
    return out;
  };

  it('agrees with the bigint comparison at p and around it', () => {
    for (let d = -300n; d <= 300n; d++) {
      const pub = le(P + d);
      expect(isCanonicalX25519(pub)).toBe(reference(pub));
    }
    for (const u of [0n, 1n, 2n ** 255n - 1n, 2n ** 255n, 2n ** 256n - 1n, P - 1n, P]) {
      expect(isCanonicalX25519(le(u))).toBe(reference(le(u)));
    }
    expect(isCanonicalX25519(new Uint8Array(31))).toBe(false);
    expect(isCanonicalX25519(new Uint8Array(33))).toBe(false);
  });

  it('agrees with the bigint comparison on arbitrary and near-p bytes', () => {
    const nearP = fc
      .tuple(fc.nat(31), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0xe0, max: 0xff }))
      .map(([at, b, low]) => {
        const pub = le(P);
        pub[0] = low;
        pub[1 + (at % 30)] = b;
        return pub;
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ minLength: 32, maxLength: 32 }), nearP), (pub) => {
        expect(isCanonicalX25519(pub)).toBe(reference(pub));
      }),
      { numRuns: 2000, seed: 11 },
    );
  });
});

describe('UTF-8 through one shared encoder', () => {
  // Any text, lone surrogates included (both encoders write U+FFFD for them).
  const anyText = fc.string({ unit: 'binary', maxLength: 40 });

  it('text is sealed as the bytes noble encodes, and as cx.ts seals it', async () => {
    const node = generateCxKeyPair();
    const shared = new Uint8Array(32).fill(5);
    await fc.assert(
      fc.asyncProperty(anyText, anyText, anyText, async (taskId, intent, plaintext) => {
        const fixed = {
          recipientPublicKey: node.publicKey,
          recipientKeyId: node.keyId,
          taskId,
          intent,
          ephemeralPrivateKey: new Uint8Array(32).fill(7),
          nonce: new Uint8Array(12).fill(9),
        };
        const fromText = await sealCxRequest({ ...fixed, plaintext });
        const fromBytes = await sealCxRequest({ ...fixed, plaintext: utf8ToBytes(plaintext) });
        expect(fromText.envelope).toEqual(fromBytes.envelope);
        expect(fromText.envelope).toEqual(sealCx({ ...fixed, plaintext }));
        expect(fromText.envelope.aad).toBe(bytesToBase64Url(utf8ToBytes(`${taskId}|${intent}`)));
        const resp = { sharedSecret: shared, taskId, nonce: new Uint8Array(12).fill(3) };
        expect(await sealCxResponse({ ...resp, plaintext })).toEqual(
          await sealCxResponse({ ...resp, plaintext: utf8ToBytes(plaintext) }),
        );
      }),
      { numRuns: 150, seed: 5 },
    );
  });
});

describe('pooled nonce randomness', () => {
  it('hands out 12-byte copies, each different, across several pool refills', () => {
    const seen = new Set<string>();
    const taken: Uint8Array[] = [];
    for (let i = 0; i < 2000; i++) {
      const n = freshNonce();
      expect(n.length).toBe(12);
      // Its own memory: never a view of the pool that later nonces come from.
      expect(n.byteOffset).toBe(0);
      expect(n.buffer.byteLength).toBe(12);
      seen.add(bytesToBase64Url(n));
      taken.push(n);
    }
    expect(seen.size).toBe(2000);
    // Taking later nonces does not change earlier ones.
    expect(new Set(taken.map(bytesToBase64Url)).size).toBe(2000);
    // Not all-zero slots (a wiped slot handed out again would be).
    expect(taken.some((n) => n.every((b) => b === 0))).toBe(false);
  });

  it('draws the CSPRNG once per pool, not once per nonce', () => {
    const spy = vi.spyOn(globalThis.crypto, 'getRandomValues');
    try {
      for (let i = 0; i < 1024; i++) freshNonce();
      expect(spy.mock.calls.length).toBeGreaterThanOrEqual(4);
      expect(spy.mock.calls.length).toBeLessThanOrEqual(5);
    } finally {
      spy.mockRestore();
    }
  });

  it('every response seal gets a fresh nonce', async () => {
    const shared = new Uint8Array(32).fill(9);
    const nonces = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const env = await sealCxResponse({ sharedSecret: shared, taskId: 't', plaintext: '{}' });
      nonces.add(env.nonce);
    }
    expect(nonces.size).toBe(300);
  });
});

describe('HKDF-SHA256 fast path', () => {
  it('equals hkdfSync and noble for 32 bytes, empty salt and info included', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 64 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.uint8Array({ maxLength: 120 }),
        (ikm, salt, info) => {
          const got = Array.from(hkdf32(ikm, salt, info));
          expect(got).toEqual(Array.from(new Uint8Array(hkdfSync('sha256', ikm, salt, info, 32))));
          expect(got).toEqual(Array.from(hkdf(sha256, ikm, salt, info, 32)));
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** Long enough for the ephemeral pool to refill (it waits two setImmediate turns). */
const nextTurn = () =>
  new Promise<void>((r) => setImmediate(() => setImmediate(() => setImmediate(r))));
const taskId = '3f0e7a4e-8d7b-4c39-9a53-2b9d3f1c2a10';
const intent = 'urn:iicp:intent:llm:chat:v1';

describe('ephemeral keys made ahead of time', () => {
  it('every seal uses a new ephemeral key, and each opens with its own recipient', async () => {
    const a = generateCxKeyPair();
    const b = generateCxKeyPair();
    const seen = new Set<string>();
    // Alternate recipients, sometimes letting the pool refill (for the last recipient),
    // sometimes not: an agreement made for the other node must never be used.
    const plan = [a, a, b, b, a, b, a, a, b, a];
    for (const [i, k] of plan.entries()) {
      if (i % 3 !== 2) await nextTurn();
      const plaintext = JSON.stringify({ i, text: 'x'.repeat(i) });
      const sealed = await sealCxRequest({
        recipientPublicKey: k.publicKey,
        recipientKeyId: k.keyId,
        taskId,
        intent,
        plaintext,
      });
      expect(seen.has(sealed.envelope.kem_ciphertext)).toBe(false);
      seen.add(sealed.envelope.kem_ciphertext);
      const opened = await openCxRequest({
        envelope: sealed.envelope,
        recipientKeys: [k],
        taskId,
        intent,
      });
      expect(new TextDecoder().decode(opened.plaintext)).toBe(plaintext);
      expect(Array.from(opened.sharedSecret)).toEqual(Array.from(sealed.sharedSecret));
      const resp = await sealCxResponse({ sharedSecret: opened.sharedSecret, taskId, plaintext });
      const back = await openCxResponse({
        sharedSecret: sealed.sharedSecret,
        taskId,
        envelope: resp,
      });
      expect(new TextDecoder().decode(back)).toBe(plaintext);
      await expect(
        openCxRequest({
          envelope: sealed.envelope,
          recipientKeys: [{ ...(k === a ? b : a), keyId: k.keyId }],
          taskId,
          intent,
        }),
      ).rejects.toMatchObject({ code: 'IICP-E050' });
    }
  });
});

describe('when the next ephemeral key is made', () => {
  it('after a write the caller defers to the check phase (undici on a reused socket)', async () => {
    // cx-web takes node:crypto from process.getBuiltinModule and sodium-native from its
    // own createRequire: the same objects require gives here.
    const nodeCrypto = createRequire(import.meta.url)('node:crypto') as typeof NodeCrypto;
    const sodium = createRequire(import.meta.url)('sodium-native') as SodiumX25519;
    const k = generateCxKeyPair();
    const seal = () =>
      sealCxRequest({
        recipientPublicKey: k.publicKey,
        recipientKeyId: k.keyId,
        taskId,
        intent,
        plaintext: 'x',
      });
    await seal();
    await nextTurn();
    await nextTurn();
    const order: string[] = [];
    // The key generation of whichever native back end serves X25519 here.
    const onSodium = cxCryptoBackends().x25519 === 'libsodium';
    const target = (onSodium ? sodium : nodeCrypto) as unknown as Record<
      string,
      (...a: unknown[]) => unknown
    >;
    const name = onSodium ? 'crypto_scalarmult_base' : 'generateKeyPairSync';
    const spy = vi.spyOn(target, name);
    spy.mockImplementation((...args: unknown[]) => {
      order.push('key');
      spy.mockRestore();
      return target[name]!(...args);
    });
    try {
      await seal();
      // What undici does between dispatch and the request write on a reused socket.
      setImmediate(() => order.push('write'));
      await nextTurn();
      await nextTurn();
    } finally {
      spy.mockRestore();
    }
    expect(order).toEqual(['write', 'key']);
  });
});
