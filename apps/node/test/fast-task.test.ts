import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TaskRequestSchema } from '@iicp/wire';
import { fastTaskRequest } from '../src/fast-task.ts';

const UUID = '6f1c2a3b-1234-4abc-8def-0123456789ab';
const INTENT = 'urn:iicp:intent:llm:chat:v1';

/** Key order at every level (top, constraints, trace, auth, payload's top level). */
function shape(v: unknown, depth = 0): unknown {
  if (typeof v !== 'object' || v === null || depth > 1) return v;
  const o = v as Record<string, unknown>;
  return Object.keys(o).map((k) => [k, shape(o[k], depth + 1)]);
}

const anyValue = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -3, max: 5 }),
  fc.double(),
  fc.constantFrom(99, 100, 300_000, 300_001, 1000.5, -0, NaN, Infinity),
  fc.string({ maxLength: 70 }),
  fc.constantFrom('', 'x'.repeat(64), 'x'.repeat(65), 'batch', 'high', 'urgent', UUID, INTENT),
  fc.constantFrom({}, [], { a: 1 }),
);

const valid = fc.record(
  {
    task_id: fc.uuid({ version: 4 }),
    intent: fc.constantFrom(
      INTENT,
      'urn:iicp:intent:mcp:tools/call:v1',
      'urn:iicp:intent:x.acme:do:v2',
    ),
    payload: fc.oneof(
      fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 })),
      fc.constant({ messages: [{ role: 'user', content: 'hi' }], model: 'm' }),
    ),
    constraints: fc.record(
      {
        timeout_ms: fc.integer({ min: 100, max: 300_000 }),
        qos: fc.constantFrom('realtime', 'interactive', 'batch', 'best-effort'),
        priority: fc.constantFrom('low', 'normal', 'high', 'critical'),
      },
      { requiredKeys: ['timeout_ms'] },
    ),
    trace: fc.record(
      { trace_id: fc.string({ minLength: 1, maxLength: 64 }) },
      { requiredKeys: [] },
    ),
    auth: fc.record({ node_token: fc.string({ minLength: 1 }) }),
  },
  { requiredKeys: ['task_id', 'intent', 'payload', 'constraints'] },
);

const CHANGEABLE = [
  'task_id',
  'intent',
  'payload',
  'constraints',
  'trace',
  'auth',
  'billing',
  'cip',
  'extra',
  'constraints.timeout_ms',
  'constraints.qos',
  'constraints.priority',
  'constraints.region',
  'trace.trace_id',
  'trace.origin_node',
  'auth.node_token',
  'payload.__proto__',
] as const;

/** Valid CALLs, half of them with one member dropped or replaced, members shuffled. */
const calls = valid.chain((r) =>
  fc
    .tuple(
      fc.option(fc.record({ key: fc.constantFrom(...CHANGEABLE), swap: fc.option(anyValue) }), {
        freq: 1,
      }),
      fc.boolean(),
    )
    .map(([change, reverse]) => {
      const out: Record<string, unknown> = JSON.parse(JSON.stringify(r)) as Record<string, unknown>;
      if (change) {
        const [a, b] = change.key.split('.') as [string, string | undefined];
        const target = b === undefined ? out : (out[a] as Record<string, unknown> | undefined);
        const k = b ?? a;
        if (target && typeof target === 'object') {
          if (change.swap === null) delete target[k];
          else if (k === '__proto__')
            Object.defineProperty(target, k, {
              value: change.swap,
              enumerable: true,
              writable: true,
              configurable: true,
            });
          else target[k] = change.swap;
        }
      }
      if (!reverse) return out;
      const rev: Record<string, unknown> = {};
      for (const k of Object.keys(out).reverse()) rev[k] = out[k];
      return rev;
    }),
);

describe('fastTaskRequest', () => {
  it('returns what TaskRequestSchema returns (value and key order), or defers to it', () => {
    fc.assert(
      fc.property(calls, (input) => {
        const fast = fastTaskRequest(input);
        if (fast === undefined) return;
        const slow = TaskRequestSchema.safeParse(input);
        expect(slow.success).toBe(true);
        expect(fast).toStrictEqual(slow.data);
        expect(shape(fast)).toEqual(shape(slow.data));
      }),
      { numRuns: 500 },
    );
    // The generators must reach the fast path often enough to pin it: counted on a
    // fixed-seed sample of the same generator, so this check cannot flake.
    const sample = fc.sample(calls, { numRuns: 500, seed: 42 });
    expect(sample.filter((x) => fastTaskRequest(x) !== undefined).length).toBeGreaterThan(100);
  });

  it('takes the fast path for the CALL the client sends after CX opening', () => {
    const body = {
      task_id: UUID,
      intent: INTENT,
      constraints: { timeout_ms: 30_000, qos: 'interactive' },
      trace: { trace_id: 'ab'.repeat(16) },
      auth: { node_token: 'tok' },
      payload: { messages: [{ role: 'user', content: 'hi' }] },
    };
    const fast = fastTaskRequest(body);
    expect(fast).toBeDefined();
    expect(JSON.stringify(fast)).toBe(JSON.stringify(TaskRequestSchema.parse(body)));
  });

  it('defers anything else to the schema', () => {
    const base = { task_id: UUID, intent: INTENT, payload: {}, constraints: { timeout_ms: 1000 } };
    expect(fastTaskRequest(base)).toBeDefined();
    expect(fastTaskRequest({ ...base, billing: {} })).toBeUndefined();
    for (const timeout_ms of [99, 300_001, 1000.5, '1000'])
      expect(fastTaskRequest({ ...base, constraints: { timeout_ms } })).toBeUndefined();
    for (const timeout_ms of [100, 300_000])
      expect(fastTaskRequest({ ...base, constraints: { timeout_ms } })).toStrictEqual(
        TaskRequestSchema.parse({ ...base, constraints: { timeout_ms } }),
      );
    expect(
      fastTaskRequest({ ...base, constraints: { timeout_ms: 1000, region: 'eu' } }),
    ).toBeUndefined();
    expect(fastTaskRequest({ ...base, task_id: UUID.replace('-4', '-1') })).toBeUndefined();
    expect(
      fastTaskRequest({ ...base, payload: JSON.parse('{"__proto__":{"x":1}}') }),
    ).toBeUndefined();
    expect(fastTaskRequest({ ...base, intent: `${INTENT}+x` })).toBeUndefined();
    expect(fastTaskRequest(Object.assign(Object.create(null), base))).toBeUndefined();
  });
});
