import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TaskRequestSchema, validateIntentPayload } from '@iicp/wire';
import { chatPayloadSurelyValid, fastTaskRequest } from '../src/fast-task.ts';

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
        required_profiles: fc.array(
          fc.constantFrom('urn:iicp:profile:service-lifecycle:v1', 'urn:x:other', ''),
          { maxLength: 2 },
        ),
        optional_profiles: fc.array(fc.string({ maxLength: 12 }), { maxLength: 2 }),
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
  'constraints.required_profiles',
  'constraints.optional_profiles',
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

  it('takes the fast path for a streamed CALL (profile lists), same value and key order', () => {
    const body = {
      task_id: UUID,
      intent: INTENT,
      constraints: {
        required_profiles: ['urn:iicp:profile:service-lifecycle:v1'],
        timeout_ms: 30_000,
        optional_profiles: [],
        qos: 'interactive',
      },
      payload: { messages: [{ role: 'user', content: 'hi' }], stream: true },
    };
    const fast = fastTaskRequest(body);
    expect(fast).toBeDefined();
    expect(JSON.stringify(fast)).toBe(JSON.stringify(TaskRequestSchema.parse(body)));
    for (const bad of [['a', 1], 'urn:x', [null], { 0: 'a' }]) {
      const c = { ...body.constraints, required_profiles: bad };
      expect(fastTaskRequest({ ...body, constraints: c })).toBeUndefined();
    }
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

const chatValue = fc.oneof(
  anyValue,
  fc.constantFrom('system', 'user', 'assistant', 'tool', 'developer', 0, 1, 2, 2.5, -1, 1e300),
  fc.constantFrom(['a', 'b'], ['a', 1], [], [null]),
);
const validChat = fc.record(
  {
    messages: fc.array(
      fc.record({
        role: fc.constantFrom('system', 'user', 'assistant', 'tool'),
        content: fc.oneof(fc.string(), fc.jsonValue({ maxDepth: 2 })),
      }),
      { minLength: 1, maxLength: 3 },
    ),
    max_tokens: fc.integer({ min: 1, max: 4096 }),
    temperature: fc.double({ min: 0, max: 2, noNaN: true }),
    stop: fc.array(fc.string(), { maxLength: 2 }),
    model: fc.string(),
  },
  { requiredKeys: ['messages'] },
);
const CHAT_CHANGEABLE = [
  'messages',
  'max_tokens',
  'temperature',
  'stop',
  'messages.0',
  'messages.0.role',
  'messages.0.content',
] as const;
/** Valid chat inputs, most of them with one member dropped or replaced; JSON-shaped. */
const chatPayload = validChat.chain((p) =>
  fc
    .option(fc.record({ key: fc.constantFrom(...CHAT_CHANGEABLE), swap: fc.option(chatValue) }), {
      freq: 3,
    })
    .map((change) => {
      const out = JSON.parse(JSON.stringify(p)) as Record<string, unknown>;
      if (change) {
        const path = change.key.split('.');
        let target: Record<string, unknown> | undefined = out;
        for (const k of path.slice(0, -1))
          target = target?.[k] as Record<string, unknown> | undefined;
        const k = path.at(-1)!;
        if (target && typeof target === 'object') {
          if (change.swap === null) delete target[k];
          else target[k] = change.swap;
        }
      }
      return JSON.parse(JSON.stringify(out)) as unknown;
    }),
);

describe('chatPayloadSurelyValid', () => {
  const intents = fc.constantFrom(INTENT, 'urn:iicp:intent:llm:completion:v1');
  it('is true only when validateIntentPayload passes', () => {
    fc.assert(
      fc.property(intents, chatPayload, (intent, payload) => {
        if (chatPayloadSurelyValid(intent, payload as Record<string, unknown>))
          expect(validateIntentPayload(intent, payload).ok).toBe(true);
      }),
      { numRuns: 1000 },
    );
    // Counted on a fixed-seed sample: the fast answer is reached often, and valid
    // payloads it leaves to the schema exist too (it never has to be complete).
    const sample = fc.sample(fc.tuple(intents, chatPayload), { numRuns: 1000, seed: 7 });
    const fast = sample.filter(([i, p]) => chatPayloadSurelyValid(i, p as Record<string, unknown>));
    expect(fast.length).toBeGreaterThan(200);
  });

  it('accepts the chat payload the proxy forwards, and leaves anything unusual to the schema', () => {
    const p = { model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true };
    expect(chatPayloadSurelyValid(INTENT, p)).toBe(true);
    expect(chatPayloadSurelyValid(INTENT, { ...p, max_tokens: 0 })).toBe(false);
    expect(chatPayloadSurelyValid(INTENT, { ...p, temperature: 2.5 })).toBe(false);
    expect(chatPayloadSurelyValid(INTENT, { ...p, stop: ['a', 1] })).toBe(false);
    expect(chatPayloadSurelyValid(INTENT, { ...p, messages: [] })).toBe(false);
    expect(
      chatPayloadSurelyValid(INTENT, { messages: [{ role: 'developer', content: 'x' }] }),
    ).toBe(false);
    expect(chatPayloadSurelyValid('urn:iicp:intent:llm:completion:v1', p)).toBe(false);
  });
});
