import { IicpProtocolError } from '@iicp/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CX_RESPONSE_ENCRYPTION_FEATURE,
  base64UrlToBytes,
  bytesToBase64Url,
  cxKeyIdOf,
  openCxRequest,
  openCxResponse,
  readCxAdvertisement,
  sealCxRequest,
  sealCxResponse,
} from '../src/cx-web.ts';
import {
  cxKeyId,
  cxPublicKeyAdvertisement,
  fromHexStrict,
  generateCxKeyPair,
  openCx,
  sealCx,
} from '../src/index.ts';
import type { IicpConfEnvelope } from '../src/index.ts';
import { committedCxRequest, loadRepoJson } from './spec-vectors.ts';

const hex = (h: string): Uint8Array => fromHexStrict(h)!;
const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const TASK = '44444444-4444-4444-8444-444444444444';
const CHAT = 'urn:iicp:intent:llm:chat:v1';
const PAYLOAD = JSON.stringify({ messages: [{ role: 'user', content: 'canary-9c1e prompt' }] });

interface ResponseVector {
  inputs: Record<string, string>;
  response: { task_id: string; status: string; iicp_conf_resp: Record<string, unknown> };
}
const { vector: reqV, node: vNode, sealOptions: vectorSeal } = committedCxRequest();
const resV = loadRepoJson<ResponseVector>('spec/vectors/crypto-cx-response-v1.json');

async function rejects(p: Promise<unknown>): Promise<IicpProtocolError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(IicpProtocolError);
  const e = err as IicpProtocolError;
  expect(e.code).toBe('IICP-E050');
  expect(e.status).toBe(422);
  return e;
}

describe('cx-web request envelopes (committed vector)', () => {
  it('seals byte for byte what spec/vectors/crypto-cx-tier1-v1.json holds', async () => {
    const sealed = await sealCxRequest(vectorSeal);
    expect(sealed.envelope).toEqual(reqV.iicp_conf);
    expect(cxKeyIdOf(vNode.publicKey)).toBe(reqV.key_id);
  });

  it('opens the vector and returns the shared secret of the RFC 7748 keys', async () => {
    const opened = await openCxRequest({
      envelope: reqV.iicp_conf,
      recipientKeys: [vNode],
      taskId: reqV.inputs.task_id!,
      intent: reqV.inputs.intent!,
    });
    expect(text(opened.plaintext)).toBe(reqV.inputs.plaintext);
    expect(opened.sharedSecret).toEqual(hex(resV.inputs.shared_secret_hex!));
  });
});

describe('cx-web response envelopes (committed vector)', () => {
  const shared = hex(resV.inputs.shared_secret_hex!);

  it('seals byte for byte what spec/vectors/crypto-cx-response-v1.json holds', async () => {
    const env = await sealCxResponse({
      sharedSecret: shared,
      taskId: resV.inputs.task_id!,
      plaintext: resV.inputs.plaintext!,
      nonce: hex(resV.inputs.response_nonce_hex!),
    });
    expect(env).toEqual(resV.response.iicp_conf_resp);
  });

  it('opens the vector', async () => {
    const pt = await openCxResponse({
      sharedSecret: shared,
      taskId: resV.inputs.task_id!,
      envelope: resV.response.iicp_conf_resp,
    });
    expect(text(pt)).toBe(resV.inputs.plaintext);
  });

  it('refuses another task id, a flipped byte and a wrong secret', async () => {
    const env = resV.response.iicp_conf_resp;
    await rejects(
      openCxResponse({ sharedSecret: shared, taskId: TASK.replace('4', '5'), envelope: env }),
    );
    const body = base64UrlToBytes(env.encrypted_body as string)!;
    body[3]! ^= 1;
    await rejects(
      openCxResponse({
        sharedSecret: shared,
        taskId: resV.inputs.task_id!,
        envelope: { ...env, encrypted_body: bytesToBase64Url(body) },
      }),
    );
    const other = shared.slice();
    other[0]! ^= 1;
    await rejects(
      openCxResponse({ sharedSecret: other, taskId: resV.inputs.task_id!, envelope: env }),
    );
  });
});

describe('cx-web and the node:crypto implementation agree', () => {
  it('web seal → node open, node seal → web open (any payload, any task)', async () => {
    const node = generateCxKeyPair();
    await fc.assert(
      fc.asyncProperty(fc.uuid({ version: 4 }), fc.string({ maxLength: 300 }), async (id, s) => {
        const plaintext = JSON.stringify({ prompt: s });
        const web = await sealCxRequest({
          recipientPublicKey: node.publicKey,
          recipientKeyId: node.keyId,
          taskId: id,
          intent: CHAT,
          plaintext,
        });
        const viaNode = openCx({
          envelope: web.envelope as IicpConfEnvelope,
          recipientKeys: [node],
          taskId: id,
          intent: CHAT,
        });
        expect(text(viaNode)).toBe(plaintext);
        const nodeEnv = sealCx({
          recipientPublicKey: node.publicKey,
          recipientKeyId: node.keyId,
          taskId: id,
          intent: CHAT,
          plaintext,
        });
        const viaWeb = await openCxRequest({
          envelope: nodeEnv,
          recipientKeys: [node],
          taskId: id,
          intent: CHAT,
        });
        expect(text(viaWeb.plaintext)).toBe(plaintext);
      }),
      { numRuns: 50 },
    );
  });

  it('the same fixed inputs give the same envelope in both', async () => {
    const node = generateCxKeyPair();
    const fixed = {
      recipientPublicKey: node.publicKey,
      recipientKeyId: node.keyId,
      taskId: TASK,
      intent: CHAT,
      plaintext: PAYLOAD,
      ephemeralPrivateKey: new Uint8Array(32).fill(7),
      nonce: new Uint8Array(12).fill(9),
    };
    expect((await sealCxRequest(fixed)).envelope).toEqual(sealCx(fixed));
    expect(cxKeyIdOf(node.publicKey)).toBe(cxKeyId(node.publicKey));
  });

  it('a request and its response round-trip through one shared secret', async () => {
    const node = generateCxKeyPair();
    const sealed = await sealCxRequest({
      recipientPublicKey: node.publicKey,
      recipientKeyId: node.keyId,
      taskId: TASK,
      intent: CHAT,
      plaintext: PAYLOAD,
    });
    const opened = await openCxRequest({
      envelope: sealed.envelope,
      recipientKeys: [node],
      taskId: TASK,
      intent: CHAT,
    });
    const resp = await sealCxResponse({
      sharedSecret: opened.sharedSecret,
      taskId: TASK,
      plaintext: '{"answer":"canary-9c1e"}',
    });
    expect(JSON.stringify(resp)).not.toContain('canary');
    const back = await openCxResponse({
      sharedSecret: sealed.sharedSecret,
      taskId: TASK,
      envelope: resp,
    });
    expect(text(back)).toBe('{"answer":"canary-9c1e"}');
  });
});

describe('cx-web openCxRequest failures are IICP-E050 (422)', () => {
  const node = generateCxKeyPair();
  const seal = () =>
    sealCxRequest({
      recipientPublicKey: node.publicKey,
      recipientKeyId: node.keyId,
      taskId: TASK,
      intent: CHAT,
      plaintext: PAYLOAD,
    });
  const open = (envelope: unknown, intent = CHAT, taskId = TASK) =>
    openCxRequest({ envelope, recipientKeys: [node], taskId, intent });

  it('tampered ciphertext', async () => {
    const { envelope } = await seal();
    const body = base64UrlToBytes(envelope.encrypted_body)!;
    body[0]! ^= 0x80;
    await rejects(open({ ...envelope, encrypted_body: bytesToBase64Url(body) }));
  });

  it('wrong key id', async () => {
    const { envelope } = await seal();
    await rejects(open({ ...envelope, recipient_key_id: 'cx-0000000000000000' }));
  });

  it('wrong AAD: another intent, another task id, or a changed aad member', async () => {
    const { envelope } = await seal();
    await rejects(open(envelope, 'urn:iicp:intent:llm:completion:v1'));
    await rejects(open(envelope, CHAT, '55555555-5555-4555-8555-555555555555'));
    await rejects(open({ ...envelope, aad: bytesToBase64Url(new TextEncoder().encode('x|y')) }));
  });

  it('version, size and shape', async () => {
    const { envelope } = await seal();
    await rejects(open({ ...envelope, version: 2 }));
    await rejects(open({ ...envelope, plaintext_size: envelope.plaintext_size + 1 }));
    await rejects(open(null));
    await rejects(open({ ...envelope, nonce: 'AAEC' }));
  });

  it('accepts the §4.1 plain-concatenation spelling of the aad member', async () => {
    const { envelope } = await seal();
    const plain = bytesToBase64Url(new TextEncoder().encode(`${TASK}${CHAT}`));
    const r = await open({ ...envelope, aad: plain });
    expect(text(r.plaintext)).toBe(PAYLOAD);
  });
});

describe('readCxAdvertisement', () => {
  const node = generateCxKeyPair();
  const future = new Date(Date.now() + 86_400_000);

  it('reads what cxPublicKeyAdvertisement writes, with the response feature', () => {
    const adv = cxPublicKeyAdvertisement(node, future, [CX_RESPONSE_ENCRYPTION_FEATURE, 'x-new']);
    const r = readCxAdvertisement(adv)!;
    expect(r.keyId).toBe(node.keyId);
    expect(r.publicKey).toEqual(node.publicKey);
    expect(r.responseEncryption).toBe(true);
    expect(readCxAdvertisement(cxPublicKeyAdvertisement(node, future))!.responseEncryption).toBe(
      false,
    );
  });

  it('fails closed on absent, malformed and expired keys', () => {
    const adv = cxPublicKeyAdvertisement(node, future);
    expect(readCxAdvertisement(undefined)).toBeUndefined();
    expect(readCxAdvertisement(null)).toBeUndefined();
    expect(readCxAdvertisement({ ...adv, algorithm: 'P-256' })).toBeUndefined();
    expect(readCxAdvertisement({ ...adv, key: `${adv.key}=` })).toBeUndefined();
    expect(readCxAdvertisement({ ...adv, key: adv.key.slice(1) })).toBeUndefined();
    expect(readCxAdvertisement({ ...adv, not_after: '2000-01-01T00:00:00Z' })).toBeUndefined();
    expect(readCxAdvertisement({ ...adv, key_id: '' })).toBeUndefined();
  });

  it('base64url codec round-trips and refuses non-canonical text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
        expect(base64UrlToBytes(bytesToBase64Url(b))).toEqual(b);
        expect(bytesToBase64Url(b)).toBe(Buffer.from(b).toString('base64url'));
      }),
      { numRuns: 300 },
    );
    expect(base64UrlToBytes('AB')).toBeUndefined(); // trailing bits set
    expect(base64UrlToBytes('A')).toBeUndefined();
    expect(base64UrlToBytes('AA==')).toBeUndefined();
  });
});
