import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RECONNECT_BACKOFF, reconnectDelayMs } from '../src/relay/backoff.ts';
import { electRelay, rankRelays } from '../src/relay/election.ts';
import { RELAY_MIN_REPUTATION, type RelayCandidate } from '../src/relay/wire.ts';

const candidate = fc.record({
  node_id: fc.constantFrom('r1', 'r2', 'r3', 'r4', 'self'),
  endpoint: fc.constantFrom(
    'http://127.0.0.1:9001',
    'http://127.0.0.1:9002',
    'https://relay.example.net',
    'http://127.0.0.1:9484',
  ),
  load: fc.option(fc.constantFrom(0, 0.25, 0.5, 1), { nil: undefined }),
  reputation_score: fc.option(fc.constantFrom(0, 0.05, 0.1, 0.5, 0.9), { nil: undefined }),
  relay_capable: fc.option(fc.boolean(), { nil: undefined }),
}) as fc.Arbitrary<RelayCandidate>;
const opts = { selfNodeId: 'self', selfEndpoints: ['http://127.0.0.1:9484'] };

describe('relay election (iicp-dir.md §7.6)', () => {
  it('never elects the node itself, a non-relay, or a relay under the reputation floor', () => {
    fc.assert(
      fc.property(fc.array(candidate, { maxLength: 8 }), (list) => {
        const chosen = electRelay(list, opts);
        if (!chosen) return;
        expect(chosen.node_id).not.toBe('self');
        expect(chosen.endpoint).not.toBe('http://127.0.0.1:9484');
        expect(chosen.relay_capable).not.toBe(false);
        expect(chosen.reputation_score ?? 0.5).toBeGreaterThanOrEqual(RELAY_MIN_REPUTATION);
      }),
      { numRuns: 300 },
    );
  });

  it('elects the lowest load, and the same relay whatever the order of the list', () => {
    fc.assert(
      fc.property(
        fc
          .array(candidate, { maxLength: 8 })
          .chain((l) => fc.tuple(fc.constant(l), fc.shuffledSubarray(l, { minLength: l.length }))),
        ([list, shuffled]) => {
          const chosen = electRelay(list, opts);
          expect(electRelay(shuffled, opts)).toEqual(chosen);
          for (const c of rankRelays(list, opts))
            expect(chosen!.load ?? 1).toBeLessThanOrEqual(c.load ?? 1);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('skips excluded relays and breaks ties by reputation, then node id', () => {
    const list: RelayCandidate[] = [
      { node_id: 'b', endpoint: 'http://b.example', load: 0.2, reputation_score: 0.5 },
      { node_id: 'a', endpoint: 'http://a.example', load: 0.2, reputation_score: 0.5 },
      { node_id: 'c', endpoint: 'http://c.example', load: 0.2, reputation_score: 0.9 },
      { node_id: 'd', endpoint: 'http://d.example/', load: 0.1, reputation_score: 0.05 },
    ];
    expect(rankRelays(list).map((c) => c.node_id)).toEqual(['c', 'a', 'b']);
    expect(electRelay(list, { exclude: new Set(['http://c.example']) })?.node_id).toBe('a');
    expect(electRelay(list, { minReputation: 0 })?.node_id).toBe('d');
  });
});

describe('reconnect backoff', () => {
  it('never exceeds the cap, never drops below (1 − jitter) of the nominal delay', () => {
    fc.assert(
      fc.property(fc.integer({ min: -5, max: 5000 }), fc.double({ min: 0, max: 1 }), (n, r) => {
        const { baseMs, capMs, jitter } = DEFAULT_RECONNECT_BACKOFF;
        const nominal = Math.min(capMs, baseMs * 2 ** (Math.max(1, n) - 1));
        const d = reconnectDelayMs(n, r);
        expect(d).toBeLessThanOrEqual(capMs);
        expect(d).toBeLessThanOrEqual(nominal);
        expect(d).toBeGreaterThanOrEqual(nominal * (1 - jitter) - 1e-9);
      }),
      { numRuns: 400 },
    );
  });

  it('doubles from the base until the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 100].map((n) => reconnectDelayMs(n, 0))).toEqual([
      500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000,
    ]);
  });
});
