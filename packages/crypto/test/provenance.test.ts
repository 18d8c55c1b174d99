import { describe, expect, it } from 'vitest';
import type { DeploymentRecord } from '../src/index.ts';
import {
  DirectoryKey,
  deploymentRecordSigningInput,
  signDeploymentRecord,
  verifyDeploymentRecord,
} from '../src/index.ts';
import { loadSpecJson } from './spec-vectors.ts';

interface ProvenanceFixture {
  public_key_b64url: string;
  canonical_unsigned_json: string;
  signing_input_hex: string;
  valid_record: DeploymentRecord;
  negative_cases: {
    name: string;
    mutation?: string;
    value?: string;
    verification_time?: string;
    max_age_seconds?: number;
    expected: string;
  }[];
}
const F = loadSpecJson<ProvenanceFixture>('fixtures/iicp-deployment-record-v1.json');
const KEY_ID = F.valid_record.root_key_id;
const keys = { [KEY_ID]: new Uint8Array(Buffer.from(F.public_key_b64url, 'base64url')) };
/** The vector's record is dated 2026-07-29; verify it one hour later unless a case says otherwise. */
const RECENT = Date.parse('2026-07-29T17:54:13Z') / 1000;

function mutate(record: DeploymentRecord, path: string, value: string | undefined): unknown {
  const copy = structuredClone(record) as unknown as Record<string, Record<string, unknown>>;
  const [a, b] = path.split('.') as [string, string];
  const current = copy[a]![b] as string;
  // "tampered" without a value: change the last character.
  copy[a]![b] = value ?? `${current.slice(0, -1)}${current.endsWith('b') ? 'c' : 'b'}`;
  return copy;
}

describe('deployment provenance: published vector iicp-deployment-record-v1.json', () => {
  it('signing input is prefix || 0x00 || RFC 8785 JSON of the record without signature', () => {
    const input = deploymentRecordSigningInput(F.valid_record);
    expect(Buffer.from(input).toString('hex')).toBe(F.signing_input_hex);
    expect(Buffer.from(input).subarray(26).toString('utf8')).toBe(F.canonical_unsigned_json);
  });

  it('valid record verifies', () => {
    const res = verifyDeploymentRecord(F.valid_record, {
      keys,
      maxAgeSeconds: 604800,
      clock: () => RECENT,
    });
    expect(res).toEqual({ ok: true, record: F.valid_record });
  });

  it('has the four published negative cases', () => {
    expect(F.negative_cases.map((c) => c.expected)).toEqual([
      'invalid_signature',
      'stale',
      'wrong_purpose',
      'unknown_key',
    ]);
  });

  for (const c of F.negative_cases) {
    it(`${c.name} → ${c.expected}`, () => {
      const record = c.mutation ? mutate(F.valid_record, c.mutation, c.value) : F.valid_record;
      const now = c.verification_time ? Date.parse(c.verification_time) / 1000 : RECENT;
      const res = verifyDeploymentRecord(record, {
        keys,
        maxAgeSeconds: c.max_age_seconds ?? 604800,
        clock: () => now,
      });
      expect(res.ok ? 'valid' : res.reason).toBe(c.expected);
    });
  }

  it('the stale boundary is exclusive: exactly max_age old is still fresh', () => {
    const at = Date.parse('2026-08-05T16:54:13Z') / 1000;
    expect(
      verifyDeploymentRecord(F.valid_record, { keys, maxAgeSeconds: 604800, clock: () => at }).ok,
    ).toBe(true);
  });

  it('refuses malformed records (closed schema)', () => {
    const bad: unknown[] = [
      null,
      { ...F.valid_record, extra: 1 },
      { ...F.valid_record, schema: 'iicp.deployment-record.v2' },
      { ...F.valid_record, deployed_at: 'yesterday' },
      { ...F.valid_record, artifact: { ...F.valid_record.artifact, image_digest: 'sha256:xyz' } },
      { ...F.valid_record, signature: { ...F.valid_record.signature, value: 'short' } },
      { ...F.valid_record, signature: { ...F.valid_record.signature, algorithm: 'RS256' } },
    ];
    for (const r of bad) {
      const res = verifyDeploymentRecord(r, { keys, clock: () => RECENT });
      expect(res.ok ? 'valid' : res.reason).toBe('malformed');
    }
  });

  it('a key id that is known but differs from root_key_id is refused', () => {
    const other = { ...keys, 'did:web:iicp.network#key-2': keys[KEY_ID]! };
    const r = {
      ...F.valid_record,
      signature: { ...F.valid_record.signature, key_id: 'did:web:iicp.network#key-2' },
    };
    const res = verifyDeploymentRecord(r, { keys: other, clock: () => RECENT });
    expect(res.ok ? 'valid' : res.reason).toBe('key_id_mismatch');
  });
});

describe('deployment provenance: sign', () => {
  it('signs a record that verifies, and a signature made for another purpose does not', () => {
    const key = DirectoryKey.generate();
    const { signature: _ignored, ...unsigned } = F.valid_record;
    const signed = signDeploymentRecord(unsigned, key);
    expect(signed.signature.key_id).toBe(KEY_ID);
    expect(signed.signature.value).toMatch(/^[A-Za-z0-9_-]{86}$/);
    const mine = { [KEY_ID]: key.publicKey };
    expect(verifyDeploymentRecord(signed, { keys: mine }).ok).toBe(true);
    expect(verifyDeploymentRecord(F.valid_record, { keys: mine, clock: () => RECENT })).toEqual({
      ok: false,
      reason: 'invalid_signature',
    });
  });
});
