import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DirectoryKey,
  issueConsumerToken,
  issueRelayBindTicket,
  verifyRelayBindTicket,
} from '../src/index.ts';
import { flipAsciiBit } from './spec-vectors.ts';

const key = DirectoryKey.generate();
const NODE = '66666666-6666-4666-8666-666666666666';

describe('relay bind ticket (iicp-dir.md §7.4, project format)', () => {
  const { ticket, claims } = issueRelayBindTicket({
    signer: key,
    issuer: 'https://dir.example.test',
    nodeId: NODE,
    clock: () => 5000,
  });
  const verify = (t: string, now = 5001, workerId = NODE) =>
    verifyRelayBindTicket(t, { directoryPublicKey: key.publicKey, workerId, clock: () => now });

  it('carries a 128-bit jti, the relay audience and a 120 s TTL', () => {
    expect(claims.jti).toMatch(/^[0-9a-f]{32}$/);
    expect(claims.aud).toBe('iicp.relay.bind');
    expect(claims.exp - claims.iat).toBe(120);
    expect(verify(ticket)).toEqual({ ok: true, claims });
  });

  it('refuses another worker, an expired ticket and a foreign issuer when pinned', () => {
    expect(verify(ticket, 5001, 'other')).toEqual({ ok: false, reason: 'wrong_node' });
    expect(verify(ticket, 5120)).toEqual({ ok: false, reason: 'expired' });
    expect(
      verifyRelayBindTicket(ticket, {
        directoryPublicKey: key.publicKey,
        workerId: NODE,
        issuer: 'https://evil.example',
        clock: () => 5001,
      }),
    ).toEqual({ ok: false, reason: 'wrong_issuer' });
  });

  it('does not accept a consumer token in its place (domain separation)', () => {
    const ct = issueConsumerToken({
      signer: key,
      issuer: 'x',
      callerNodeId: NODE,
      targetNodeId: NODE,
      intent: '*',
      clock: () => 5000,
    });
    expect(verify(ct.token)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('property: any single-bit change fails verification', () => {
    fc.assert(
      fc.property(fc.nat({ max: ticket.length - 1 }), fc.integer({ min: 0, max: 6 }), (i, bit) => {
        expect(verify(flipAsciiBit(ticket, i, bit)).ok).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});
