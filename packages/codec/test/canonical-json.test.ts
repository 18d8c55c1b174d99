import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalJsonJcs,
  canonicalJsonPython,
  canonicalJsonSortedCompact,
  isCodecError,
  pyFloat,
  pythonFloatRepr,
} from '../src/index.ts';
import { readSpecJson, sha256Hex } from './spec-files.ts';

const COSIGNATURE = 'research/pre-normative-profiles/fixtures/cip-consumer-cosignature-v1.json';
const CIP_CONFORMANCE = 'research/aiospf/fixtures/cip-conformance-v0.json';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (isCodecError(e)) return e.code;
    throw e;
  }
  return undefined;
}

describe('canonicalJsonJcs (RFC 8785) against cip-consumer-cosignature-v1.json', () => {
  const fixture = readSpecJson<{
    jcs_vectors: { name: string; input: unknown; canonical_json_utf8: string }[];
    canonical_vector: {
      receipt: unknown;
      canonical_json_utf8: string;
      canonical_json_sha256: string;
    };
  }>(COSIGNATURE);

  it('has the 3 JCS vectors', () => {
    expect(fixture.jcs_vectors).toHaveLength(3);
  });

  for (const v of fixture.jcs_vectors) {
    it(v.name, () => {
      expect(canonicalJsonJcs(v.input)).toBe(v.canonical_json_utf8);
    });
  }

  it('canonical_vector: the receipt canonicalizes to the pinned bytes and sha256', () => {
    const out = canonicalJsonJcs(fixture.canonical_vector.receipt);
    expect(out).toBe(fixture.canonical_vector.canonical_json_utf8);
    expect(sha256Hex(Buffer.from(out, 'utf8'))).toBe(
      fixture.canonical_vector.canonical_json_sha256,
    );
  });

  it('refuses values RFC 8785 has no form for', () => {
    expect(codeOf(() => canonicalJsonJcs(NaN))).toBe('value_unsupported');
    expect(codeOf(() => canonicalJsonJcs({ a: Infinity }))).toBe('value_unsupported');
    expect(codeOf(() => canonicalJsonJcs('\ud800'))).toBe('value_unsupported');
    expect(codeOf(() => canonicalJsonJcs(undefined))).toBe('value_unsupported');
    expect(codeOf(() => canonicalJsonJcs(1n))).toBe('value_unsupported');
  });
});

describe('canonicalJsonPython (CIP response_hash)', () => {
  const fixture = readSpecJson<{
    canonical_receipt_vectors: {
      result: unknown;
      canonical_result_json: string;
      response_hash: string;
    }[];
  }>(CIP_CONFORMANCE);

  it('matches the receipt vector of cip-conformance-v0.json (bytes and hash)', () => {
    expect(fixture.canonical_receipt_vectors.length).toBeGreaterThan(0);
    for (const v of fixture.canonical_receipt_vectors) {
      const out = canonicalJsonPython(v.result);
      expect(out).toBe(v.canonical_result_json);
      expect(createHash('sha256').update(out, 'utf8').digest('hex')).toBe(v.response_hash);
    }
  });

  // Expected strings produced by CPython 3 json.dumps(..., sort_keys=True,
  // separators=(',', ':')) while writing this test.
  it('escapes like ensure_ascii=True and sorts keys by code point', () => {
    expect(canonicalJsonPython({ é: 'x😀\u2028/\x7f\x01', b: [pyFloat(1), 2] })).toBe(
      '{"b":[1.0,2],"\\u00e9":"x\\ud83d\\ude00\\u2028/\\u007f\\u0001"}',
    );
    expect(canonicalJsonPython({ '\ue000': 1, '😀': 2, a: 3 })).toBe(
      '{"a":3,"\\ue000":1,"\\ud83d\\ude00":2}',
    );
    expect(canonicalJsonPython('"\\\n\r\t\b\f')).toBe('"\\"\\\\\\n\\r\\t\\b\\f"');
  });

  it("supports Python's default separators on request", () => {
    expect(
      canonicalJsonPython({ c: true, a: [1, { b: null }] }, { separators: [', ', ': '] }),
    ).toBe('{"a": [1, {"b": null}], "c": true}');
  });

  it('prints integers exactly and refuses undefined', () => {
    expect(canonicalJsonPython(1e21)).toBe('1000000000000000000000');
    expect(canonicalJsonPython(123456789012345678901234567890n)).toBe(
      '123456789012345678901234567890',
    );
    expect(codeOf(() => canonicalJsonPython({ a: undefined }))).toBe('value_unsupported');
    expect(codeOf(() => canonicalJsonPython(new Date()))).toBe('value_unsupported');
  });

  // [Python repr, value], from CPython 3.
  const PY_REPR: [string, number][] = [
    ['0.0', 0.0],
    ['-0.0', -0.0],
    ['1.0', 1.0],
    ['-2.5', -2.5],
    ['0.1', 0.1],
    ['100.0', 100.0],
    ['1000000000000000.0', 1e15],
    ['1e+16', 1e16],
    ['9999999999999998.0', 9999999999999998.0],
    ['1.2345678901234568e+16', 1.2345678901234568e16],
    ['0.0001', 0.0001],
    ['1e-05', 1e-5],
    ['1.5e-05', 1.5e-5],
    ['-1.5e-07', -1.5e-7],
    ['123456789.123', 123456789.123],
    ['1e+22', 1e22],
    ['1e+21', 1e21],
    ['5e-324', 5e-324],
    ['1.7976931348623157e+308', 1.7976931348623157e308],
    ['2.2250738585072014e-308', 2.2250738585072014e-308],
    ['333333333.3333333', 333333333.3333333],
    ['1e+30', 1e30],
    ['0.002', 0.002],
    ['1e-27', 1e-27],
    ['3.141592653589793', Math.PI],
    ['0.3333333333333333', 1 / 3],
    ['9007199254740992.0', 2 ** 53],
    ['1.23e-18', 1.23e-18],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
  ];
  for (const [repr, x] of PY_REPR) {
    it(`repr(float) ${repr}`, () => {
      expect(pythonFloatRepr(x)).toBe(repr);
    });
  }

  it('non-integers print as Python floats; integral numbers as ints', () => {
    expect(canonicalJsonPython([0.5, 1e-7, 3, pyFloat(3)])).toBe('[0.5,1e-07,3,3.0]');
  });

  it('output parses back to the same JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(JSON.parse(canonicalJsonPython(v))).toEqual(JSON.parse(JSON.stringify(v)));
      }),
      { numRuns: 300 },
    );
  });
});

describe('canonicalJsonSortedCompact (operator delegation form)', () => {
  it('produces the delegation bytes: sorted, compact, slashes unescaped', () => {
    const d = {
      operator_pub: '11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=',
      not_after: 1893456000,
      node_id: '00000000-0000-4000-8000-000000000001',
    };
    expect(canonicalJsonSortedCompact(d)).toBe(
      '{"node_id":"00000000-0000-4000-8000-000000000001","not_after":1893456000,"operator_pub":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="}',
    );
  });

  it('sorts nested keys by code point and leaves non-ASCII raw', () => {
    expect(
      canonicalJsonSortedCompact({
        z: { '😀': 1, '\ue000': 2, b: [{ y: 1, x: 'café' }] },
        a: null,
      }),
    ).toBe('{"a":null,"z":{"b":[{"x":"café","y":1}],"\ue000":2,"😀":1}}');
  });

  it('escapes controls and U+2028/U+2029 like PHP json_encode', () => {
    expect(canonicalJsonSortedCompact('a\u0001\n\u2028\u2029"\\')).toBe(
      '"a\\u0001\\n\\u2028\\u2029\\"\\\\"',
    );
  });

  it('refuses NaN, lone surrogates and class instances', () => {
    expect(codeOf(() => canonicalJsonSortedCompact(NaN))).toBe('value_unsupported');
    expect(codeOf(() => canonicalJsonSortedCompact({ '\udc00': 1 }))).toBe('value_unsupported');
    expect(codeOf(() => canonicalJsonSortedCompact(new Map()))).toBe('value_unsupported');
  });

  it('is order-independent and parses back to the same value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const out = canonicalJsonSortedCompact(v);
        expect(JSON.parse(out)).toEqual(JSON.parse(JSON.stringify(v)));
        const reversed = JSON.parse(JSON.stringify(v), (_k, x: unknown) =>
          x !== null && typeof x === 'object' && !Array.isArray(x)
            ? Object.fromEntries(Object.entries(x).reverse())
            : x,
        ) as unknown;
        expect(canonicalJsonSortedCompact(reversed)).toBe(out);
      }),
      { numRuns: 300 },
    );
  });
});
