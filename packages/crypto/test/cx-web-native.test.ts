import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { cxKeyPairFromPrivateKey, generateCxKeyPair } from '../src/index.ts';
import type * as CxWeb from '../src/cx-web.ts';
import { loadSodiumX25519, passesX25519KnownAnswer } from '../src/sodium-x25519.ts';
import type { SodiumX25519 } from '../src/sodium-x25519.ts';
import { committedCxRequest } from './spec-vectors.ts';

/**
 * On Node, `@iicp/crypto/cx` runs X25519 in libsodium (`sodium-native`) and AES-256-GCM
 * and HKDF in one call each through `@iicp/cx-native`, and falls back to `node:crypto`
 * and JS HKDF when an addon does not load. This suite loads a second copy of the module with both
 * addons made unavailable and pins the two to each other: the committed vector, the
 * same envelopes for the same fixed inputs, opens across them, and the same refusals.
 */
type CxModule = typeof CxWeb;
let nativePath: CxModule;
let nodeCryptoPath: CxModule;

beforeAll(async () => {
  nativePath = await import('../src/cx-web.ts');
  vi.resetModules();
  vi.doMock('../src/sodium-x25519.ts', () => ({ loadSodiumX25519: () => undefined }));
  vi.doMock('../src/cx-native.ts', () => ({ loadCxNative: () => undefined }));
  try {
    nodeCryptoPath = await import('../src/cx-web.ts');
  } finally {
    vi.doUnmock('../src/sodium-x25519.ts');
    vi.doUnmock('../src/cx-native.ts');
  }
  expect(nodeCryptoPath).not.toBe(nativePath);
});

const { vector: reqV, sealOptions: vectorSeal } = committedCxRequest();
const task = '55555555-5555-4555-8555-555555555555';
const intent = 'urn:iicp:intent:llm:chat:v1';

describe('the native back ends against node:crypto', () => {
  it('the addons serve this Node test run, node:crypto the copy without them', () => {
    expect(nativePath.cxCryptoBackends()).toEqual({
      x25519: 'libsodium',
      aesGcm: 'native-addon',
      hkdf: 'native-addon',
    });
    expect(nodeCryptoPath.cxCryptoBackends()).toEqual({
      x25519: 'node-crypto',
      aesGcm: 'node-crypto',
      hkdf: 'js',
    });
  });

  it('both seal the committed vector byte for byte', async () => {
    for (const m of [nativePath, nodeCryptoPath]) {
      const sealed = await m.sealCxRequest(vectorSeal);
      expect(sealed.envelope).toEqual(reqV.iicp_conf);
    }
  });

  it('give the same envelope and secret for any fixed key pair, and open each other', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.string({ maxLength: 64 }),
        async (nodePrivate, ephemeralPrivate, nonce, plaintext) => {
          const node = cxKeyPairFromPrivateKey(nodePrivate);
          const seal = (m: CxModule) =>
            m.sealCxRequest({
              recipientPublicKey: node.publicKey,
              recipientKeyId: node.keyId,
              taskId: task,
              intent,
              plaintext,
              ephemeralPrivateKey: ephemeralPrivate,
              nonce,
            });
          const a = await seal(nativePath);
          const b = await seal(nodeCryptoPath);
          expect(b.envelope).toEqual(a.envelope);
          expect(Array.from(b.sharedSecret)).toEqual(Array.from(a.sharedSecret));
          for (const [sealed, opener] of [
            [a, nodeCryptoPath],
            [b, nativePath],
          ] as const) {
            const opened = await opener.openCxRequest({
              envelope: sealed.envelope,
              recipientKeys: [node],
              taskId: task,
              intent,
            });
            expect(new TextDecoder().decode(opened.plaintext)).toBe(plaintext);
            expect(Array.from(opened.sharedSecret)).toEqual(Array.from(sealed.sharedSecret));
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('fresh ephemeral keys (the prepared pool) open on the other back end', async () => {
    const node = generateCxKeyPair();
    const seen = new Set<string>();
    for (const [a, b] of [
      [nativePath, nodeCryptoPath],
      [nodeCryptoPath, nativePath],
    ] as const) {
      for (let i = 0; i < 4; i++) {
        const sealed = await a.sealCxRequest({
          recipientPublicKey: node.publicKey,
          recipientKeyId: node.keyId,
          taskId: task,
          intent,
          plaintext: `{"n":${i}}`,
        });
        seen.add(sealed.envelope.kem_ciphertext);
        const opened = b.openCxRequestSync({
          envelope: sealed.envelope,
          recipientKeys: [node],
          taskId: task,
          intent,
        });
        expect(new TextDecoder().decode(opened!.plaintext)).toBe(`{"n":${i}}`);
        expect(Array.from(opened!.sharedSecret)).toEqual(Array.from(sealed.sharedSecret));
      }
    }
    expect(seen.size).toBe(8); // one ephemeral key per task (CX-06)
  });

  it('answers seal and open across them, and both refuse a tampered body or tag', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.string({ maxLength: 200 }),
        fc.nat(),
        async (sharedSecret, plaintext, at) => {
          for (const [a, b] of [
            [nativePath, nodeCryptoPath],
            [nodeCryptoPath, nativePath],
          ] as const) {
            const nonce = new Uint8Array(12).fill(at % 251);
            const env = a.sealCxResponseSync({ sharedSecret, taskId: task, plaintext, nonce })!;
            expect(b.sealCxResponseSync({ sharedSecret, taskId: task, plaintext, nonce })).toEqual(
              env,
            );
            const back = b.openCxResponseSync({ sharedSecret, taskId: task, envelope: env })!;
            expect(new TextDecoder().decode(back)).toBe(plaintext);
            const body = Buffer.from(env.encrypted_body, 'base64url');
            body[at % body.length]! ^= 0x01;
            const tampered = { ...env, encrypted_body: body.toString('base64url') };
            for (const m of [a, b]) {
              expect(() =>
                m.openCxResponseSync({ sharedSecret, taskId: task, envelope: tampered }),
              ).toThrow(expect.objectContaining({ code: 'IICP-E050' }));
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('both refuse a small-order node key (seal) and a small-order ephemeral key (open)', async () => {
    const node = generateCxKeyPair();
    const sealed = await nativePath.sealCxRequest({
      recipientPublicKey: node.publicKey,
      recipientKeyId: node.keyId,
      taskId: task,
      intent,
      plaintext: '{}',
    });
    // u = 1 is canonical and of small order: X25519 with it is all zero.
    const one = new Uint8Array(32);
    one[0] = 1;
    const smallOrder = { ...sealed.envelope, kem_ciphertext: nativePath.bytesToBase64Url(one) };
    for (const m of [nativePath, nodeCryptoPath]) {
      await expect(
        m.sealCxRequest({
          recipientPublicKey: one,
          recipientKeyId: 'cx-0',
          taskId: task,
          intent,
          plaintext: '{}',
        }),
      ).rejects.toThrow();
      expect(() =>
        m.openCxRequestSync({ envelope: smallOrder, recipientKeys: [node], taskId: task, intent }),
      ).toThrow(expect.objectContaining({ code: 'IICP-E050' }));
    }
  });
});

describe('loading libsodium', () => {
  it('loads here and passes the RFC 7748 known answer', () => {
    const s = loadSodiumX25519();
    expect(s).toBeDefined();
    expect(passesX25519KnownAnswer(s!)).toBe(true);
  });

  it('a back end that gets the answer wrong fails the known answer', () => {
    const real = loadSodiumX25519()!;
    const wrongShared: SodiumX25519 = {
      ...real,
      crypto_scalarmult: (q, n, p) => {
        real.crypto_scalarmult(q, n, p);
        q[0] = q[0]! ^ 1;
      },
    };
    const wrongBase: SodiumX25519 = {
      ...real,
      crypto_scalarmult_base: (q) => q.fill(9),
    };
    expect(passesX25519KnownAnswer(wrongShared)).toBe(false);
    expect(passesX25519KnownAnswer(wrongBase)).toBe(false);
  });
});
