import { describe, expect, it } from 'vitest';
import {
  DirectoryKey,
  operatorDelegationSigningInput,
  signOperatorDelegation,
  verifyOperatorDelegation,
} from '../src/index.ts';
import { loadRepoJson } from './spec-vectors.ts';

interface Case {
  name?: string;
  delegation: Record<string, unknown>;
  node_id: string;
  now_s: number;
  expected: string;
}
const V = loadRepoJson<{
  provenance: string;
  operator_secret_key_hex: string;
  signing_input: string;
  valid: Case;
  negative_cases: Case[];
}>('spec/vectors/operator-delegation-v1.json');

const check = (c: Case) => {
  const res = verifyOperatorDelegation(c.delegation, { nodeId: c.node_id, clock: () => c.now_s });
  return res.ok ? 'valid' : res.reason;
};

describe('operator delegation: project vector spec/vectors/operator-delegation-v1.json', () => {
  it('is labelled as derived by this project, not published upstream', () => {
    expect(V.provenance).toMatch(/Derived by this project/);
    expect(V.provenance).toMatch(/NOT published upstream/);
  });

  it('signing input is the sorted compact JSON with the slash of operator_pub unescaped', () => {
    const d = V.valid.delegation as { node_id: string; operator_pub: string; not_after: number };
    expect(operatorDelegationSigningInput(d)).toBe(V.signing_input);
    expect(V.signing_input).toContain('VS/7T');
  });

  it('re-signing with the RFC 8032 TEST 1 key reproduces the vector', () => {
    const key = DirectoryKey.fromHex(V.operator_secret_key_hex);
    const d = V.valid.delegation as { node_id: string; not_after: number };
    expect(signOperatorDelegation(d.node_id, d.not_after, key)).toEqual(V.valid.delegation);
  });

  it('valid → valid, with a short fingerprint and the key', () => {
    expect(check(V.valid)).toBe('valid');
    const res = verifyOperatorDelegation(V.valid.delegation, {
      nodeId: V.valid.node_id,
      clock: () => V.valid.now_s,
    });
    expect(res.ok && res.operatorFingerprint).toMatch(/^[0-9a-f]{12}$/);
    expect(res.ok && Buffer.from(res.operatorPublicKey).toString('base64')).toBe(
      V.valid.delegation.operator_pub,
    );
  });

  for (const c of V.negative_cases) {
    it(`${c.name} → ${c.expected}`, () => {
      expect(check(c)).toBe(c.expected);
    });
  }

  it('refuses non-objects and a small-order operator key without throwing', () => {
    expect(check({ ...V.valid, delegation: null as unknown as Record<string, unknown> })).toBe(
      'malformed',
    );
    const identity = Buffer.alloc(32);
    identity[0] = 1;
    expect(
      check({
        ...V.valid,
        delegation: { ...V.valid.delegation, operator_pub: identity.toString('base64') },
      }),
    ).toBe('malformed');
  });
});
