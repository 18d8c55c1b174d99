import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DiscoverIndex,
  rankCandidates,
  type DiscoverQueryInput,
  type ScoringNode,
} from '../src/index.ts';

/*
 * Block pruning in DiscoverIndex.query must never change a result: with tiny blocks, so
 * that a few dozen nodes span many blocks, every query after any interleaving of
 * upserts, heartbeats, removals and earlier queries (which rebuild the bounds) equals
 * the brute-force ranking.
 */
const INTENT = 'urn:iicp:intent:llm:chat:v1';
const OTHER = 'urn:iicp:intent:llm:embed:v1';
const REGIONS = ['eu-central', 'us-west', 'ap-south', 'global'];
// More than 32 models, so the "rare model" path (ids ≥ 32, outside the masks) runs too.
const MODELS = Array.from({ length: 36 }, (_, i) => `m${i}`);
const NOW = Date.UTC(2026, 0, 15, 3, 30);
const hhmm = fc
  .tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }))
  .map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`);
const unit = fc.double({ min: 0, max: 1, noNaN: true });
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
/** Mostly round values, so that ties (and the node_id tie-break) are frequent. */
const coarse = (values: number[], wide: fc.Arbitrary<number>) =>
  fc.oneof({ arbitrary: fc.constantFrom(...values), weight: 3 }, { arbitrary: wide, weight: 1 });
const modelList = fc.oneof(
  fc.subarray(MODELS.slice(0, 3)),
  fc.subarray(MODELS.slice(30), { minLength: 1 }),
);

const nodeArb = (id: string): fc.Arbitrary<ScoringNode> =>
  fc.record({
    nodeId: fc.constant(id),
    region: fc.constantFrom(...REGIONS),
    capabilities: fc.oneof(
      { arbitrary: fc.constant([{ intent: INTENT }]), weight: 1 },
      {
        arbitrary: fc
          .tuple(opt(modelList), opt(fc.subarray(['text', 'image'])), fc.boolean())
          .map(([models, inputModalities, both]) => [
            { intent: INTENT, models, inputModalities },
            ...(both ? [{ intent: OTHER }] : []),
          ]),
        weight: 4,
      },
    ),
    maxConcurrent: coarse([4, 8, 16], fc.integer({ min: 1, max: 256 })),
    available: fc.oneof(
      { arbitrary: fc.constant(true), weight: 5 },
      { arbitrary: fc.constant(false), weight: 1 },
    ),
    lastSeenMs: fc.integer({ min: NOW - 120_000, max: NOW }),
    load: opt(coarse([0, 0.25, 0.5, 1], unit)),
    activeJobs: opt(fc.integer({ min: 0, max: 300 })),
    reputation: opt(coarse([0.5, 0.8, 1], unit)),
    completedTasks: opt(fc.integer({ min: 0, max: 5000 })),
    availability: fc.oneof(
      { arbitrary: fc.constant(undefined), weight: 3 },
      {
        arbitrary: fc.array(fc.record({ start: hhmm, end: hhmm, share: unit }), { maxLength: 2 }),
        weight: 1,
      },
    ),
    creditCostMultiplier: opt(coarse([0.5, 1, 2], fc.double({ min: 0, max: 4, noNaN: true }))),
    allowRemoteInference: opt(fc.boolean()),
  });

const queryArb: fc.Arbitrary<DiscoverQueryInput> = fc.record({
  intent: fc.constant(INTENT),
  now: fc.integer({ min: NOW - 86_400_000, max: NOW }),
  qos: opt(fc.constantFrom('realtime', 'interactive', 'batch') as fc.Arbitrary<'batch'>),
  region: opt(fc.constantFrom(...REGIONS, 'nowhere')),
  model: opt(fc.constantFrom(MODELS[0]!, MODELS[2]!, MODELS[33]!, 'unknown-model')),
  limit: opt(fc.integer({ min: 1, max: 12 })),
  minReputation: opt(unit),
  minScore: opt(coarse([0.5, 0.7], unit)),
  maxMultiplier: opt(fc.double({ min: 0, max: 4, noNaN: true })),
  modality: opt(fc.constantFrom('text', 'image')),
  cipCapable: opt(fc.boolean()),
});

type Op =
  | { op: 'upsert'; node: ScoringNode }
  | { op: 'remove'; id: string }
  | { op: 'heartbeat'; id: string; load: number; reputation: number; available: boolean }
  | { op: 'query'; q: DiscoverQueryInput };

const ids = Array.from({ length: 48 }, (_, i) => `node-${String(i).padStart(2, '0')}`);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc
      .constantFrom(...ids)
      .chain((id) => nodeArb(id).map((node) => ({ op: 'upsert' as const, node }))),
    weight: 6,
  },
  { arbitrary: fc.constantFrom(...ids).map((id) => ({ op: 'remove' as const, id })), weight: 1 },
  {
    arbitrary: fc.record({
      op: fc.constant('heartbeat' as const),
      id: fc.constantFrom(...ids),
      load: coarse([0, 1], unit),
      reputation: coarse([0.3, 1], unit),
      available: fc.boolean(),
    }),
    weight: 3,
  },
  { arbitrary: queryArb.map((q) => ({ op: 'query' as const, q })), weight: 1 },
);

describe('DiscoverIndex block pruning', () => {
  it('never changes a result, whatever the writes between rebuilds', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2, 4),
        fc.array(opArb, { minLength: 20, maxLength: 150 }),
        fc.array(queryArb, { minLength: 1, maxLength: 3 }),
        (blockSize, ops, finalQueries) => {
          const index = new DiscoverIndex({ blockSize });
          const model = new Map<string, ScoringNode>();
          const check = (q: DiscoverQueryInput): void =>
            expect(index.query(q)).toEqual(rankCandidates([...model.values()], q));
          for (const o of ops) {
            if (o.op === 'upsert') {
              index.upsert(o.node);
              model.set(o.node.nodeId, o.node);
            } else if (o.op === 'remove') {
              index.remove(o.id);
              model.delete(o.id);
            } else if (o.op === 'heartbeat') {
              const hb = {
                lastSeenMs: NOW,
                load: o.load,
                reputation: o.reputation,
                available: o.available,
              };
              const prev = model.get(o.id);
              index.heartbeat(o.id, hb);
              if (prev) model.set(o.id, { ...prev, ...hb });
            } else {
              check(o.q);
            }
          }
          for (const q of finalQueries) check(q);
        },
      ),
      { numRuns: 250 },
    );
  });

  it('returns the same top list as a full pass on a large seeded population', () => {
    let seed = 7;
    const rand = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const nodes: ScoringNode[] = Array.from({ length: 3000 }, (_, i) => ({
      nodeId: `n-${String(i).padStart(5, '0')}`,
      region: REGIONS[i % REGIONS.length]!,
      capabilities: [{ intent: INTENT, models: [MODELS[i % 4]!] }],
      maxConcurrent: 1 + Math.floor(rand() * 16),
      available: rand() > 0.05,
      lastSeenMs: NOW - Math.floor(rand() * 100_000),
      load: Math.round(rand() * 10) / 10,
      reputation: Math.round(rand() * 100) / 100,
      completedTasks: Math.floor(rand() * 2000),
      availability: null,
      creditCostMultiplier: 0.5 + Math.round(rand() * 10) / 10,
      allowRemoteInference: false,
    }));
    const index = new DiscoverIndex();
    for (const n of nodes) index.upsert(n);
    const queries: DiscoverQueryInput[] = [
      { intent: INTENT, now: NOW, limit: 10 },
      { intent: INTENT, now: NOW, limit: 50, region: 'us-west' },
      { intent: INTENT, now: NOW, limit: 10, model: MODELS[1]!, region: 'global' },
      { intent: INTENT, now: NOW, limit: 5, qos: 'realtime' },
      { intent: INTENT, now: NOW, limit: 10, minScore: 0.8 },
    ];
    for (const q of queries) expect(index.query(q)).toEqual(rankCandidates(nodes, q));
    // Heartbeats that lift nodes from the back blocks to the top, then the same check.
    for (let i = 0; i < nodes.length; i += 97) {
      const hb = { lastSeenMs: NOW, load: 0, reputation: 1, available: true };
      index.heartbeat(nodes[i]!.nodeId, hb);
      nodes[i] = { ...nodes[i]!, ...hb };
    }
    for (const q of queries) expect(index.query(q)).toEqual(rankCandidates(nodes, q));
  });

  it('rejects a block size that is not a power of two', () => {
    expect(() => new DiscoverIndex({ blockSize: 48 })).toThrow(RangeError);
    expect(() => new DiscoverIndex({ blockSize: 0 })).toThrow(RangeError);
  });
});
