import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CircuitBreakers,
  SELECTION_PROFILE_V1,
  filterDirectoryOrder,
  selectWeightedV1,
  weightedV1Weight,
} from '../src/index.ts';
import { specRoot } from './helpers.ts';

interface Fixture {
  profile: string;
  formula: string;
  top_k: number;
  vectors: {
    name: string;
    random: number;
    nodes: { node_id: string; score: number; load: number }[];
    expected_order: string[];
  }[];
  distribution_vectors: {
    name: string;
    sample_count: number;
    top_k: number;
    nodes: { node_id: string; score: number; load: number }[];
    expected_first_counts: Record<string, number>;
  }[];
}

const fixture = JSON.parse(
  readFileSync(
    join(specRoot, 'research/pre-normative-profiles/fixtures/selection-v1.json'),
    'utf8',
  ),
) as Fixture;

describe('filter-only default selection (iicp-semantics.md §3.2)', () => {
  const list = [
    { node_id: 'a', available: true, score: 0.9 },
    { node_id: 'b', available: false, score: 0.8 },
    { node_id: 'c', score: 0.7 },
    { node_id: 'd', available: true, score: 0.95 },
    { node_id: 'a', available: true, score: 0.1 },
  ];

  it('drops unavailable nodes and duplicates, keeps directory order (even when a score is out of order)', () => {
    expect(filterDirectoryOrder(list).map((n) => n.node_id)).toEqual(['a', 'c', 'd']);
  });

  it('skips nodes whose breaker is open, and never touches score', () => {
    let t = 0;
    const breakers = new CircuitBreakers({ now: () => t });
    for (let i = 0; i < 5; i++) breakers.recordFailure('c');
    const out = filterDirectoryOrder(list, { isOpen: breakers.isOpen });
    expect(out.map((n) => n.node_id)).toEqual(['a', 'd']);
    expect(out[1]).toBe(list[3]);
    t = 30_000;
    expect(filterDirectoryOrder(list, { isOpen: breakers.isOpen }).map((n) => n.node_id)).toEqual([
      'a',
      'c',
      'd',
    ]);
  });

  it('is a subsequence of the input for any list and any breaker set', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            node_id: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
            available: fc.option(fc.boolean()),
          }),
        ),
        fc.subarray(['a', 'b', 'c', 'd', 'e']),
        (nodes, open) => {
          const out = filterDirectoryOrder(nodes, { isOpen: (id) => open.includes(id) });
          let j = 0;
          for (const n of out) {
            while (j < nodes.length && nodes[j] !== n) j++;
            expect(j).toBeLessThan(nodes.length);
            j++;
          }
          expect(out.every((n) => n.available !== false && !open.includes(n.node_id))).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('iicp.selection.v1 weighted_v1 (research/pre-normative-profiles/fixtures/selection-v1.json)', () => {
  it('uses the fixture formula', () => {
    expect(fixture.profile).toBe('weighted_v1');
    expect(fixture.formula).toBe('max(score,0.01)/(1+clamp(load,0,1))');
    expect(weightedV1Weight({ node_id: 'x', score: 0.8, load: 0.25 })).toBeCloseTo(0.8 / 1.25, 12);
    expect(weightedV1Weight({ node_id: 'x', score: 0, load: 7 })).toBeCloseTo(0.01 / 2, 12);
  });

  for (const v of fixture.vectors) {
    it(`vector ${v.name}`, () => {
      const { order, receipt } = selectWeightedV1(v.nodes, v.random, fixture.top_k);
      expect(order.map((n) => n.node_id)).toEqual(v.expected_order);
      expect(receipt).toMatchObject({
        profile: SELECTION_PROFILE_V1,
        selected_node_id: v.expected_order[0],
      });
      // The local value is reported separately; the directory score is untouched.
      expect(order[0]!.score).toBe(v.nodes.find((n) => n.node_id === v.expected_order[0])!.score);
    });
  }

  for (const d of fixture.distribution_vectors) {
    it(`distribution ${d.name}: stratified draws give the expected first-choice counts`, () => {
      const counts: Record<string, number> = Object.fromEntries(d.nodes.map((n) => [n.node_id, 0]));
      for (let i = 0; i < d.sample_count; i++) {
        const { order } = selectWeightedV1(d.nodes, (i + 0.5) / d.sample_count, d.top_k);
        counts[order[0]!.node_id]!++;
      }
      expect(counts).toEqual(d.expected_first_counts);
    });
  }

  it('keeps every candidate exactly once and never picks outside the pool', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(
          fc.record({
            node_id: fc.string({ minLength: 1, maxLength: 4 }),
            score: fc.double({ min: 0, max: 1, noNaN: true }),
            load: fc.double({ min: -1, max: 3, noNaN: true }),
          }),
          { selector: (n) => n.node_id, maxLength: 8 },
        ),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        fc.integer({ min: 1, max: 5 }),
        (nodes, r, k) => {
          const { order } = selectWeightedV1(nodes, r, k);
          expect([...order].sort((a, b) => (a.node_id < b.node_id ? -1 : 1))).toEqual(
            [...nodes].sort((a, b) => (a.node_id < b.node_id ? -1 : 1)),
          );
          if (nodes.length > 0) expect(nodes.indexOf(order[0]!)).toBeLessThan(k);
        },
      ),
      { numRuns: 300 },
    );
  });
});
