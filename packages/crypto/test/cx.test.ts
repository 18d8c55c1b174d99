import { createHash } from 'node:crypto';
import { IicpProtocolError } from '@iicp/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { IicpConfEnvelope } from '../src/index.ts';
import {
  cxKeyId,
  cxKeyPairFromPrivateKey,
  cxPublicKeyAdvertisement,
  generateCxKeyPair,
  openCx,
  parseCxPublicKey,
  sealCx,
} from '../src/index.ts';
import { loadRepoJson } from './spec-vectors.ts';

const TASK = '44444444-4444-4444-8444-444444444444';
const CHAT = 'urn:iicp:intent:llm:chat:v1';
const node = generateCxKeyPair();
const PAYLOAD = JSON.stringify({
  messages: [{ role: 'user', content: 'canary-7f3a secret prompt' }],
});

const seal = (plaintext: string | Uint8Array = PAYLOAD) =>
  sealCx({
    recipientPublicKey: node.publicKey,
    recipientKeyId: node.keyId,
    taskId: TASK,
    intent: CHAT,
    plaintext,
  });

function openErr(
  envelope: IicpConfEnvelope,
  over: Partial<Parameters<typeof openCx>[0]> = {},
): IicpProtocolError {
  try {
    openCx({ envelope, recipientKeys: [node], taskId: TASK, intent: CHAT, ...over });
  } catch (e) {
    expect(e).toBeInstanceOf(IicpProtocolError);
    return e as IicpProtocolError;
  }
  throw new Error('openCx accepted a tampered envelope');
}

function b64mut(s: string, f: (b: Uint8Array) => void): string {
  const b = new Uint8Array(Buffer.from(s, 'base64url'));
  f(b);
  return Buffer.from(b).toString('base64url');
}

describe('IICP-CX tier 1 (iicp-confidentiality.md §4–§6)', () => {
  it('round-trips, and the envelope carries no plaintext', () => {
    const env = seal();
    expect(env.version).toBe(1);
    expect(env.recipient_key_id).toBe(node.keyId);
    expect(Buffer.from(env.nonce, 'base64url')).toHaveLength(12);
    expect(Buffer.from(env.kem_ciphertext, 'base64url')).toHaveLength(32);
    expect(Buffer.from(env.aad, 'base64url').toString()).toBe(`${TASK}|${CHAT}`);
    expect(env.plaintext_size).toBe(Buffer.byteLength(PAYLOAD));
    expect(Buffer.from(env.encrypted_body, 'base64url')).toHaveLength(env.plaintext_size + 16);
    expect(JSON.stringify(env)).not.toContain('canary-7f3a');
    const out = openCx({ envelope: env, recipientKeys: [node], taskId: TASK, intent: CHAT });
    expect(Buffer.from(out).toString()).toBe(PAYLOAD);
  });

  it('uses a fresh ephemeral key and nonce per task (CX-06)', () => {
    const a = seal();
    const b = seal();
    expect(a.kem_ciphertext).not.toBe(b.kem_ciphertext);
    expect(a.nonce).not.toBe(b.nonce);
  });

  it('finds the key by id among rotated keys', () => {
    const old = generateCxKeyPair();
    const env = seal();
    const out = openCx({ envelope: env, recipientKeys: [old, node], taskId: TASK, intent: CHAT });
    expect(Buffer.from(out).toString()).toBe(PAYLOAD);
  });

  it('accepts the §4.1 spelling of the aad member (no separator) as well', () => {
    const env = { ...seal(), aad: Buffer.from(`${TASK}${CHAT}`).toString('base64url') };
    expect(
      Buffer.from(
        openCx({ envelope: env, recipientKeys: [node], taskId: TASK, intent: CHAT }),
      ).toString(),
    ).toBe(PAYLOAD);
  });

  describe('tampering fails closed with IICP-E050 (422), the shipped tier-1 code (§6)', () => {
    const env = seal();
    const cases: [string, () => IicpProtocolError][] = [
      [
        'ciphertext bit',
        () => openErr({ ...env, encrypted_body: b64mut(env.encrypted_body, (b) => (b[0]! ^= 1)) }),
      ],
      [
        'tag bit',
        () =>
          openErr({
            ...env,
            encrypted_body: b64mut(env.encrypted_body, (b) => (b[b.length - 1]! ^= 0x80)),
          }),
      ],
      ['truncated body', () => openErr({ ...env, encrypted_body: env.encrypted_body.slice(0, 8) })],
      ['nonce', () => openErr({ ...env, nonce: b64mut(env.nonce, (b) => (b[3]! ^= 4)) })],
      [
        'ephemeral key',
        () => openErr({ ...env, kem_ciphertext: b64mut(env.kem_ciphertext, (b) => (b[5]! ^= 1)) }),
      ],
      [
        'aad member',
        () => openErr({ ...env, aad: Buffer.from(`${TASK}|other`).toString('base64url') }),
      ],
      [
        'task_id (AAD binding)',
        () => openErr(env, { taskId: '55555555-5555-4555-8555-555555555555' }),
      ],
      ['intent (AAD binding)', () => openErr(env, { intent: 'urn:iicp:intent:llm:embedding:v1' })],
      ['plaintext_size', () => openErr({ ...env, plaintext_size: env.plaintext_size + 1 })],
      [
        'wrong private key, same key id',
        () => openErr(env, { recipientKeys: [{ ...generateCxKeyPair(), keyId: node.keyId }] }),
      ],
      ['unknown key id', () => openErr(env, { recipientKeys: [generateCxKeyPair()] })],
      ['version', () => openErr({ ...env, version: 2 })],
      ['non-canonical base64url', () => openErr({ ...env, nonce: `${env.nonce}=` })],
    ];
    for (const [name, run] of cases) {
      it(name, () => {
        const err = run();
        expect(err.code).toBe('IICP-E050');
        expect(err.status).toBe(422);
        expect(err.message).not.toContain('canary');
      });
    }
  });

  it('maps failures to the target model E060/E061/E062 on request', () => {
    const env = seal();
    const target = { errorModel: 'target' as const };
    expect(openErr(env, { ...target, recipientKeys: [generateCxKeyPair()] }).code).toBe(
      'IICP-E060',
    );
    expect(openErr({ ...env, version: 9 }, target).code).toBe('IICP-E061');
    const e062 = openErr(
      { ...env, encrypted_body: b64mut(env.encrypted_body, (b) => (b[1]! ^= 1)) },
      target,
    );
    expect(e062.code).toBe('IICP-E062');
    expect(e062.status).toBe(400);
  });

  it('refuses to encrypt to a small-order X25519 key (fail closed)', () => {
    expect(() =>
      sealCx({
        recipientPublicKey: new Uint8Array(32),
        recipientKeyId: 'x',
        taskId: TASK,
        intent: CHAT,
        plaintext: PAYLOAD,
      }),
    ).toThrow();
  });

  it('property: any single-bit change of the body, nonce or ephemeral key fails', () => {
    const env = seal('{"k":"v"}');
    fc.assert(
      fc.property(
        fc.constantFrom('encrypted_body', 'nonce', 'kem_ciphertext'),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (field, pos, bit) => {
          const mutated = {
            ...env,
            [field]: b64mut(env[field], (b) => (b[pos % b.length]! ^= 1 << bit)),
          };
          expect(() =>
            openCx({ envelope: mutated, recipientKeys: [node], taskId: TASK, intent: CHAT }),
          ).toThrow(IicpProtocolError);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('cx_public_key advertisement (§3.1)', () => {
  it('key_id is "cx-" + the first 16 hex of sha256(raw key) (decision D-054)', () => {
    const pair = cxKeyPairFromPrivateKey(new Uint8Array(32).fill(7));
    expect(pair.keyId).toMatch(/^cx-[0-9a-f]{16}$/);
    expect(cxKeyId(pair.publicKey)).toBe(
      `cx-${createHash('sha256').update(pair.publicKey).digest('hex').slice(0, 16)}`,
    );
  });

  it('advertises and parses back; expired or malformed keys are "no key"', () => {
    const adv = cxPublicKeyAdvertisement(node, new Date('2030-01-01T00:00:00Z'), [
      'response_encryption_v1',
    ]);
    expect(adv).toEqual({
      algorithm: 'X25519',
      encoding: 'base64url',
      key: Buffer.from(node.publicKey).toString('base64url'),
      key_id: node.keyId,
      not_after: '2030-01-01T00:00:00Z',
      hybrid_pq: null,
      features: ['response_encryption_v1'],
    });
    const now = Date.parse('2029-01-01T00:00:00Z') / 1000;
    expect(parseCxPublicKey(adv, now)).toEqual({ publicKey: node.publicKey, keyId: node.keyId });
    expect(parseCxPublicKey(adv, Date.parse('2030-01-01T00:00:00Z') / 1000)).toBeUndefined();
    expect(parseCxPublicKey({ ...adv, key: adv.key.slice(1) }, now)).toBeUndefined();
    expect(parseCxPublicKey({ ...adv, algorithm: 'P-256' }, now)).toBeUndefined();
    expect(parseCxPublicKey(null, now)).toBeUndefined();
  });
});

describe('IICP-CX project vector spec/vectors/crypto-cx-tier1-v1.json', () => {
  const V = loadRepoJson<{
    provenance: string;
    inputs: Record<string, string>;
    key_id: string;
    iicp_conf: IicpConfEnvelope;
  }>('spec/vectors/crypto-cx-tier1-v1.json');
  const hex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));

  it('is labelled as derived by this project', () => {
    expect(V.provenance).toMatch(/NOT published upstream/);
  });

  it('seals to the exact envelope with the fixed keys and nonce, and opens it', () => {
    const nodeKey = cxKeyPairFromPrivateKey(hex(V.inputs.node_private_key_hex!));
    expect(Buffer.from(nodeKey.publicKey).toString('hex')).toBe(V.inputs.node_public_key_hex);
    expect(nodeKey.keyId).toBe(V.key_id);
    const env = sealCx({
      recipientPublicKey: nodeKey.publicKey,
      recipientKeyId: nodeKey.keyId,
      taskId: V.inputs.task_id!,
      intent: V.inputs.intent!,
      plaintext: V.inputs.plaintext!,
      ephemeralPrivateKey: hex(V.inputs.ephemeral_private_key_hex!),
      nonce: hex(V.inputs.nonce_hex!),
    });
    expect(env).toEqual(V.iicp_conf);
    const out = openCx({
      envelope: V.iicp_conf,
      recipientKeys: [nodeKey],
      taskId: V.inputs.task_id!,
      intent: V.inputs.intent!,
    });
    expect(Buffer.from(out).toString()).toBe(V.inputs.plaintext);
  });
});
