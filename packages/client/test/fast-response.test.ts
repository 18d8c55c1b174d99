import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TaskResponseSchema } from '@iicp/wire';
import { fastTaskResponse } from '../src/fast-response.ts';

const UUID = '6f1c2a3b-1234-4abc-8def-0123456789ab';

/** Key order at every level the fast path builds (top, metrics, trace). */
function shape(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v;
  const o = v as Record<string, unknown>;
  return Object.keys(o).map((k) => [k, k === 'result' ? 'result' : shape(o[k])]);
}

const anyValue = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -3, max: 5 }),
  fc.double(),
  fc.constantFrom(-0, 1.5, Number.MAX_SAFE_INTEGER, 2 ** 53, Infinity, NaN),
  fc.string({ maxLength: 70 }),
  fc.constantFrom('', 'x'.repeat(64), 'x'.repeat(65), 'success', 'error', 'timeout', UUID),
  fc.constantFrom({}, [], { code: 'x', message: 'y' }),
);

const metrics = fc.oneof(
  anyValue,
  fc.record(
    {
      latency_ms: anyValue,
      tokens_used: anyValue,
      other: anyValue,
    },
    { requiredKeys: [] },
  ),
  fc.record(
    { latency_ms: fc.double({ min: 0, max: 1e6, noNaN: true }), tokens_used: fc.nat() },
    { requiredKeys: ['latency_ms'] },
  ),
);

const trace = fc.oneof(
  anyValue,
  fc.record({ trace_id: anyValue, origin_node: anyValue }, { requiredKeys: [] }),
  fc.record({ trace_id: fc.string({ minLength: 1, maxLength: 64 }) }),
);

const response = fc.record(
  {
    task_id: fc.oneof(
      fc.uuid(),
      fc.constantFrom(UUID, UUID.toUpperCase(), `${UUID}x`, UUID.slice(1)),
      anyValue,
    ),
    status: fc.oneof(fc.constantFrom('success', 'success', 'error', 'completed'), anyValue),
    result: fc.oneof(fc.jsonValue(), anyValue),
    metrics,
    model_used: fc.oneof(fc.string(), anyValue),
    error: fc.oneof(fc.constant(null), anyValue),
    generated_by_ai: fc.oneof(fc.boolean(), anyValue),
    trace,
    billing: fc.constantFrom({}, { credits_used: 1 }),
    extra: anyValue,
  },
  { requiredKeys: [] },
);

/** Keys in a random order, as a peer may send them. */
const shuffled = response.chain((r) =>
  fc.shuffledSubarray(Object.keys(r), { minLength: Object.keys(r).length }).map((keys) => {
    const out: Record<string, unknown> = {};
    for (const k of keys) out[k] = r[k as keyof typeof r];
    return out;
  }),
);

/** Mostly valid answers with a few members dropped or replaced. */
const nearValid = fc
  .record(
    {
      task_id: fc.uuid(),
      status: fc.constant('success'),
      result: fc.jsonValue(),
      metrics: fc.record(
        { latency_ms: fc.double({ min: 0, max: 1e6, noNaN: true }), tokens_used: fc.nat() },
        { requiredKeys: ['latency_ms'] },
      ),
      model_used: fc.string(),
      error: fc.constant(null),
      generated_by_ai: fc.boolean(),
      trace: fc.record(
        { trace_id: fc.string({ minLength: 1, maxLength: 64 }) },
        { requiredKeys: [] },
      ),
    },
    { requiredKeys: ['task_id', 'status', 'result'] },
  )
  .chain((r) =>
    fc
      .option(fc.record({ key: fc.constantFrom(...Object.keys(r)), swap: fc.option(anyValue) }), {
        freq: 1,
      })
      .map((change) => {
        const out: Record<string, unknown> = { ...r };
        if (change?.swap === null) delete out[change.key];
        else if (change) out[change.key] = change.swap;
        return out;
      }),
  );

describe('fastTaskResponse', () => {
  it('returns what TaskResponseSchema returns (value and key order), or defers to it', () => {
    fc.assert(
      fc.property(fc.oneof(response, shuffled, nearValid), (input) => {
        const fast = fastTaskResponse(input);
        if (fast === undefined) return;
        const slow = TaskResponseSchema.safeParse(input);
        expect(slow.success).toBe(true);
        expect(fast).toStrictEqual(slow.data);
        expect(shape(fast)).toEqual(shape(slow.data));
        // `result` is handed on as it is, like the schema's `z.unknown()`.
        expect(fast.result).toBe(slow.data!.result);
      }),
      { numRuns: 500 },
    );
    // The generators must reach the fast path often enough to pin it: counted on a
    // fixed-seed sample of the same generator, so this check cannot flake.
    const sample = fc.sample(fc.oneof(response, shuffled, nearValid), { numRuns: 500, seed: 42 });
    expect(sample.filter((x) => fastTaskResponse(x) !== undefined).length).toBeGreaterThan(50);
  });

  it('takes the fast path for the answers nodes send', () => {
    const result = { choices: [{ index: 0, message: { role: 'assistant', content: 'pong' } }] };
    const answers: Record<string, unknown>[] = [
      { task_id: UUID, status: 'success', result },
      {
        task_id: UUID,
        status: 'success',
        result,
        metrics: { latency_ms: 1.234, tokens_used: 5 },
        model_used: 'm',
        generated_by_ai: true,
        trace: { trace_id: 'ab'.repeat(16) },
        error: null,
      },
      // The CX-decrypted answer is `{...meta, ...value}`: members in another order.
      {
        metrics: { latency_ms: 0.5 },
        model_used: 'm',
        generated_by_ai: true,
        task_id: UUID,
        status: 'success',
        result: 'text',
        error: null,
      },
    ];
    for (const a of answers) {
      const fast = fastTaskResponse(a);
      expect(fast).toBeDefined();
      expect(JSON.stringify(fast)).toBe(JSON.stringify(TaskResponseSchema.parse(a)));
    }
  });

  it('defers error answers, unknown members and a non-plain object to the schema', () => {
    expect(
      fastTaskResponse({
        task_id: UUID,
        status: 'error',
        result: null,
        error: { code: 'x', message: 'y' },
      }),
    ).toBeUndefined();
    expect(fastTaskResponse({ task_id: UUID, status: 'success', result: 1, x: 1 })).toBeUndefined();
    expect(fastTaskResponse({ task_id: UUID, status: 'success' })).toBeUndefined();
    expect(
      fastTaskResponse(
        JSON.parse(`{"task_id":"${UUID}","status":"success","result":1,"__proto__":{}}`),
      ),
    ).toBeUndefined();
    expect(fastTaskResponse(Object.create({ task_id: UUID }))).toBeUndefined();
    expect(fastTaskResponse([UUID])).toBeUndefined();
  });
});
