import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  chatPayload,
  chatPayloadReference,
  OpenAiChatRequestSchema,
} from '../src/routes/openai.ts';

const show = (v: object) => inspect(v, { depth: null, sorted: false });

const nullish = fc.constantFrom(null, undefined);
const maybe = <T>(a: fc.Arbitrary<T>) => fc.oneof(a, nullish);

/** Bodies the route's schema accepts, in any key order, with extra fields. */
const body = fc
  .record(
    {
      model: fc.option(fc.string({ minLength: 1 }), { nil: undefined }),
      messages: fc.array(
        fc.record(
          {
            role: fc.constantFrom('system', 'developer', 'user', 'assistant', 'tool'),
            content: fc.oneof(fc.string(), nullish, fc.jsonValue()),
            name: fc.string(),
          },
          { requiredKeys: ['role'] },
        ),
        { minLength: 1, maxLength: 4 },
      ),
      stream: maybe(fc.boolean()),
      stream_options: maybe(fc.record({ include_usage: maybe(fc.boolean()) })),
      max_tokens: maybe(fc.integer({ min: 1, max: 9999 })),
      max_completion_tokens: maybe(fc.integer({ min: 1, max: 9999 })),
      temperature: maybe(fc.double({ min: 0, max: 2, noNaN: true })),
      stop: maybe(fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 4 }))),
      user: maybe(fc.string()),
      seed: maybe(fc.integer()),
      '10': fc.string(),
    },
    { requiredKeys: ['messages'] },
  )
  .chain((o) =>
    fc.shuffledSubarray(Object.keys(o), { minLength: Object.keys(o).length }).map((keys) => {
      const r: Record<string, unknown> = {};
      for (const k of keys) r[k] = (o as Record<string, unknown>)[k];
      return r;
    }),
  );

describe('chatPayload', () => {
  it('builds what the rest-and-spread form builds (fixed seed)', () => {
    fc.assert(
      fc.property(body, (raw) => {
        const b = OpenAiChatRequestSchema.parse(raw);
        expect(show(chatPayload(b))).toBe(show(chatPayloadReference(b)));
      }),
      { seed: 20261207, numRuns: 3_000 },
    );
  });
});
