import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DiscoverIndex,
  rankCandidates,
  scoreBreakdown,
  scoreContext,
  type DiscoverQueryInput,
  type ScoringNode,
} from '../src/index.ts';

const INTENTS = ['urn:iicp:intent:llm:chat:v1', 'urn:iicp:intent:llm:embed:v1'];
const REGIONS = ['eu-central', 'us-west', 'ap-south'];
const MODELS = ['m1', 'm2', 'm3'];
const NOW = Date.UTC(2026, 0, 15, 3, 30);
const hhmm = fc
  .tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }))
  .map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`);

const unit = fc.double({ min: 0, max: 1, noNaN: true });
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
/** Mostly a few round values, so that ties (and the node_id tie-break) happen often. */
const coarse = (values: number[], wide: fc.Arbitrary<number>) =>
  fc.oneof({ arbitrary: fc.constantFrom(...values), weight: 3 }, { arbitrary: wide, weight: 1 });

const nodeArb = (id: string): fc.Arbitrary<ScoringNode> =>
  fc.record({
    nodeId: fc.constant(id),
    region: fc.constantFrom(...REGIONS),
    capabilities: fc.uniqueArray(
      fc.record({
        intent: fc.constantFrom(...INTENTS),
        models: opt(fc.subarray(MODELS)),
        inputModalities: opt(fc.subarray(['text', 'image', 'audio'])),
      }),
      { minLength: 1, maxLength: 2, selector: (c) => c.intent },
    ),
    maxConcurrent: coarse([4, 8, 16], fc.integer({ min: 1, max: 256 })),
    available: fc.oneof(
      { arbitrary: fc.constant(true), weight: 4 },
      { arbitrary: fc.constant(false), weight: 1 },
    ),
    lastSeenMs: fc.integer({ min: NOW - 120_000, max: NOW }),
    load: opt(coarse([0, 0.25, 0.5, 1], fc.double({ min: -0.5, max: 1.5, noNaN: true }))),
    activeJobs: opt(fc.integer({ min: 0, max: 300 })),
    reputation: opt(coarse([0.5, 0.8, 1], unit)),
    completedTasks: opt(fc.integer({ min: 0, max: 5000 })),
    availability: fc.oneof(
      { arbitrary: fc.constant(undefined), weight: 2 },
      {
        arbitrary: fc.array(fc.record({ start: hhmm, end: hhmm, share: unit }), { maxLength: 3 }),
        weight: 1,
      },
    ),
    creditCostMultiplier: opt(coarse([0.5, 1, 2], fc.double({ min: 0, max: 4, noNaN: true }))),
    allowRemoteInference: opt(fc.boolean()),
  });

const nodesArb = fc
  .integer({ min: 0, max: 40 })
  .chain((n) =>
    fc.tuple(...Array.from({ length: n }, (_, i) => nodeArb(`node-${String(i).padStart(3, '0')}`))),
  );

const queryArb: fc.Arbitrary<DiscoverQueryInput> = fc.record({
  intent: fc.constantFrom(...INTENTS),
  now: fc.integer({ min: NOW - 86_400_000, max: NOW }),
  qos: opt(
    fc.constantFrom('realtime', 'interactive', 'batch', 'best-effort') as fc.Arbitrary<
      DiscoverQueryInput['qos']
    >,
  ),
  region: opt(fc.constantFrom(...REGIONS, 'nowhere')),
  model: opt(fc.constantFrom(...MODELS, 'unknown-model')),
  limit: opt(fc.integer({ min: 1, max: 60 })),
  minReputation: opt(unit),
  minScore: opt(unit),
  maxMultiplier: opt(fc.double({ min: 0, max: 4, noNaN: true })),
  modality: opt(fc.constantFrom('text', 'image')),
  cipCapable: opt(fc.boolean()),
});

const RUNS = { numRuns: 300 };

describe('score properties', () => {
  it('every score and every term lies in [0, 1]', () => {
    fc.assert(
      fc.property(nodesArb, queryArb, (nodes, q) => {
        const ctx = scoreContext(nodes, q.intent);
        for (const n of nodes) {
          if (!n.capabilities.some((c) => c.intent === q.intent)) continue;
          const b = scoreBreakdown(n, q, ctx);
          for (const v of [
            b.score,
            b.availability,
            b.load,
            b.capacity,
            b.region,
            b.reputation,
            b.model,
            b.price,
          ]) {
            expect(v).toBeGreaterThanOrEqual(0);
            expect(v).toBeLessThanOrEqual(1);
          }
        }
      }),
      RUNS,
    );
  });

  it('is monotone non-increasing in load and non-decreasing in reputation', () => {
    fc.assert(
      fc.property(nodeArb('x'), queryArb, unit, unit, (node, q0, a, b) => {
        const q = { ...q0, intent: node.capabilities[0]!.intent };
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        const ctx = scoreContext([node], q.intent);
        const at = (patch: Partial<ScoringNode>) =>
          scoreBreakdown({ ...node, ...patch }, q, ctx).score;
        expect(at({ load: hi })).toBeLessThanOrEqual(at({ load: lo }));
        expect(at({ reputation: hi })).toBeGreaterThanOrEqual(at({ reputation: lo }));
      }),
      RUNS,
    );
  });

  it('a region match never lowers a score and a region never excludes a node', () => {
    fc.assert(
      fc.property(nodesArb, queryArb, (nodes, q0) => {
        const q = { ...q0, limit: 50, minScore: undefined };
        const without = rankCandidates(nodes, { ...q, region: undefined });
        const withRegion = rankCandidates(nodes, q);
        // Every node returned without a region is still returned with one (a match can only
        // lift a node over the score floor, never drop one).
        if (without.length < 50 && withRegion.length < 50) {
          const got = new Set(withRegion.map((r) => r.nodeId));
          for (const r of without) expect(got.has(r.nodeId)).toBe(true);
        }
        const base = new Map(without.map((r) => [r.nodeId, r.score]));
        for (const r of withRegion) {
          const s = base.get(r.nodeId);
          if (s !== undefined) expect(r.score).toBeGreaterThanOrEqual(s);
        }
      }),
      RUNS,
    );
  });

  it('results are sorted by score desc then node_id asc, all at or above the floor, within the limit', () => {
    fc.assert(
      fc.property(nodesArb, queryArb, (nodes, q) => {
        const out = rankCandidates(nodes, q);
        expect(out.length).toBeLessThanOrEqual(Math.min(50, q.limit ?? 10));
        for (let i = 0; i < out.length; i++) {
          expect(out[i]!.score).toBeGreaterThanOrEqual(Math.max(0.1, q.minScore ?? 0));
          if (i > 0) {
            const a = out[i - 1]!;
            const b = out[i]!;
            expect(a.score > b.score || (a.score === b.score && a.nodeId < b.nodeId)).toBe(true);
          }
        }
      }),
      RUNS,
    );
  });
});

describe('DiscoverIndex equals the brute-force ranking', () => {
  it('after bulk upserts', () => {
    fc.assert(
      fc.property(nodesArb, queryArb, (nodes, q) => {
        const index = new DiscoverIndex();
        for (const n of nodes) index.upsert(n);
        expect(index.query(q)).toEqual(rankCandidates(nodes, q));
      }),
      RUNS,
    );
  });

  type Op =
    | { op: 'upsert'; node: ScoringNode }
    | { op: 'remove'; id: string }
    | {
        op: 'heartbeat';
        id: string;
        load: number;
        reputation: number;
        available: boolean;
        completed: number;
      };

  it('after any sequence of upserts, heartbeats and removals', () => {
    const ids = Array.from({ length: 12 }, (_, i) => `n-${i}`);
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      fc
        .constantFrom(...ids)
        .chain((id) => nodeArb(id).map((node) => ({ op: 'upsert' as const, node }))),
      fc.constantFrom(...ids).map((id) => ({ op: 'remove' as const, id })),
      fc.record({
        op: fc.constant('heartbeat' as const),
        id: fc.constantFrom(...ids),
        load: unit,
        reputation: unit,
        available: fc.boolean(),
        completed: fc.integer({ min: 0, max: 2000 }),
      }),
    );
    fc.assert(
      fc.property(
        fc.array(opArb, { maxLength: 60 }),
        fc.array(queryArb, { minLength: 1, maxLength: 3 }),
        (ops, qs) => {
          const index = new DiscoverIndex();
          const model = new Map<string, ScoringNode>();
          for (const o of ops) {
            if (o.op === 'upsert') {
              index.upsert(o.node);
              model.set(o.node.nodeId, o.node);
            } else if (o.op === 'remove') {
              expect(index.remove(o.id)).toBe(model.delete(o.id));
            } else {
              const hb = {
                lastSeenMs: NOW,
                load: o.load,
                reputation: o.reputation,
                available: o.available,
                completedTasks: o.completed,
              };
              const prev = model.get(o.id);
              expect(index.heartbeat(o.id, hb)).toBe(prev !== undefined);
              if (prev) model.set(o.id, { ...prev, ...hb });
            }
          }
          expect(index.size).toBe(model.size);
          for (const q of qs)
            expect(index.query(q)).toEqual(rankCandidates([...model.values()], q));
        },
      ),
      { numRuns: 200 },
    );
  });
});
