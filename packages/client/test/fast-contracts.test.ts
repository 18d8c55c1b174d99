import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LlmChatInputSchema, LlmChatOutputSchema } from '@iicp/wire';
import { chatInputSurelyValid, chatOutputSurelyValid } from '../src/fast-contracts.ts';

const oddNumber = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.double(),
  fc.constantFrom(NaN, Infinity, -Infinity, -0, 2, 2.0000001, 1e300, 2 ** 53, 0.5),
);
const oddValue = fc.oneof(oddNumber, fc.string(), fc.constant(null), fc.boolean(), fc.anything());

const goodMessage = fc.record(
  {
    role: fc.constantFrom('system', 'user', 'assistant', 'tool'),
    content: fc.oneof(
      fc.string(),
      fc.array(fc.record({ type: fc.constant('text'), text: fc.string() })),
    ),
    name: fc.string(),
  },
  { requiredKeys: ['role', 'content'] },
);
const oddMessage = fc.oneof(
  fc.record(
    {
      role: fc.oneof(
        fc.constantFrom('system', 'user', 'assistant', 'tool', 'developer', 'User', ''),
        oddValue,
      ),
      content: fc.oneof(fc.string(), fc.constant(undefined), oddValue),
      name: fc.string(),
    },
    { requiredKeys: [] },
  ),
  oddValue,
);
const message = fc.oneof(
  { weight: 12, arbitrary: goodMessage },
  { weight: 1, arbitrary: oddMessage },
);
const often = <T, U>(good: fc.Arbitrary<T>, odd: fc.Arbitrary<U>) =>
  fc.oneof({ weight: 6, arbitrary: good }, { weight: 1, arbitrary: odd });

const chatInput = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record(
      {
        messages: often(
          fc.array(message, { minLength: 1, maxLength: 4 }),
          fc.oneof(fc.array(message, { maxLength: 2 }), oddValue),
        ),
        max_tokens: often(fc.integer({ min: 1, max: 4096 }), oddNumber),
        temperature: often(fc.double({ min: 0, max: 2, noNaN: true }), oddNumber),
        stop: often(
          fc.array(fc.string(), { maxLength: 3 }),
          fc.oneof(fc.array(fc.oneof(fc.string(), oddValue), { maxLength: 3 }), oddValue),
        ),
        model: fc.string(),
        extra: fc.anything(),
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: fc.anything() },
);

const choice = fc.oneof(
  fc.record(
    {
      index: oddNumber,
      message: fc.oneof(fc.record({ role: fc.string(), content: fc.string() }), oddValue),
      finish_reason: fc.oneof(fc.string(), fc.constant(null), oddValue),
      logprobs: fc.anything(),
    },
    { requiredKeys: [] },
  ),
  oddValue,
);

const chatOutput = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record(
      {
        choices: fc.oneof(fc.array(choice, { maxLength: 3 }), oddValue),
        usage: fc.oneof(fc.record({ total_tokens: fc.nat() }), oddValue),
        id: fc.string(),
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: fc.anything() },
);

describe('llm:chat:v1 contract fast checks', () => {
  it('a sure input is one the schema accepts (fixed seed), and the usual ones are sure', () => {
    let sure = 0;
    fc.assert(
      fc.property(chatInput, (p) => {
        if (chatInputSurelyValid(p as Record<string, unknown>)) {
          sure++;
          expect(LlmChatInputSchema.safeParse(p).success).toBe(true);
        }
      }),
      { seed: 20261207, numRuns: 5_000 },
    );
    expect(sure).toBeGreaterThan(100);
    const usual = {
      model: 'm',
      messages: [
        { role: 'system', content: 's' },
        { role: 'user', content: [{ type: 'text', text: 'q' }] },
      ],
      max_tokens: 5,
      temperature: 0.2,
      stop: ['\n'],
    };
    expect(chatInputSurelyValid(usual)).toBe(true);
  });

  it('a sure output is one the schema accepts (fixed seed), and the usual ones are sure', () => {
    let sure = 0;
    fc.assert(
      fc.property(chatOutput, (r) => {
        if (chatOutputSurelyValid(r)) {
          sure++;
          expect(LlmChatOutputSchema.safeParse(r).success).toBe(true);
        }
      }),
      { seed: 20261207, numRuns: 5_000 },
    );
    expect(sure).toBeGreaterThan(100);
    const usual = {
      choices: [
        { index: 0, message: { role: 'assistant', content: 'pong' }, finish_reason: 'stop' },
      ],
      usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
    };
    expect(chatOutputSurelyValid(usual)).toBe(true);
  });
});
