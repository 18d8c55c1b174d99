import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { replaceMembers, spreadReplaceMembers } from '../src/index.ts';

/** Key order, `__proto__` data keys and prototypes all show in the printed structure. */
const show = (v: object) =>
  `${inspect(v, { depth: null, sorted: false, showHidden: true })} proto=${String(Object.getPrototypeOf(v) === Object.prototype)}`;

const names = [
  'task_id',
  'status',
  'iicp_conf',
  'iicp_conf_resp',
  'cx_response_encryption',
  'payload',
  'result',
  'metrics',
  'trace',
  'error',
  '0',
  '10',
  '__proto__',
  'x',
] as const;
const keys = fc.constantFrom(...names);
/** Objects as JSON.parse makes them (own `__proto__` keys included). */
const jsonObject = fc
  .array(fc.tuple(keys, fc.jsonValue()), { maxLength: 8 })
  .map(
    (entries) =>
      JSON.parse(
        `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`,
      ) as Record<string, unknown>,
  );
/** Members to drop (never `__proto__`: no CX caller drops it). */
const drops = fc.subarray(names.filter((n) => n !== '__proto__'));

describe('replaceMembers', () => {
  it('builds what the rest-and-spread form builds (fixed seed)', () => {
    fc.assert(
      fc.property(jsonObject, drops, jsonObject, (body, drop, add) => {
        expect(show(replaceMembers(body, drop, add))).toBe(
          show(spreadReplaceMembers(body, drop, add)),
        );
      }),
      { seed: 20261207, numRuns: 3_000 },
    );
  });

  it('drops the named members, keeps the order of the rest and appends the additions', () => {
    const body = JSON.parse(
      '{"task_id":"t","iicp_conf":{"version":1},"intent":"i","cx_response_encryption":"required"}',
    ) as Record<string, unknown>;
    const out = replaceMembers(body, ['iicp_conf', 'cx_response_encryption'], { payload: {} });
    expect(Object.keys(out)).toEqual(['task_id', 'intent', 'payload']);
    expect(Object.keys(body)).toHaveLength(4);
  });
});
