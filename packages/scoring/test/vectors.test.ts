import { describe, expect, it } from 'vitest';
import {
  DiscoverIndex,
  ineligibleReason,
  intentRiskDecision,
  rankCandidates,
  scoreBreakdown,
  scoreContext,
} from '../src/index.ts';
import { loadVectorFiles, toNode, toQuery } from './helpers.ts';

const files = loadVectorFiles();

describe('known-answer vectors (spec/vectors/scoring)', () => {
  it('finds the vector files', () => {
    expect(files.map((f) => f.file)).toEqual([
      'availability-windows.json',
      'default-weights.json',
      'eligibility.json',
      'model-weights.json',
    ]);
  });

  for (const { file, doc } of files) {
    describe(file, () => {
      for (const c of doc.cases) {
        const nodes = c.nodes.map(toNode);
        const query = toQuery(c.query);

        it(`${c.name}: reference ranking gives the expected order and scores`, () => {
          const got = rankCandidates(nodes, query);
          expect(got.map((r) => r.nodeId)).toEqual(c.expected.map((e) => e.node_id));
          got.forEach((r, i) =>
            expect(Math.abs(r.score - c.expected[i]!.score)).toBeLessThanOrEqual(doc.tolerance),
          );
        });

        it(`${c.name}: the index gives the same answer`, () => {
          const index = new DiscoverIndex();
          for (const n of nodes) index.upsert(n);
          const got = index.query(query);
          expect(got.map((r) => r.nodeId)).toEqual(c.expected.map((e) => e.node_id));
          got.forEach((r, i) =>
            expect(Math.abs(r.score - c.expected[i]!.score)).toBeLessThanOrEqual(doc.tolerance),
          );
        });

        it(`${c.name}: every term and every exclusion reason`, () => {
          const ctx = scoreContext(nodes, query.intent);
          for (const e of c.expected) {
            const b = scoreBreakdown(
              nodes.find((n) => n.nodeId === e.node_id)!,
              query,
              ctx,
            );
            for (const [term, value] of Object.entries(e.terms)) {
              const got =
                b[
                  term as
                    | 'availability'
                    | 'load'
                    | 'capacity'
                    | 'region'
                    | 'reputation'
                    | 'model'
                    | 'price'
                ];
              expect(Math.abs(got - value), `${e.node_id}.${term}`).toBeLessThanOrEqual(
                doc.tolerance,
              );
            }
          }
          const refused = intentRiskDecision(query.intent).action === 'refuse';
          for (const [nodeId, reason] of Object.entries(c.excluded)) {
            const node = nodes.find((n) => n.nodeId === nodeId)!;
            if (reason === 'intent_refused') expect(refused).toBe(true);
            else if (reason === 'below_min_score')
              expect(ineligibleReason(node, query)).toBeUndefined();
            else expect(ineligibleReason(node, query), nodeId).toBe(reason);
          }
        });
      }
    });
  }
});
