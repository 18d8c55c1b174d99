import fc from 'fast-check';
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LATENCY_BUCKETS, FastCounter, FastHistogram } from '../src/index.ts';

/**
 * Every FastHistogram/FastCounter call is replayed on a prom-client metric of the same
 * config in a second registry: exposition text, JSON and thrown errors must be the same.
 */

type Op =
  | { kind: 'observe'; labels: unknown; value: unknown }
  | { kind: 'observeValue'; value: unknown }
  | { kind: 'child'; values: unknown[]; value: unknown }
  | { kind: 'childObject'; labels: Record<string, unknown>; value: unknown }
  | { kind: 'reset' }
  | { kind: 'remove'; values: unknown[] }
  | { kind: 'zero'; labels: Record<string, unknown> };

const labelValue = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('GET', 'POST', '/v1/x', '200', '', 'a"b\\c\nd') },
  { weight: 1, arbitrary: fc.constantFrom(200, 404, 0) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);
const value = fc.oneof(
  { weight: 8, arbitrary: fc.double({ min: 0, max: 40, noNaN: true }) },
  {
    weight: 4,
    arbitrary: fc.constantFrom(...DEFAULT_LATENCY_BUCKETS, 0, 0.1 + 0.2, 1e-9, 31, -1),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(NaN, Infinity, -Infinity, undefined, null, '1', 'x'),
  },
);
const NAMES = ['method', 'route', 'status_code'];
const ALL_KEYS = [...NAMES, 'intent', 'bogus'];

/** Label objects in any key order: some name exactly the metric's labels, with strings. */
function labelObjectFor(labelNames: readonly string[]): fc.Arbitrary<Record<string, unknown>> {
  const withKeys = (keys: string[], value: fc.Arbitrary<unknown>) =>
    fc
      .tuple(...keys.map(() => value))
      .map((vals) => Object.fromEntries(keys.map((k, i) => [k, vals[i]])));
  const exact = fc
    .shuffledSubarray([...labelNames], {
      minLength: labelNames.length,
      maxLength: labelNames.length,
    })
    .chain((keys) =>
      withKeys(
        keys,
        labelValue.filter((v) => typeof v === 'string'),
      ),
    );
  const any = fc.shuffledSubarray(ALL_KEYS).chain((keys) => withKeys(keys, labelValue));
  return fc.oneof({ weight: 3, arbitrary: exact }, { weight: 2, arbitrary: any });
}

function ops(labelNames: readonly string[]): fc.Arbitrary<Op[]> {
  const labelCount = labelNames.length;
  const labelObject = labelObjectFor(labelNames);
  const positional = fc.oneof(
    {
      weight: 8,
      arbitrary: fc.array(labelValue, { minLength: labelCount, maxLength: labelCount }),
    },
    { weight: 1, arbitrary: fc.array(labelValue, { maxLength: 4 }) },
  );
  const op: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('observe' as const),
        labels: fc.oneof(labelObject, fc.constantFrom<unknown>(null, undefined, 0, '')),
        value,
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('observeValue' as const), value }) },
    {
      weight: 12,
      arbitrary: fc.record({ kind: fc.constant('child' as const), values: positional, value }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('childObject' as const),
        labels: labelObject,
        value,
      }),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'reset' as const }) },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('remove' as const), values: positional }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('zero' as const), labels: labelObject }),
    },
  );
  return fc.array(op, { maxLength: 60 });
}

/** Runs `f`; returns the error's class and message, or 'ok'. */
function outcome(f: () => void): string {
  try {
    f();
    return 'ok';
  } catch (err) {
    return `${(err as Error).constructor.name}: ${(err as Error).message}`;
  }
}

type AnyHist = {
  observe(...a: unknown[]): void;
  labels(...a: unknown[]): { observe(v: unknown): void };
  reset(): void;
  remove(...a: unknown[]): void;
  zero(l: unknown): void;
};
type AnyCounter = {
  inc(...a: unknown[]): void;
  labels(...a: unknown[]): { inc(v?: unknown): void };
  reset(): void;
  remove(...a: unknown[]): void;
};

async function sameDocuments(a: Registry, b: Registry): Promise<void> {
  expect(await b.metrics()).toBe(await a.metrics());
  expect(await b.getMetricsAsJSON()).toEqual(await a.getMetricsAsJSON());
}

describe('FastHistogram', () => {
  for (const labelNames of [NAMES, ['route'], []]) {
    it(`renders and fails as prom-client's Histogram (labels: ${labelNames.join(',') || 'none'})`, async () => {
      const cases = fc.sample(ops(labelNames), {
        numRuns: 300,
        seed: 0x4e7 + labelNames.length,
      });
      let observed = 0;
      let rejected = 0;
      for (const run of cases) {
        const ra = new Registry();
        const rb = new Registry();
        const config = {
          name: 'http_request_duration_seconds',
          help: 'HTTP request latency by method, route pattern and status code',
          labelNames,
          buckets: labelNames.length === 1 ? [0.1, 0.5, 0.1, 2] : DEFAULT_LATENCY_BUCKETS,
        };
        const a = new Histogram({ ...config, registers: [ra] }) as unknown as AnyHist;
        const b = new FastHistogram({ ...config, registers: [rb] }) as unknown as AnyHist;
        // Children are kept across operations, as callers keep them.
        const kept: [{ observe(v: unknown): void }, { observe(v: unknown): void }][] = [];
        for (const op of run) {
          const both = (f: (m: AnyHist) => void, g?: () => void): void => {
            const oa = outcome(() => f(a));
            expect(outcome(g ?? (() => f(b)))).toBe(oa);
            if (oa === 'ok') observed++;
            else rejected++;
          };
          switch (op.kind) {
            case 'observe':
              both((m) => m.observe(op.labels, op.value));
              break;
            case 'observeValue':
              both((m) => m.observe(op.value));
              break;
            case 'child':
            case 'childObject': {
              const args = op.kind === 'child' ? op.values : [op.labels];
              const ca = outcome(() => kept.push([a.labels(...args), b.labels(...args)]));
              if (ca !== 'ok') {
                expect(outcome(() => b.labels(...args))).toBe(outcome(() => a.labels(...args)));
                break;
              }
              // This child, and an earlier one (after resets or removals in between).
              for (const [x, y] of [
                kept[kept.length - 1]!,
                kept[(kept.length * 7) % kept.length]!,
              ]) {
                both(
                  () => x.observe(op.value),
                  () => y.observe(op.value),
                );
              }
              break;
            }
            case 'reset':
              both((m) => m.reset());
              break;
            case 'remove':
              both((m) => m.remove(...op.values));
              break;
            case 'zero':
              both((m) => m.zero(op.labels));
              break;
          }
        }
        await sameDocuments(ra, rb);
      }
      // The samples exercise both outcomes, many times.
      expect(observed).toBeGreaterThan(1000);
      expect(rejected).toBeGreaterThan(50);
    });
  }

  it('children are cached per label values and count into one series', async () => {
    const r = new Registry();
    const h = new FastHistogram({
      name: 'x_seconds',
      help: 'x',
      labelNames: ['a', 'b'] as const,
      buckets: [1, 2],
      registers: [r],
    });
    expect(h.labels('1', '2')).toBe(h.labels('1', '2'));
    h.labels('1', '2').observe(1.5);
    h.observe({ b: '2', a: '1' }, 0.5);
    expect(await r.metrics()).toBe(
      [
        '# HELP x_seconds x',
        '# TYPE x_seconds histogram',
        'x_seconds_bucket{le="1",a="1",b="2"} 1',
        'x_seconds_bucket{le="2",a="1",b="2"} 2',
        'x_seconds_bucket{le="+Inf",a="1",b="2"} 2',
        'x_seconds_sum{a="1",b="2"} 2',
        'x_seconds_count{a="1",b="2"} 2',
        '',
      ].join('\n'),
    );
  });

  it('refuses what prom-client refuses at construction, and duplicate names', () => {
    const r = new Registry();
    expect(() => new FastHistogram({ name: 'bad name', help: 'x' })).toThrow('Invalid metric name');
    expect(() => new FastHistogram({ name: 'x', help: 'x', labelNames: ['le'] })).toThrow(
      'le is a reserved label keyword',
    );
    expect(() => new FastHistogram({ name: 'x', help: '' })).toThrow('Missing mandatory help');
    new FastHistogram({ name: 'x', help: 'x', registers: [r] });
    expect(() => new Histogram({ name: 'x', help: 'x', registers: [r] })).toThrow(
      'already been registered',
    );
  });
});

describe('FastCounter', () => {
  type COp =
    | { kind: 'inc'; labels: unknown; value: unknown; withValue: boolean }
    | { kind: 'child'; values: unknown[]; value: unknown; withValue: boolean }
    | { kind: 'reset' }
    | { kind: 'remove'; values: unknown[] };
  const countValue = fc.oneof(
    { weight: 8, arbitrary: fc.double({ min: 0, max: 1000, noNaN: true }) },
    { weight: 3, arbitrary: fc.constantFrom<unknown>(1, 0, 0.1, 2 ** 53) },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(-1, NaN, Infinity, null, undefined, '3') },
  );
  function cops(labelNames: readonly string[]): fc.Arbitrary<COp[]> {
    const labelCount = labelNames.length;
    const labelObject = labelObjectFor(labelNames);
    const positional = fc.oneof(
      {
        weight: 8,
        arbitrary: fc.array(labelValue, { minLength: labelCount, maxLength: labelCount }),
      },
      { weight: 1, arbitrary: fc.array(labelValue, { maxLength: 4 }) },
    );
    return fc.array(
      fc.oneof(
        {
          weight: 5,
          arbitrary: fc.record({
            kind: fc.constant('inc' as const),
            labels: fc.oneof(labelObject, fc.constantFrom<unknown>(null, undefined, 2)),
            value: countValue,
            withValue: fc.boolean(),
          }),
        },
        {
          weight: 10,
          arbitrary: fc.record({
            kind: fc.constant('child' as const),
            values: positional,
            value: countValue,
            withValue: fc.boolean(),
          }),
        },
        { weight: 1, arbitrary: fc.constant({ kind: 'reset' as const }) },
        {
          weight: 1,
          arbitrary: fc.record({ kind: fc.constant('remove' as const), values: positional }),
        },
      ),
      { maxLength: 60 },
    );
  }

  for (const labelNames of [NAMES, ['intent'], []]) {
    it(`renders and fails as prom-client's Counter (labels: ${labelNames.join(',') || 'none'})`, async () => {
      const cases = fc.sample(cops(labelNames), {
        numRuns: 300,
        seed: 0xc0 + labelNames.length,
      });
      let counted = 0;
      let rejected = 0;
      for (const run of cases) {
        const ra = new Registry();
        const rb = new Registry();
        const config = { name: 'iicp_requests_total', help: 'Requests', labelNames };
        const a = new Counter({ ...config, registers: [ra] }) as unknown as AnyCounter;
        const b = new FastCounter({ ...config, registers: [rb] }) as unknown as AnyCounter;
        const kept: [{ inc(v?: unknown): void }, { inc(v?: unknown): void }][] = [];
        for (const op of run) {
          const both = (f: (m: AnyCounter) => void, g?: () => void): void => {
            const oa = outcome(() => f(a));
            expect(outcome(g ?? (() => f(b)))).toBe(oa);
            if (oa === 'ok') counted++;
            else rejected++;
          };
          switch (op.kind) {
            case 'inc':
              both((m) => (op.withValue ? m.inc(op.labels, op.value) : m.inc(op.labels)));
              break;
            case 'child': {
              const ca = outcome(() => kept.push([a.labels(...op.values), b.labels(...op.values)]));
              if (ca !== 'ok') {
                expect(outcome(() => b.labels(...op.values))).toBe(
                  outcome(() => a.labels(...op.values)),
                );
                break;
              }
              const pick = (n: number) => kept[n]!;
              for (const [x, y] of [pick(kept.length - 1), pick((kept.length * 5) % kept.length)]) {
                const inc = (c: { inc(v?: unknown): void }) =>
                  op.withValue ? c.inc(op.value) : c.inc();
                both(
                  () => inc(x),
                  () => inc(y),
                );
              }
              break;
            }
            case 'reset':
              both((m) => m.reset());
              break;
            case 'remove':
              both((m) => m.remove(...op.values));
              break;
          }
        }
        await sameDocuments(ra, rb);
      }
      expect(counted).toBeGreaterThan(1000);
      expect(rejected).toBeGreaterThan(20);
    });
  }

  it('shares one document with prom-client metrics in the same registry', async () => {
    const r = new Registry();
    const c = new FastCounter({ name: 'a_total', help: 'A', labelNames: ['k'], registers: [r] });
    const p = new Counter({ name: 'b_total', help: 'B', registers: [r] });
    c.labels('v').inc();
    c.labels('v').inc(2);
    p.inc();
    expect(await r.metrics()).toBe(
      '# HELP a_total A\n# TYPE a_total counter\na_total{k="v"} 3\n\n' +
        '# HELP b_total B\n# TYPE b_total counter\nb_total 1\n',
    );
  });
});
