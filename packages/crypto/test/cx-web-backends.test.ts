import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { generateCxKeyPair } from '../src/index.ts';
import type * as CxWeb from '../src/cx-web.ts';
import { committedCxRequest } from './spec-vectors.ts';

/**
 * `@iicp/crypto/cx` picks Node's native crypto when `process.getBuiltinModule` offers
 * it, else WebCrypto. The main suite runs the native path; this one hides the builtin
 * getter, loads a fresh copy of the module, and checks the WebCrypto path produces the
 * same bytes and interoperates with the native one.
 */
const { vector: reqV, sealOptions: vectorSeal } = committedCxRequest();
type CxModule = typeof CxWeb;

let web: CxModule;
let native: CxModule;
const proc = process as { getBuiltinModule?: unknown };
const original = proc.getBuiltinModule;

beforeAll(async () => {
  native = await import('../src/cx-web.ts');
  vi.resetModules();
  proc.getBuiltinModule = undefined;
  web = await import('../src/cx-web.ts');
  expect(web).not.toBe(native);
});
afterAll(() => {
  proc.getBuiltinModule = original;
});

describe('cx-web without native crypto (WebCrypto path)', () => {
  it('seals the committed vector byte for byte', async () => {
    const sealed = await web.sealCxRequest(vectorSeal);
    expect(sealed.envelope).toEqual(reqV.iicp_conf);
  });

  it('web seal → native open and native seal → web open, request and response', async () => {
    const node = generateCxKeyPair();
    const task = '44444444-4444-4444-8444-444444444444';
    const intent = 'urn:iicp:intent:llm:chat:v1';
    for (const [a, b] of [
      [web, native],
      [native, web],
    ] as const) {
      const sealed = await a.sealCxRequest({
        recipientPublicKey: node.publicKey,
        recipientKeyId: node.keyId,
        taskId: task,
        intent,
        plaintext: '{"q":"canary-41"}',
      });
      const opened = await b.openCxRequest({
        envelope: sealed.envelope,
        recipientKeys: [node],
        taskId: task,
        intent,
      });
      expect(new TextDecoder().decode(opened.plaintext)).toBe('{"q":"canary-41"}');
      expect(opened.sharedSecret).toEqual(sealed.sharedSecret);
      const resp = await b.sealCxResponse({
        sharedSecret: opened.sharedSecret,
        taskId: task,
        plaintext: '"pong"',
      });
      const back = await a.openCxResponse({
        sharedSecret: sealed.sharedSecret,
        taskId: task,
        envelope: resp,
      });
      expect(new TextDecoder().decode(back)).toBe('"pong"');
      const first = resp.encrypted_body.startsWith('A') ? 'B' : 'A';
      const flipped = { ...resp, encrypted_body: `${first}${resp.encrypted_body.slice(1)}` };
      await expect(
        a.openCxResponse({ sharedSecret: sealed.sharedSecret, taskId: task, envelope: flipped }),
      ).rejects.toMatchObject({ code: 'IICP-E050' });
    }
  });

  it('refuses a small-order node key on both paths', async () => {
    for (const m of [web, native]) {
      await expect(
        m.sealCxRequest({
          recipientPublicKey: new Uint8Array(32),
          recipientKeyId: 'cx-0',
          taskId: 't',
          intent: 'i',
          plaintext: '{}',
        }),
      ).rejects.toThrow();
    }
  });
});
