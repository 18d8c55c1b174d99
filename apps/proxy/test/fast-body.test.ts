import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fastChatBody } from '../src/routes/fast-body.ts';
import { OpenAiChatRequestSchema } from '../src/routes/openai.ts';

/** Key order and `undefined`-valued keys count: compare the printed structures. */
const show = (v: unknown) => inspect(v, { depth: null, sorted: false, getters: false });

const oddNumber = fc.oneof(
  fc.integer({ min: -3, max: 20 }),
  fc.double(),
  fc.constantFrom(NaN, Infinity, -Infinity, -0, 2, 2.0000001, 0.5, 2 ** 53),
);
const odd = fc.oneof(oddNumber, fc.string(), fc.constant(null), fc.boolean(), fc.anything());
const often = <T, U>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<U>) =>
  fc.oneof({ weight: 6, arbitrary: good }, { weight: 1, arbitrary: bad });
const nullish = fc.constantFrom(undefined, null);

const message = often(
  fc.record(
    {
      role: often(fc.constantFrom('system', 'developer', 'user', 'assistant', 'tool'), odd),
      content: fc.oneof(fc.string(), fc.constant(undefined), fc.anything()),
      name: fc.string(),
      tool_call_id: fc.string(),
    },
    { requiredKeys: ['role'] },
  ),
  odd,
);

const body = fc.oneof(
  {
    weight: 10,
    arbitrary: fc
      .record(
        {
          temperature: often(
            fc.oneof(fc.double({ min: 0, max: 2, noNaN: true }), nullish),
            oddNumber,
          ),
          extra: fc.anything(),
          model: often(fc.oneof(fc.string({ minLength: 1 }), fc.constant(undefined)), odd),
          messages: often(
            fc.array(message, { minLength: 1, maxLength: 4 }),
            fc.oneof(fc.constant([]), odd),
          ),
          stream: often(fc.oneof(fc.boolean(), nullish), odd),
          stream_options: often(nullish, fc.oneof(fc.record({ include_usage: fc.boolean() }), odd)),
          max_tokens: often(fc.oneof(fc.integer({ min: 1, max: 9999 }), nullish), oddNumber),
          max_completion_tokens: often(
            fc.oneof(fc.integer({ min: 1, max: 9999 }), nullish),
            oddNumber,
          ),
          stop: often(
            fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 17 }), nullish),
            fc.oneof(fc.array(odd, { maxLength: 3 }), odd),
          ),
          user: fc.string(),
        },
        { requiredKeys: [] },
      )
      // The body's own key order varies too.
      .chain((o) =>
        fc.shuffledSubarray(Object.keys(o), { minLength: Object.keys(o).length }).map((keys) => {
          const r: Record<string, unknown> = {};
          for (const k of keys) r[k] = (o as Record<string, unknown>)[k];
          return r;
        }),
      ),
  },
  { weight: 1, arbitrary: fc.anything() },
);

describe('fastChatBody', () => {
  it('returns exactly what the schema returns, or leaves the body to it (fixed seed)', () => {
    let fast = 0;
    fc.assert(
      fc.property(body, (b) => {
        const f = fastChatBody(b);
        if (f === undefined) return;
        fast++;
        const z = OpenAiChatRequestSchema.safeParse(b);
        expect(z.success).toBe(true);
        expect(show(f)).toBe(show(z.data));
      }),
      { seed: 20261207, numRuns: 5_000 },
    );
    expect(fast).toBeGreaterThan(500);
  });

  it('takes the usual body, JSON as clients send it', () => {
    const b = JSON.parse(
      '{"model":"m","messages":[{"role":"developer","content":"s"},{"content":"q","role":"user"}],"max_tokens":5,"stop":"\\n","stream":false}',
    ) as unknown;
    const f = fastChatBody(b);
    expect(f).toBeDefined();
    expect(show(f)).toBe(show(OpenAiChatRequestSchema.parse(b)));
  });
});
