import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ChainedEvent } from '../src/index.ts';
import {
  DirectoryKey,
  GENESIS_ROOT,
  GENESIS_ROOT_PREIMAGE,
  appendChainedEvent,
  chainPrevHash,
  eventPayloadHash,
  verifyEventChain,
  verifyFederatedEventChain,
} from '../src/index.ts';
import { flipAsciiBit, loadSpecJson } from './spec-vectors.ts';

interface ChainFixture {
  genesis_root: string;
  trusted_roots: Record<string, string>;
  cases: {
    id: string;
    root_id: string;
    replica_authorization: string;
    events: ChainedEvent[];
    expected: string;
  }[];
}
const FIXTURE = loadSpecJson<ChainFixture>(
  'research/pre-normative-profiles/fixtures/federation-chain-v0.json',
);

describe('event chain: published vector federation-chain-v0.json', () => {
  it('GENESIS_ROOT is sha256 of its preimage and equals the vector', () => {
    expect(createHash('sha256').update(GENESIS_ROOT_PREIMAGE).digest('hex')).toBe(GENESIS_ROOT);
    expect(FIXTURE.genesis_root).toBe(GENESIS_ROOT);
    expect(FIXTURE.cases).toHaveLength(7);
  });

  for (const c of FIXTURE.cases) {
    it(`${c.id} → ${c.expected}`, () => {
      const res = verifyFederatedEventChain(c.events, {
        rootId: c.root_id,
        trustedRoots: FIXTURE.trusted_roots,
        replicaAuthorization: c.replica_authorization,
      });
      expect(res.ok ? 'accept' : `reject_${res.reason}`).toBe(c.expected);
    });
  }

  it('the accepted chain links event 2 to the hash of event 1 signature', () => {
    const [e1, e2] = FIXTURE.cases[0]!.events as [ChainedEvent, ChainedEvent];
    expect(e1.prev_hash).toBe(GENESIS_ROOT);
    expect(chainPrevHash(e1.sig)).toBe(e2.prev_hash);
  });
});

describe('event chain: append and verify', () => {
  const key = DirectoryKey.generate();
  const events: ChainedEvent[] = [];
  let head = null as { seq: number; sig: string } | null;
  for (let i = 1; i <= 5; i++) {
    const e = appendChainedEvent(
      head,
      {
        event_id: `0000000${i}-0000-4000-8000-000000000000`,
        event_type: i % 2 ? 'REGISTER' : 'CREDIT_AWARD',
        seq: i * 10,
        ts_ms: 1_700_000_000_000 + i,
        payload: { node_id: `n-${i}`, amount: i / 4, region: 'eu/west', note: 'é' },
        signer_did: 'did:web:dir.example.test',
      },
      key,
    );
    events.push(e);
    head = { seq: e.seq, sig: e.sig };
  }
  const verify = (list: ChainedEvent[]) => verifyEventChain(list, { publicKey: key.publicKey });

  it('verifies a chain it appended, starting at GENESIS_ROOT', () => {
    expect(events[0]!.prev_hash).toBe(GENESIS_ROOT);
    expect(events[0]!.sig).toMatch(/^[0-9a-f]{128}$/);
    expect(verify(events)).toEqual({ ok: true, head, verified: 5 });
  });

  it('the payload hash is the RFC 8785 form (keys sorted, numbers ES-formatted)', () => {
    const jcs = '{"amount":0.25,"node_id":"n-1","note":"é","region":"eu/west"}';
    expect(eventPayloadHash(events[0]!.payload)).toBe(
      createHash('sha256').update(jcs).digest('hex'),
    );
  });

  it('continues from a verified head (replica resuming after a snapshot)', () => {
    const after = { seq: events[1]!.seq, sig: events[1]!.sig };
    expect(verifyEventChain(events.slice(2), { publicKey: key.publicKey, after }).ok).toBe(true);
    expect(verifyEventChain(events.slice(2), { publicKey: key.publicKey })).toMatchObject({
      ok: false,
      reason: 'chain_link',
      index: 0,
    });
  });

  it('detects deletion, reordering, duplication and a foreign key', () => {
    expect(verify([events[0]!, events[2]!])).toMatchObject({
      ok: false,
      reason: 'chain_link',
      index: 1,
    });
    expect(verify([events[1]!, events[0]!])).toMatchObject({
      ok: false,
      reason: 'chain_link',
      index: 0,
    });
    expect(verify([events[0]!, events[0]!])).toMatchObject({
      ok: false,
      reason: 'sequence',
      index: 1,
    });
    expect(
      verifyEventChain(events, { publicKey: DirectoryKey.generate().publicKey }),
    ).toMatchObject({
      ok: false,
      reason: 'signature',
      index: 0,
    });
  });

  it('handles the legacy null-prev_hash prefix only when allowed', () => {
    const legacy = { ...events[0]!, seq: 1, prev_hash: null };
    expect(verify([legacy, ...events])).toMatchObject({
      ok: false,
      reason: 'chain_link',
      index: 0,
    });
    expect(
      verifyEventChain([legacy, ...events], { publicKey: key.publicKey, allowLegacyPrefix: true }),
    ).toMatchObject({ ok: true, verified: 5 });
    const lateNull = { ...events[4]!, seq: 99, prev_hash: null };
    expect(
      verifyEventChain([...events, lateNull], {
        publicKey: key.publicKey,
        allowLegacyPrefix: true,
      }),
    ).toMatchObject({ ok: false, reason: 'chain_link', index: 5 });
  });

  it('refuses to append out of order or with a colon in an id', () => {
    expect(() =>
      appendChainedEvent(
        head,
        { event_id: 'x', event_type: 'REGISTER', seq: 1, ts_ms: 0, payload: {} },
        key,
      ),
    ).toThrow(RangeError);
    expect(() =>
      appendChainedEvent(
        null,
        { event_id: 'a:b', event_type: 'REGISTER', seq: 1, ts_ms: 0, payload: {} },
        key,
      ),
    ).toThrow(RangeError);
  });

  it('property: any single-bit change of any chained event fails verification', () => {
    const textFields = ['event_id', 'event_type', 'prev_hash', 'sig'] as const;
    fc.assert(
      fc.property(
        fc.nat({ max: events.length - 1 }),
        fc.constantFrom(...textFields, 'seq', 'ts_ms', 'payload'),
        fc.nat(),
        fc.integer({ min: 0, max: 6 }),
        (idx, field, pos, bit) => {
          const e = events[idx]!;
          let mutated: ChainedEvent;
          if (field === 'seq' || field === 'ts_ms') {
            mutated = { ...e, [field]: e[field] ^ (1 << bit) };
          } else if (field === 'payload') {
            const p = e.payload as Record<string, unknown>;
            mutated = {
              ...e,
              payload: { ...p, region: flipAsciiBit(p.region as string, pos % 7, bit) },
            };
          } else {
            const v = e[field] as string;
            mutated = { ...e, [field]: flipAsciiBit(v, pos % v.length, bit) };
          }
          const list = events.map((x, i) => (i === idx ? mutated : x));
          expect(verify(list).ok).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });
});
