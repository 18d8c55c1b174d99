import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { generateCxKeyPair } from '../src/index.ts';
import type * as CxWeb from '../src/cx-web.ts';

/**
 * `openCxRequestSync`, `sealCxResponseSync` and `openCxResponseSync` (Node's native
 * crypto, no promise) are pinned to the general path: the WebCrypto/noble module loaded
 * without `process.getBuiltinModule` (as in cx-web-backends.test.ts). Same plaintext,
 * shared secret and envelope bytes; the same error (code and message) for every damaged
 * envelope.
 */
type CxModule = typeof CxWeb;
let web: CxModule;
let native: CxModule;
const proc = process as { getBuiltinModule?: unknown };
const original = proc.getBuiltinModule;

beforeAll(async () => {
  const none = { envelope: {}, recipientKeys: [], taskId: '', intent: '' };
  native = await import('../src/cx-web.ts');
  // Each copy decides on native crypto at its first use: the native one now, the web
  // one while the builtin getter is hidden.
  expect(() => native.openCxRequestSync(none)).toThrow('CX envelope version is not supported');
  vi.resetModules();
  proc.getBuiltinModule = undefined;
  try {
    web = await import('../src/cx-web.ts');
    expect(web).not.toBe(native);
    expect(web.openCxRequestSync(none)).toBe(undefined);
    expect(
      web.sealCxResponseSync({ sharedSecret: new Uint8Array(32), taskId: '', plaintext: '' }),
    ).toBe(undefined);
  } finally {
    proc.getBuiltinModule = original;
  }
});
afterAll(() => {
  proc.getBuiltinModule = original;
});

const node = generateCxKeyPair();
const other = generateCxKeyPair();

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

function errorOf(err: unknown): unknown {
  const e = err as { name?: unknown; code?: unknown; message?: unknown; status?: unknown };
  return { name: e.name, code: e.code, message: e.message, status: e.status };
}

function syncOutcome(f: () => unknown): Outcome {
  try {
    return { ok: true, value: f() };
  } catch (error) {
    return { ok: false, error: errorOf(error) };
  }
}

async function asyncOutcome(f: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: true, value: await f() };
  } catch (error) {
    return { ok: false, error: errorOf(error) };
  }
}

/**
 * The synchronous call's outcome, after checking that the general (WebCrypto) path and
 * the native promise path give the same one.
 */
async function sameOutcomes(
  sync: () => unknown,
  general: () => Promise<unknown>,
  nativeAsync: () => Promise<unknown>,
): Promise<Outcome> {
  const fast = syncOutcome(sync);
  const want = await asyncOutcome(general);
  expect(fast).toEqual(want);
  expect(await asyncOutcome(nativeAsync)).toEqual(want);
  return fast;
}

const opened = (o: { plaintext: Uint8Array; sharedSecret: Uint8Array } | undefined) =>
  o && {
    plaintext: Buffer.from(o.plaintext).toString('hex'),
    shared: Buffer.from(o.sharedSecret).toString('hex'),
  };

/** Ways to damage one member of an envelope (or none). */
const arbDamage = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.record({
    kind: fc.constant('set' as const),
    member: fc.constantFrom(
      'version',
      'recipient_key_id',
      'kem_ciphertext',
      'encrypted_body',
      'nonce',
      'aad',
      'plaintext_size',
    ),
    value: fc.oneof(
      fc.constant(undefined),
      fc.constant(null),
      fc.integer({ min: -2, max: 600 }),
      fc.string({ maxLength: 60 }),
      fc.base64String({ maxLength: 60 }),
      fc.constant(other.keyId),
    ),
  }),
  fc.record({
    kind: fc.constant('flip' as const),
    member: fc.constantFrom('kem_ciphertext', 'encrypted_body', 'nonce', 'aad'),
    at: fc.nat(),
  }),
  fc.constant({ kind: 'plain-aad' as const }),
  fc.constant({ kind: 'not-object' as const }),
);

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

type Damage =
  | { kind: 'none' }
  | { kind: 'set'; member: string; value: unknown }
  | { kind: 'flip'; member: string; at: number }
  | { kind: 'plain-aad' }
  | { kind: 'not-object' };

/**
 * A copy of `envelope` with `damage` done to it: a member set, one base64url character
 * moved on by one, the aad spelled as a plain concatenation, or the object wrapped in
 * an array.
 */
function damaged(envelope: object, damage: Damage, plainAad?: string): unknown {
  const e: Record<string, unknown> = { ...envelope };
  if (damage.kind === 'set') e[damage.member] = damage.value;
  else if (damage.kind === 'flip') {
    const text = e[damage.member] as string;
    if (text.length > 0) {
      const i = damage.at % text.length;
      const c = ALPHABET[(ALPHABET.indexOf(text[i]!) + 1) % 64]!;
      e[damage.member] = text.slice(0, i) + c + text.slice(i + 1);
    }
  } else if (damage.kind === 'plain-aad') e.aad = plainAad;
  else if (damage.kind === 'not-object') return [e];
  return e;
}

describe('openCxRequestSync', () => {
  it('opens and refuses exactly as the WebCrypto path (fixed seed)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 200, unit: 'grapheme' }),
        fc.string({ maxLength: 40 }),
        fc.string({ maxLength: 40 }),
        arbDamage,
        fc.boolean(),
        async (plaintext, taskId, intent, damage, wrongTask) => {
          const sealed = await native.sealCxRequest({
            recipientPublicKey: node.publicKey,
            recipientKeyId: node.keyId,
            taskId,
            intent,
            plaintext,
          });
          const plainAad = Buffer.from(`${taskId}${intent}`).toString('base64url');
          const envelope = damaged(sealed.envelope, damage, plainAad);
          const opts = {
            envelope,
            recipientKeys: [other, node],
            taskId: wrongTask ? `${taskId}x` : taskId,
            intent,
          };
          const fast = await sameOutcomes(
            () => opened(native.openCxRequestSync(opts)),
            async () => opened(await web.openCxRequest(opts)),
            async () => opened(await native.openCxRequest(opts)),
          );
          if (damage.kind === 'none' && !wrongTask) {
            expect(fast.ok).toBe(true);
            expect(fast.ok && fast.value).toEqual({
              plaintext: Buffer.from(plaintext).toString('hex'),
              shared: Buffer.from(sealed.sharedSecret).toString('hex'),
            });
          }
        },
      ),
      { seed: 20261207, numRuns: 300 },
    );
  });
});

/** Ways to damage one member of a response envelope (or none). */
const arbResponseDamage = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.record({
    kind: fc.constant('set' as const),
    member: fc.constantFrom('version', 'nonce', 'encrypted_body'),
    value: fc.oneof(
      fc.constant(undefined),
      fc.constant(null),
      fc.integer({ min: -2, max: 3 }),
      fc.string({ maxLength: 60 }),
      fc.base64String({ maxLength: 60 }),
    ),
  }),
  fc.record({
    kind: fc.constant('flip' as const),
    member: fc.constantFrom('nonce', 'encrypted_body'),
    at: fc.nat(),
  }),
  fc.constant({ kind: 'not-object' as const }),
);

describe('openCxResponseSync', () => {
  it('opens and refuses exactly as the WebCrypto path (fixed seed)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.string({ maxLength: 40 }),
        fc.string({ maxLength: 200, unit: 'grapheme' }),
        arbResponseDamage,
        fc.boolean(),
        async (sharedSecret, taskId, plaintext, damage, wrongTask) => {
          const sealed = native.sealCxResponseSync({ sharedSecret, taskId, plaintext })!;
          const envelope = damaged(sealed, damage);
          const opts = { sharedSecret, taskId: wrongTask ? `${taskId}x` : taskId, envelope };
          const hex = (b: Uint8Array | undefined) => b && Buffer.from(b).toString('hex');
          const fast = await sameOutcomes(
            () => hex(native.openCxResponseSync(opts)),
            async () => hex(await web.openCxResponse(opts)),
            async () => hex(await native.openCxResponse(opts)),
          );
          if (damage.kind === 'none' && !wrongTask) {
            expect(fast).toEqual({ ok: true, value: Buffer.from(plaintext).toString('hex') });
          }
        },
      ),
      { seed: 20261207, numRuns: 300 },
    );
  });

  it('is undefined without native crypto', () => {
    const opts = { sharedSecret: new Uint8Array(32), taskId: 't', envelope: {} };
    expect(web.openCxResponseSync(opts)).toBe(undefined);
  });
});

describe('sealCxResponseSync', () => {
  it('seals the same envelope as the WebCrypto path for a given nonce (fixed seed)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.string({ maxLength: 40 }),
        fc.oneof(fc.string({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 })),
        fc.uint8Array({ minLength: 11, maxLength: 13 }),
        async (sharedSecret, taskId, plaintext, nonce) => {
          const opts = { sharedSecret, taskId, plaintext, nonce };
          const fast = syncOutcome(() => native.sealCxResponseSync(opts));
          const general = await asyncOutcome(() => web.sealCxResponse(opts));
          expect(fast).toEqual(general);
          expect(await asyncOutcome(() => native.sealCxResponse(opts))).toEqual(general);
          if (nonce.length === 12) {
            expect(fast.ok).toBe(true);
            const back = await web.openCxResponse({
              sharedSecret,
              taskId,
              envelope: fast.ok ? fast.value : undefined,
            });
            const want = typeof plaintext === 'string' ? Buffer.from(plaintext) : plaintext;
            expect(Buffer.from(back).equals(Buffer.from(want))).toBe(true);
          }
        },
      ),
      { seed: 20261207, numRuns: 200 },
    );
  });

  it('draws a fresh nonce per seal when none is given', () => {
    const opts = { sharedSecret: new Uint8Array(32).fill(7), taskId: 't', plaintext: '"x"' };
    const a = native.sealCxResponseSync(opts)!;
    const b = native.sealCxResponseSync(opts)!;
    expect(a.nonce).not.toBe(b.nonce);
    expect(a.encrypted_body).not.toBe(b.encrypted_body);
  });
});

describe('sealCxRequestSync', () => {
  const sealedView = (s: { envelope: object; sharedSecret: Uint8Array } | undefined) =>
    s && { envelope: s.envelope, shared: Buffer.from(s.sharedSecret).toString('hex') };

  it('seals as the WebCrypto path for a given key and nonce, and refuses alike (fixed seed)', async () => {
    const smallOrder = new Uint8Array(32);
    smallOrder[0] = 1;
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.oneof(fc.constant(node.publicKey), fc.constant(smallOrder)),
        fc.string({ maxLength: 40 }),
        fc.string({ maxLength: 40 }),
        fc.oneof(fc.string({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 })),
        fc.uint8Array({ minLength: 11, maxLength: 13 }),
        async (ephemeralPrivateKey, recipientPublicKey, taskId, intent, plaintext, nonce) => {
          const opts = {
            recipientPublicKey,
            recipientKeyId: node.keyId,
            taskId,
            intent,
            plaintext,
            ephemeralPrivateKey,
            nonce,
          };
          const fast = syncOutcome(() => sealedView(native.sealCxRequestSync(opts)));
          const general = await asyncOutcome(async () => sealedView(await web.sealCxRequest(opts)));
          // Both refuse (a small-order key, a nonce of the wrong length), or both seal
          // the same bytes. The messages of a refused key differ by back end.
          expect(fast.ok).toBe(general.ok);
          if (fast.ok && general.ok) expect(fast.value).toEqual(general.value);
          const viaPromise = await asyncOutcome(async () =>
            sealedView(await native.sealCxRequest(opts)),
          );
          expect(viaPromise).toEqual(fast);
          expect(fast.ok).toBe(nonce.length === 12 && recipientPublicKey === node.publicKey);
        },
      ),
      { seed: 20261207, numRuns: 200 },
    );
  });

  it('takes a fresh ephemeral key and nonce per seal, and web.openCxRequest opens it', async () => {
    const opts = {
      recipientPublicKey: node.publicKey,
      recipientKeyId: node.keyId,
      taskId: 't',
      intent: 'i',
      plaintext: '{"q":1}',
    };
    const a = native.sealCxRequestSync(opts)!;
    const b = native.sealCxRequestSync(opts)!;
    expect(a.envelope.kem_ciphertext).not.toBe(b.envelope.kem_ciphertext);
    expect(a.envelope.nonce).not.toBe(b.envelope.nonce);
    const back = await web.openCxRequest({
      envelope: b.envelope,
      recipientKeys: [node],
      taskId: 't',
      intent: 'i',
    });
    expect(new TextDecoder().decode(back.plaintext)).toBe('{"q":1}');
    expect(Buffer.from(back.sharedSecret).equals(Buffer.from(b.sharedSecret))).toBe(true);
    expect(web.sealCxRequestSync(opts)).toBe(undefined);
  });
});
