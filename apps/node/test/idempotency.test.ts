import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TASK_ID_WINDOW_MS, TaskIdWindow } from '../src/idempotency.ts';
import { ReferenceTaskIdWindow } from './support/reference-task-id-window.ts';

type Op = { kind: 'has' | 'add'; id: number } | { kind: 'tick'; ms: number };

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('add' as const), id: fc.nat(40) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('has' as const), id: fc.nat(40) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('tick' as const),
      ms: fc.oneof(
        fc.nat(1_000),
        fc.integer({ min: TASK_ID_WINDOW_MS - 2, max: TASK_ID_WINDOW_MS + 2 }),
        fc.nat(3 * TASK_ID_WINDOW_MS),
      ),
    }),
  },
);

describe('TaskIdWindow', () => {
  it('answers as the Map-walking reference: expiry, the size bound, re-adds (fixed seed)', () => {
    fc.assert(
      fc.property(
        fc.array(arbOp, { maxLength: 400 }),
        fc.option(fc.nat(30), { nil: undefined }),
        fc.option(fc.nat(3 * TASK_ID_WINDOW_MS), { nil: undefined }),
        (ops, maxEntries, windowMs) => {
          let now = 1_700_000_000_000;
          const opts = {
            now: () => now,
            ...(maxEntries !== undefined ? { maxEntries } : {}),
            ...(windowMs !== undefined ? { windowMs } : {}),
          };
          const fast = new TaskIdWindow(opts);
          const ref = new ReferenceTaskIdWindow(opts);
          for (const op of ops) {
            if (op.kind === 'tick') now += op.ms;
            else if (op.kind === 'has') expect(fast.has(`t${op.id}`)).toBe(ref.has(`t${op.id}`));
            else {
              fast.add(`t${op.id}`);
              ref.add(`t${op.id}`);
            }
            expect(fast.size).toBe(ref.size);
          }
          for (let id = 0; id <= 40; id++) expect(fast.has(`t${id}`)).toBe(ref.has(`t${id}`));
        },
      ),
      { seed: 20261207, numRuns: 400 },
    );
  });

  it('stays exact across the compaction of its order array', () => {
    let now = 0;
    const fast = new TaskIdWindow({ now: () => now, maxEntries: 1_500 });
    const ref = new ReferenceTaskIdWindow({ now: () => now, maxEntries: 1_500 });
    for (let i = 0; i < 10_000; i++) {
      fast.add(`id${i}`);
      ref.add(`id${i}`);
      if (i % 7 === 0) now += TASK_ID_WINDOW_MS / 500;
      if (i % 97 === 0) {
        for (const j of [i, i - 1, i - 1_499, i - 1_500, i - 3_000]) {
          expect(fast.has(`id${j}`)).toBe(ref.has(`id${j}`));
        }
        expect(fast.size).toBe(ref.size);
      }
    }
    expect(fast.size).toBeGreaterThan(0);
  });
});
