import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ReceiptSignedFields } from '../src/index.ts';
import {
  EMPTY_RESPONSE_HASH,
  challengeResponse,
  computeResponseHash,
  generateReceiptNonce,
  receiptCanonicalMessage,
  signReceipt,
  verifyChallengeResponse,
  verifyReceipt,
} from '../src/index.ts';
import { flipAsciiBit, loadSpecJson } from './spec-vectors.ts';

interface ReceiptVector {
  name: string;
  hmac_key_utf8: string;
  result: unknown;
  canonical_result_json: string;
  response_hash: string;
  fields: Omit<ReceiptSignedFields, 'response_hash'>;
  canonical_message: string;
  signature_hmac_sha256: string;
}

const CIP = loadSpecJson<{ canonical_receipt_vectors: ReceiptVector[] }>(
  'research/aiospf/fixtures/cip-conformance-v0.json',
);

describe('CIP worker receipt: published vectors (cip-conformance-v0.json)', () => {
  it('has at least one receipt vector', () => {
    expect(CIP.canonical_receipt_vectors.length).toBeGreaterThanOrEqual(1);
  });

  for (const v of CIP.canonical_receipt_vectors) {
    describe(v.name, () => {
      const receipt = {
        ...v.fields,
        response_hash: v.response_hash,
        signature: v.signature_hmac_sha256,
      };

      it('response_hash of the result', () => {
        expect(computeResponseHash(v.result)).toBe(v.response_hash);
      });

      it('canonical message and HMAC signature', () => {
        expect(receiptCanonicalMessage(receipt)).toBe(v.canonical_message);
        expect(signReceipt(receipt, v.hmac_key_utf8)).toBe(v.signature_hmac_sha256);
      });

      it('verifies, with and without the coordinator result check', () => {
        expect(verifyReceipt(receipt, { nodeHmacKey: v.hmac_key_utf8 })).toEqual({ ok: true });
        expect(verifyReceipt(receipt, { nodeHmacKey: v.hmac_key_utf8, result: v.result })).toEqual({
          ok: true,
        });
        expect(
          verifyReceipt(receipt, { nodeHmacKey: v.hmac_key_utf8, result: { answer: 'no' } }),
        ).toEqual({
          ok: false,
          reason: 'response_hash_mismatch',
        });
      });

      it('fails with the wrong key, a missing key, a bad hash or a dropped querying_node_id', () => {
        expect(verifyReceipt(receipt, { nodeHmacKey: 'other-key' })).toEqual({
          ok: false,
          reason: 'bad_signature',
        });
        expect(verifyReceipt(receipt, { nodeHmacKey: undefined })).toEqual({
          ok: false,
          reason: 'hmac_key_missing',
        });
        expect(
          verifyReceipt({ ...receipt, response_hash: 'abc' }, { nodeHmacKey: v.hmac_key_utf8 }),
        ).toEqual({
          ok: false,
          reason: 'missing_response_hash',
        });
        expect(
          verifyReceipt(
            { ...receipt, response_hash: v.response_hash.toUpperCase() },
            { nodeHmacKey: v.hmac_key_utf8 },
          ),
        ).toEqual({ ok: false, reason: 'missing_response_hash' });
        expect(
          verifyReceipt(
            { ...receipt, querying_node_id: undefined },
            { nodeHmacKey: v.hmac_key_utf8 },
          ),
        ).toEqual({
          ok: false,
          reason: 'bad_signature',
        });
      });

      it('property: any single-bit change of a field or the signature fails verification', () => {
        const stringFields = [
          'task_id',
          'cip_parent_task_id',
          'cip_session_key',
          'nonce',
          'response_hash',
          'querying_node_id',
          'signature',
        ] as const;
        fc.assert(
          fc.property(
            fc.constantFrom(...stringFields),
            fc.nat(),
            fc.integer({ min: 0, max: 6 }),
            (field, pos, bit) => {
              const value = receipt[field] as string;
              const mutated = { ...receipt, [field]: flipAsciiBit(value, pos % value.length, bit) };
              expect(verifyReceipt(mutated, { nodeHmacKey: v.hmac_key_utf8 }).ok).toBe(false);
            },
          ),
          { numRuns: 300 },
        );
        fc.assert(
          fc.property(fc.integer({ min: 0, max: 30 }), (bit) => {
            const mutated = { ...receipt, tokens_used: receipt.tokens_used ^ (1 << bit) };
            expect(verifyReceipt(mutated, { nodeHmacKey: v.hmac_key_utf8 }).ok).toBe(false);
          }),
          { numRuns: 31 },
        );
      });
    });
  }
});

describe('receipt canonical message (§10.3)', () => {
  const base = {
    task_id: 't',
    tokens_used: 7,
    nonce: '00112233445566778899aabbccddeeff',
    response_hash: EMPTY_RESPONSE_HASH,
  };

  it('uses "" for an absent parent and session, and six fields without querying_node_id', () => {
    expect(receiptCanonicalMessage(base)).toBe(
      `t:7:::00112233445566778899aabbccddeeff:${EMPTY_RESPONSE_HASH}`,
    );
    expect(receiptCanonicalMessage({ ...base, querying_node_id: '' })).toBe(
      receiptCanonicalMessage(base),
    );
  });

  it('accepts a 1–64 printable ASCII nonce (uuid4 too) and issues 32 hex (decision D-052)', () => {
    const k = 'key';
    const withNonce = (nonce: string) => {
      const r = { ...base, nonce };
      return verifyReceipt({ ...r, signature: signReceipt(r, k) }, { nodeHmacKey: k });
    };
    expect(withNonce('9f1c2d3e-4b5a-4c6d-8e7f-001122334455')).toEqual({ ok: true });
    expect(withNonce('a'.repeat(65))).toEqual({ ok: false, reason: 'malformed' });
    expect(withNonce('')).toEqual({ ok: false, reason: 'malformed' });
    expect(withNonce('caf\u00e9')).toEqual({ ok: false, reason: 'malformed' });
    expect(generateReceiptNonce()).toMatch(/^[0-9a-f]{32}$/);
  });

  it('refuses a non-integer token count', () => {
    expect(() => receiptCanonicalMessage({ ...base, tokens_used: 1.5 })).toThrow(RangeError);
  });

  it('hashes a null or empty result as sha256 of zero bytes', () => {
    for (const empty of [null, undefined, '', [], {}]) {
      expect(computeResponseHash(empty)).toBe(EMPTY_RESPONSE_HASH);
    }
    expect(computeResponseHash(0)).not.toBe(EMPTY_RESPONSE_HASH);
    expect(computeResponseHash('x')).not.toBe(EMPTY_RESPONSE_HASH);
  });

  it('hashes the Python json.dumps form (non-ASCII as \\uXXXX, sorted keys)', () => {
    // sha256 of the exact bytes {"a":"\u00e9","b":1} (Python ensure_ascii output).
    const py = '{"a":"\\u00e9","b":1}';
    expect(computeResponseHash({ b: 1, a: 'é' })).toBe(
      createHash('sha256').update(py).digest('hex'),
    );
  });
});

describe('heartbeat challenge response (iicp-dir.md §3.2)', () => {
  it('is hex HMAC-SHA256 over the challenge text, checked in constant time', () => {
    const r = challengeResponse('k', 'abc');
    expect(r).toMatch(/^[0-9a-f]{64}$/);
    expect(verifyChallengeResponse('k', 'abc', r)).toBe(true);
    expect(verifyChallengeResponse('k', 'abd', r)).toBe(false);
    expect(verifyChallengeResponse('k', 'abc', r.toUpperCase())).toBe(false);
    expect(verifyChallengeResponse('k', 'abc', 'zz')).toBe(false);
  });
});
