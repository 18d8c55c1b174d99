import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { plaintextCall, spreadPlaintextCall } from '../src/cx/task.ts';

/** Key order, `__proto__` data keys and prototypes all show in the printed structure. */
const show = (v: object) =>
  `${inspect(v, { depth: null, sorted: false, showHidden: true })} proto=${String(Object.getPrototypeOf(v) === Object.prototype)}`;

const keys = fc.constantFrom(
  'task_id',
  'intent',
  'iicp_conf',
  'cx_response_encryption',
  'constraints',
  'trace',
  'auth',
  '0',
  '7',
  '__proto__',
  'x',
);
/** CALL bodies as JSON.parse makes them (own `__proto__` keys included). */
const jsonObject = fc
  .array(fc.tuple(keys, fc.jsonValue()), { maxLength: 9 })
  .map(
    (entries) =>
      JSON.parse(
        `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`,
      ) as Record<string, unknown>,
  );

describe('plaintextCall', () => {
  it('builds what the rest-and-spread form builds (fixed seed)', () => {
    fc.assert(
      fc.property(jsonObject, fc.dictionary(fc.string(), fc.jsonValue()), (body, payload) => {
        expect(show(plaintextCall(body, payload))).toBe(show(spreadPlaintextCall(body, payload)));
      }),
      { seed: 20261207, numRuns: 2_000 },
    );
  });

  it('drops the envelope members and puts the payload last', () => {
    const body = JSON.parse(
      '{"task_id":"t","iicp_conf":{"version":1},"intent":"i","cx_response_encryption":"required"}',
    ) as Record<string, unknown>;
    expect(Object.keys(plaintextCall(body, { a: 1 }))).toEqual(['task_id', 'intent', 'payload']);
  });
});
