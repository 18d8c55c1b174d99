import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DirectoryKey, issueDispatchRouteTicket, verifyDispatchRouteTicket } from '../src/index.ts';
import { flipAsciiBit, hexToBytes, loadSpecJson } from './spec-vectors.ts';

interface TicketFixture {
  domain: string;
  public_key_hex: string;
  valid: { token: string; claims: Record<string, unknown> };
  wrong_audience: { token: string; claims: Record<string, unknown> };
  invalid_cases: string[];
  validation_vectors: {
    name: string;
    token: string;
    issuer: string;
    node_id: string;
    intent: string;
    now_s: number;
    expected: 'valid' | 'rejected';
  }[];
}

const FIXTURE = loadSpecJson<TicketFixture>(
  'research/pre-normative-profiles/fixtures/dispatch-route-ticket-v1.json',
);
const PUB = hexToBytes(FIXTURE.public_key_hex);

/** The vector names its tokens: "valid", "valid+0" (append "0"), a fixture key, or a literal. */
function resolveToken(ref: string): string {
  if (ref === 'valid') return FIXTURE.valid.token;
  if (ref === 'valid+0') return `${FIXTURE.valid.token}0`;
  if (ref === 'wrong_audience') return FIXTURE.wrong_audience.token;
  return ref;
}

describe('dispatch route ticket: published vector dispatch-route-ticket-v1.json', () => {
  it('uses the domain this package signs under and holds all 8 cases', () => {
    expect(FIXTURE.domain).toBe('iicp:dispatch-route-ticket:v1\n');
    expect(FIXTURE.validation_vectors).toHaveLength(8);
    expect(FIXTURE.validation_vectors.map((v) => v.name).slice(1)).toEqual(FIXTURE.invalid_cases);
  });

  for (const v of FIXTURE.validation_vectors) {
    it(`${v.name} → ${v.expected}`, () => {
      const res = verifyDispatchRouteTicket(resolveToken(v.token), {
        directoryPublicKey: PUB,
        issuer: v.issuer,
        nodeId: v.node_id,
        intent: v.intent,
        clock: () => v.now_s,
      });
      expect(res.ok).toBe(v.expected === 'valid');
      if (res.ok) expect(res.claims).toEqual(FIXTURE.valid.claims);
    });
  }

  it('names the stable failure reason of each negative case', () => {
    const reasons = Object.fromEntries(
      FIXTURE.validation_vectors.map((v) => {
        const res = verifyDispatchRouteTicket(resolveToken(v.token), {
          directoryPublicKey: PUB,
          issuer: v.issuer,
          nodeId: v.node_id,
          intent: v.intent,
          clock: () => v.now_s,
        });
        return [v.name, res.ok ? 'valid' : res.reason];
      }),
    );
    expect(reasons).toEqual({
      valid: 'valid',
      malformed_token: 'malformed',
      bad_signature: 'malformed', // 129 hex characters: refused before the signature check
      expired: 'expired',
      wrong_issuer: 'wrong_issuer',
      wrong_audience: 'wrong_audience',
      wrong_node: 'wrong_node',
      wrong_intent: 'wrong_intent',
    });
  });

  it('the valid token decodes to the published claims', () => {
    const payload = FIXTURE.valid.token.split('.')[0]!;
    expect(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))).toEqual(
      FIXTURE.valid.claims,
    );
  });
});

describe('dispatch route ticket: issue', () => {
  const key = DirectoryKey.generate();
  const ISS = 'https://dir.example.test';
  const NODE = '33333333-3333-4333-8333-333333333333';
  const CHAT = 'urn:iicp:intent:llm:chat:v1';

  it('issues tickets our verifier and the vector shape agree on', () => {
    const t = issueDispatchRouteTicket({
      signer: key,
      issuer: ISS,
      nodeId: NODE,
      intent: CHAT,
      clock: () => 1000,
    });
    expect(t.ticket).toMatch(/^[A-Za-z0-9_-]+\.[0-9a-f]{128}$/);
    expect(t.claims.jti).toMatch(/^[0-9a-f]{24}$/);
    expect(t.ticketIdPrefix).toBe(t.claims.jti.slice(0, 12));
    expect(Object.keys(t.claims)).toEqual(Object.keys(FIXTURE.valid.claims));
    const ok = verifyDispatchRouteTicket(t.ticket, {
      directoryPublicKey: key.publicKey,
      issuer: ISS,
      nodeId: NODE,
      intent: CHAT,
      clock: () => 1059,
    });
    expect(ok).toEqual({ ok: true, claims: t.claims });
    const late = verifyDispatchRouteTicket(t.ticket, {
      directoryPublicKey: key.publicKey,
      issuer: ISS,
      nodeId: NODE,
      intent: CHAT,
      clock: () => t.expiresAt,
    });
    expect(late).toEqual({ ok: false, reason: 'expired' });
  });

  it('reproduces the published valid token from its claims (signature over the b64 text)', () => {
    // Same claims, same order, and Ed25519 is deterministic: only the key differs, so
    // the payload segment must match byte for byte.
    const t = issueDispatchRouteTicket({
      signer: key,
      issuer: 'https://directory.example.test',
      nodeId: 'node-00000001',
      intent: CHAT,
      jti: '0123456789abcdef01234567',
      clock: () => 1700000000,
      ttlSeconds: 4102444800 - 1700000000,
    });
    expect(t.ticket.split('.')[0]).toBe(FIXTURE.valid.token.split('.')[0]);
  });

  it('accepts only a 24-hex jti (decision D-042), even when correctly signed', () => {
    const claims = {
      v: 1,
      typ: 'dispatch-route-ticket',
      iss: ISS,
      aud: 'iicp.directory.dispatch',
      jti: '0123456789abcdef0123456789abcdef',
      node_id: NODE,
      intent: CHAT,
      iat: 0,
      exp: 100,
    };
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const sig = key.sign(new TextEncoder().encode(`iicp:dispatch-route-ticket:v1\n${payload}`));
    const res = verifyDispatchRouteTicket(`${payload}.${Buffer.from(sig).toString('hex')}`, {
      directoryPublicKey: key.publicKey,
      issuer: ISS,
      nodeId: NODE,
      intent: CHAT,
      clock: () => 1,
    });
    expect(res).toEqual({ ok: false, reason: 'malformed' });
    expect(() =>
      issueDispatchRouteTicket({
        signer: key,
        issuer: ISS,
        nodeId: NODE,
        intent: CHAT,
        jti: claims.jti,
      }),
    ).toThrow(RangeError);
  });

  it('carries policy_manifest_sha256 when given and rejects a malformed one', () => {
    const sha = 'a'.repeat(64);
    const t = issueDispatchRouteTicket({
      signer: key,
      issuer: ISS,
      nodeId: NODE,
      intent: CHAT,
      policyManifestSha256: sha,
      clock: () => 0,
    });
    expect(t.claims.policy_manifest_sha256).toBe(sha);
    expect(() =>
      issueDispatchRouteTicket({
        signer: key,
        issuer: ISS,
        nodeId: NODE,
        intent: CHAT,
        policyManifestSha256: 'xyz',
      }),
    ).toThrow(RangeError);
  });

  it('property: any single-bit change of a signed ticket fails verification', () => {
    const { ticket } = issueDispatchRouteTicket({
      signer: key,
      issuer: ISS,
      nodeId: NODE,
      intent: CHAT,
      clock: () => 0,
      ttlSeconds: 3600,
    });
    fc.assert(
      fc.property(fc.nat({ max: ticket.length - 1 }), fc.integer({ min: 0, max: 6 }), (i, bit) => {
        const res = verifyDispatchRouteTicket(flipAsciiBit(ticket, i, bit), {
          directoryPublicKey: key.publicKey,
          issuer: ISS,
          nodeId: NODE,
          intent: CHAT,
          clock: () => 1,
        });
        expect(res.ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
