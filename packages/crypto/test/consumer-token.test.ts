import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DirectoryKey, issueConsumerToken, verifyConsumerToken } from '../src/index.ts';
import { flipAsciiBit } from './spec-vectors.ts';

const key = DirectoryKey.fromHex(
  '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
);
const CALLER = '11111111-1111-4111-8111-111111111111';
const TARGET = '22222222-2222-4222-8222-222222222222';
const CHAT = 'urn:iicp:intent:llm:chat:v1';
const T0 = 1_800_000_000;

function issue(intent = CHAT, at = T0) {
  return issueConsumerToken({
    signer: key,
    issuer: 'https://directory.example.test',
    callerNodeId: CALLER,
    targetNodeId: TARGET,
    intent,
    clock: () => at + 0.4,
  });
}

const verifyAt = (
  token: string,
  now: number,
  over: Partial<Parameters<typeof verifyConsumerToken>[1]> = {},
) =>
  verifyConsumerToken(token, {
    directoryPublicKey: key.publicKey,
    nodeId: TARGET,
    intent: CHAT,
    clock: () => now,
    ...over,
  });

describe('consumer token (iicp-dir.md §3.12)', () => {
  it('has the format <b64url payload>.<128 hex> and the payload fields in spec order', () => {
    const { token, claims, expiresAt } = issue();
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[0-9a-f]{128}$/);
    const payload = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8'));
    expect(Object.keys(payload)).toEqual(['v', 'iss', 'sub', 'aud', 'intent', 'iat', 'exp']);
    expect(payload).toEqual({
      v: 1,
      iss: 'https://directory.example.test',
      sub: CALLER,
      aud: TARGET,
      intent: CHAT,
      iat: T0,
      exp: T0 + 300,
    });
    expect(claims.exp).toBe(expiresAt);
  });

  it('signs "iicp:consumer-token:v1\\n" + the base64url text', () => {
    const { token } = issue();
    const [payload, sig] = token.split('.') as [string, string];
    const msg = new TextEncoder().encode(`iicp:consumer-token:v1\n${payload}`);
    expect(key.verify(Buffer.from(sig, 'hex'), msg)).toBe(true);
  });

  it('accepts a fresh token for this node and intent', () => {
    const res = verifyAt(issue().token, T0 + 1);
    expect(res).toEqual({
      ok: true,
      claims: expect.objectContaining({ sub: CALLER, aud: TARGET }),
    });
  });

  it('accepts "*" for any intent, and refuses another intent otherwise', () => {
    expect(verifyAt(issue('*').token, T0, { intent: 'urn:iicp:intent:llm:embedding:v1' }).ok).toBe(
      true,
    );
    expect(verifyAt(issue().token, T0, { intent: 'urn:iicp:intent:llm:embedding:v1' })).toEqual({
      ok: false,
      reason: 'wrong_intent',
    });
  });

  it('refuses a token for another node (aud)', () => {
    expect(verifyAt(issue().token, T0, { nodeId: CALLER })).toEqual({
      ok: false,
      reason: 'wrong_audience',
    });
  });

  it('applies the 10 s grace after exp, and no more', () => {
    const { token } = issue();
    const exp = T0 + 300;
    expect(verifyAt(token, exp).ok).toBe(true);
    expect(verifyAt(token, exp + 9.999).ok).toBe(true);
    expect(verifyAt(token, exp + 10)).toEqual({ ok: false, reason: 'expired' });
    expect(verifyAt(token, exp + 1, { graceSeconds: 0 })).toEqual({ ok: false, reason: 'expired' });
  });

  it('checks the issuer only when asked', () => {
    const { token } = issue();
    expect(verifyAt(token, T0, { issuer: 'https://other.example' })).toEqual({
      ok: false,
      reason: 'wrong_issuer',
    });
    expect(verifyAt(token, T0, { issuer: 'https://directory.example.test' }).ok).toBe(true);
  });

  it('refuses a token signed by another key, and dispatch tickets (other domain)', () => {
    const other = DirectoryKey.generate();
    const forged = issueConsumerToken({
      signer: other,
      issuer: 'x',
      callerNodeId: CALLER,
      targetNodeId: TARGET,
      intent: CHAT,
      clock: () => T0,
    });
    expect(verifyAt(forged.token, T0)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('refuses malformed tokens without throwing', () => {
    const { token } = issue();
    for (const bad of [
      '',
      'abc',
      '.',
      `${token}.00`,
      token.toUpperCase(),
      token.replace(/\.[0-9a-f]+$/, '.zz'),
      `${token.split('.')[0]}.${'0'.repeat(126)}`,
      'x'.repeat(10_000),
    ]) {
      expect(verifyAt(bad, T0).ok).toBe(false);
    }
  });

  it('property: any single-bit change of a signed token fails verification', () => {
    const { token } = issue();
    fc.assert(
      fc.property(fc.nat({ max: token.length - 1 }), fc.integer({ min: 0, max: 6 }), (i, bit) => {
        const mutated = flipAsciiBit(token, i, bit);
        expect(verifyAt(mutated, T0).ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
