import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { spreadWithoutEnvelope, withoutEnvelope } from '../src/cx.ts';

/** Key order, `__proto__` data keys and prototypes all show in the printed structure. */
const show = (v: object) =>
  `${inspect(v, { depth: null, sorted: false, showHidden: true })} proto=${String(Object.getPrototypeOf(v) === Object.prototype)}`;

const keys = fc.constantFrom(
  'task_id',
  'status',
  'iicp_conf_resp',
  'result',
  'metrics',
  'trace',
  'model_used',
  'error',
  '0',
  '10',
  '__proto__',
  'x',
);
/** Objects as JSON.parse makes them (own `__proto__` keys included). */
const jsonObject = fc
  .array(fc.tuple(keys, fc.jsonValue()), { maxLength: 8 })
  .map(
    (entries) =>
      JSON.parse(
        `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`,
      ) as Record<string, unknown>,
  );

describe('withoutEnvelope', () => {
  it('builds what the rest-and-spread form builds (fixed seed)', () => {
    fc.assert(
      fc.property(jsonObject, jsonObject, (body, over) => {
        expect(show(withoutEnvelope(body, over))).toBe(show(spreadWithoutEnvelope(body, over)));
      }),
      { seed: 20261207, numRuns: 2_000 },
    );
  });
});
