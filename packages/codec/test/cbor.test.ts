import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  IICP_CBOR_TAGS,
  decodeCbor,
  decodeJson,
  encodeCbor,
  encodeJson,
  isCodecError,
} from '../src/index.ts';
import { hex, readSpecBytes, unhex } from './spec-files.ts';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (isCodecError(e)) return e.code;
    throw e;
  }
  return undefined;
}

// RFC 8949 Appendix A: examples whose encoding is also ours (integers, text, bytes,
// arrays, maps, simple values, and the floats whose preferred form is float64).
const APPENDIX_A_ENCODE: [unknown, string][] = [
  [0, '00'],
  [1, '01'],
  [10, '0a'],
  [23, '17'],
  [24, '1818'],
  [25, '1819'],
  [100, '1864'],
  [1000, '1903e8'],
  [1000000, '1a000f4240'],
  [1000000000000, '1b000000e8d4a51000'],
  [18446744073709551615n, '1bffffffffffffffff'],
  [-18446744073709551615n, '3bfffffffffffffffe'],
  [-1, '20'],
  [-10, '29'],
  [-100, '3863'],
  [-1000, '3903e7'],
  [1.1, 'fb3ff199999999999a'],
  [1.0e300, 'fb7e37e43c8800759c'],
  [-4.1, 'fbc010666666666666'],
  [false, 'f4'],
  [true, 'f5'],
  [null, 'f6'],
  [undefined, 'f7'],
  [new Uint8Array(0), '40'],
  [unhex('01020304'), '4401020304'],
  ['', '60'],
  ['a', '6161'],
  ['IETF', '6449455446'],
  ['"\\', '62225c'],
  ['\u00fc', '62c3bc'],
  ['\u6c34', '63e6b0b4'],
  ['\ud800\udd51', '64f0908591'],
  [[], '80'],
  [[1, 2, 3], '83010203'],
  [[1, [2, 3], [4, 5]], '8301820203820405'],
  [
    Array.from({ length: 25 }, (_, i) => i + 1),
    '98190102030405060708090a0b0c0d0e0f101112131415161718181819',
  ],
  [{}, 'a0'],
  [
    new Map([
      [1, 2],
      [3, 4],
    ]),
    'a201020304',
  ],
  [{ a: 1, b: [2, 3] }, 'a26161016162820203'],
  [['a', { b: 'c' }], '826161a161626163'],
  [{ a: 'A', b: 'B', c: 'C', d: 'D', e: 'E' }, 'a56161614161626142616361436164614461656145'],
];

// RFC 8949 Appendix A floats in half/single width: accepted on decode.
const APPENDIX_A_FLOATS: [string, number][] = [
  ['f90000', 0],
  ['f98000', -0],
  ['f93c00', 1],
  ['f93e00', 1.5],
  ['f97bff', 65504],
  ['fa47c35000', 100000],
  ['fa7f7fffff', 3.4028234663852886e38],
  ['f90001', 5.960464477539063e-8],
  ['f90400', 0.00006103515625],
  ['f9c400', -4],
  ['fbc010666666666666', -4.1],
  ['f97c00', Infinity],
  ['f97e00', NaN],
  ['f9fc00', -Infinity],
  ['fa7f800000', Infinity],
  ['fb7ff8000000000000', NaN],
];

describe('RFC 8949 Appendix A', () => {
  for (const [value, expected] of APPENDIX_A_ENCODE) {
    it(`encodes ${expected}`, () => {
      expect(hex(encodeCbor(value))).toBe(expected);
    });
    it(`decodes ${expected}`, () => {
      const back = decodeCbor(unhex(expected));
      if (typeof value === 'bigint') expect(back).toBe(value);
      else if (value instanceof Uint8Array) expect(hex(back as Uint8Array)).toBe(hex(value));
      else expect(back).toEqual(value);
    });
  }

  for (const [h, n] of APPENDIX_A_FLOATS) {
    it(`decodes float ${h}`, () => {
      expect(decodeCbor(unhex(h))).toBe(n);
    });
  }

  it('encodes every non-integer as float64 (iicp-cbor-wire.md §7 item 2), not the shortest float', () => {
    expect(hex(encodeCbor(1.5))).toBe('fb3ff8000000000000');
    expect(hex(encodeCbor(0.5))).toBe('fb3fe0000000000000');
    expect(hex(encodeCbor(Infinity))).toBe('fb7ff0000000000000');
    // Integral numbers are integers: RFC's 100000.0 example (fa47c35000) is 1a000186a0 here.
    expect(hex(encodeCbor(100000))).toBe('1a000186a0');
    expect(hex(encodeCbor(-0))).toBe('00');
    // Beyond ±(2^53-1) a JavaScript number is a float; bigints stay integers.
    expect(hex(encodeCbor(2 ** 60))).toBe('fb43b0000000000000');
    expect(hex(encodeCbor(2n ** 60n))).toBe('1b1000000000000000');
    expect(hex(encodeCbor(2 ** 40))).toBe('1b0000010000000000');
    expect(hex(encodeCbor(-(2 ** 40)))).toBe('3b000000ffffffffff');
    expect(hex(encodeCbor(-5n))).toBe('24');
    // RFC 8949's -2^64 example decodes, but cbor-x cannot encode it (see encodeCbor).
    expect(decodeCbor(unhex('3bffffffffffffffff'))).toBe(-18446744073709551616n);
    expect(codeOf(() => encodeCbor(-18446744073709551616n))).toBe('value_unsupported');
  });

  const REJECTED_TAGS = [
    'c074323031332d30332d32315432303a30343a30305a',
    'c11a514b67b0',
    'c1fb41d452d9ec200000',
    'd74401020304',
    'd818456449455446',
    'd82076687474703a2f2f7777772e6578616d706c652e636f6d',
    'c249010000000000000000',
  ];
  for (const h of REJECTED_TAGS) {
    it(`refuses tag item ${h.slice(0, 6)}… (only the IICP informational tags are allowed)`, () => {
      expect(codeOf(() => decodeCbor(unhex(h)))).toBe('cbor_invalid');
    });
  }

  const REJECTED_SIMPLE = ['f0', 'f8ff', 'f818'];
  for (const h of REJECTED_SIMPLE) {
    it(`refuses simple value ${h}`, () => {
      expect(codeOf(() => decodeCbor(unhex(h)))).toBe('cbor_invalid');
    });
  }

  const INDEFINITE = [
    '5f42010243030405ff',
    '7f657374726561646d696e67ff',
    '9fff',
    '9f018202039f0405ffff',
    '83018202039f0405ff',
    'bf61610161629f0203ffff',
    '826161bf61626163ff',
    'bf6346756ef563416d7421ff',
  ];
  for (const h of INDEFINITE) {
    it(`refuses indefinite-length ${h.slice(0, 8)}…`, () => {
      expect(codeOf(() => decodeCbor(unhex(h)))).toBe('cbor_non_deterministic');
    });
  }
});

describe('the derived task vector (notes digest-core.md §5)', () => {
  const VECTOR =
    'a56461757468a16a6e6f64655f746f6b656e63746f6b66696e74656e74781b75726e3a696963703a696e74656e743a6c6c6d3a636861743a7631677061796c6f6164a0677461736b5f6964782435353065383430302d653239622d343164342d613731362d3434363635353434303030306b636f6e73747261696e7473a16a74696d656f75745f6d73191388';
  // The JSON of iicp-cbor-wire.md §4.1.3, in the spec's key order.
  const task = {
    task_id: '550e8400-e29b-41d4-a716-446655440000',
    intent: 'urn:iicp:intent:llm:chat:v1',
    payload: {},
    constraints: { timeout_ms: 5000 },
    auth: { node_token: 'tok' },
  };

  it('the spec section the vector derives from is present', () => {
    const text = readSpecBytes('spec/v1.9/iicp-cbor-wire.md').toString('utf8');
    expect(text).toContain('"constraints": {"timeout_ms": 5000}');
    expect(text).toContain('Map keys lexicographically sorted by encoded byte representation');
  });

  it('encodes untagged to the vector, and tagged with d9ffff when asked', () => {
    expect(hex(encodeCbor(task))).toBe(VECTOR);
    expect(hex(encodeCbor(task, { tag: IICP_CBOR_TAGS.task }))).toBe(`d9ffff${VECTOR}`);
  });

  it('decodes tagged and untagged forms to the same object', () => {
    expect(decodeCbor(unhex(VECTOR))).toEqual(task);
    expect(decodeCbor(unhex(`d9ffff${VECTOR}`))).toEqual(task);
    expect(decodeCbor(unhex(`d9fffc${VECTOR}`))).toEqual(task);
  });
});

describe('strict decoding', () => {
  it('refuses duplicate keys', () => {
    expect(codeOf(() => decodeCbor(unhex('a2616101616102')))).toBe('cbor_non_deterministic');
    expect(codeOf(() => decodeCbor(unhex('a3616101616202616103')))).toBe('cbor_non_deterministic');
    expect(codeOf(() => decodeCbor(unhex('a201010102')))).toBe('cbor_non_deterministic');
  });

  it('refuses keys out of RFC 8949 §4.2.1 order (always: spec/decisions.md D-046)', () => {
    expect(codeOf(() => decodeCbor(unhex('a2616201616101')))).toBe('cbor_non_deterministic');
    // Length first: "bb" sorts after "c".
    expect(codeOf(() => decodeCbor(unhex('a262626201616302')))).toBe('cbor_non_deterministic');
    expect(decodeCbor(unhex('a261630262626201'))).toEqual({ c: 2, bb: 1 });
    // Unsigned before negative integers.
    expect(codeOf(() => decodeCbor(unhex('a220010000')))).toBe('cbor_non_deterministic');
    expect(decodeCbor(unhex('a200002001'))).toEqual(
      new Map([
        [0, 0],
        [-1, 1],
      ]),
    );
  });

  it('refuses non-shortest heads', () => {
    for (const h of [
      '1817',
      '190017',
      '1a00000017',
      '1b0000000000000017',
      '3817',
      '5800',
      '780161',
      '9800',
      'b800',
      '1900ff',
    ]) {
      expect(
        codeOf(() => decodeCbor(unhex(h))),
        h,
      ).toBe('cbor_non_deterministic');
    }
  });

  it('refuses trailing bytes, truncation, bad UTF-8, reserved heads and odd keys', () => {
    expect(codeOf(() => decodeCbor(unhex('0000')))).toBe('cbor_invalid');
    expect(codeOf(() => decodeCbor(new Uint8Array(0)))).toBe('cbor_invalid');
    expect(codeOf(() => decodeCbor(unhex('1a0000')))).toBe('cbor_invalid');
    expect(codeOf(() => decodeCbor(unhex('6261')))).toBe('cbor_invalid');
    expect(codeOf(() => decodeCbor(unhex('62c328')))).toBe('cbor_invalid');
    expect(codeOf(() => decodeCbor(unhex('1c')))).toBe('cbor_invalid');
    expect(codeOf(() => decodeCbor(unhex('ff')))).toBe('cbor_invalid');
    expect(codeOf(() => decodeCbor(unhex('1f')))).toBe('cbor_invalid');
    expect(codeOf(() => decodeCbor(unhex('a1410101')))).toBe('cbor_invalid');
    expect(codeOf(() => decodeCbor(unhex('9affffffff')))).toBe('cbor_invalid');
    expect(codeOf(() => decodeCbor(unhex('5bffffffffffffffff')))).toBe('cbor_invalid');
  });

  it('refuses oversize input and deep nesting', () => {
    expect(codeOf(() => decodeCbor(unhex('4a00010203040506070809'), { maxBytes: 10 }))).toBe(
      'payload_too_large',
    );
    expect(decodeCbor(unhex('4a00010203040506070809'), { maxBytes: 11 })).toBeInstanceOf(
      Uint8Array,
    );
    const huge = new Uint8Array(16_777_217);
    expect(codeOf(() => decodeCbor(huge))).toBe('payload_too_large');
    const nest = (n: number) => unhex(`${'81'.repeat(n)}00`);
    expect(codeOf(() => decodeCbor(nest(65)))).toBe('payload_too_large');
    expect(decodeCbor(nest(64))).toBeInstanceOf(Array);
    expect(codeOf(() => decodeCbor(nest(5), { maxDepth: 4 }))).toBe('payload_too_large');
  });

  it('decodes integer-keyed maps to Map and text-keyed maps to objects', () => {
    const m = decodeCbor(unhex('a3010102617820a1616101'));
    expect(m).toBeInstanceOf(Map);
    expect([...(m as Map<unknown, unknown>).entries()]).toEqual([
      [1, 1],
      [2, 'x'],
      [-1, { a: 1 }],
    ]);
    const o = decodeCbor(unhex('a1695f5f70726f746f5f5f01')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
    expect(Object.keys(o)).toEqual(['__proto__']);
  });

  it('refuses values with no CBOR form on encode', () => {
    expect(codeOf(() => encodeCbor(() => 1))).toBe('value_unsupported');
    expect(codeOf(() => encodeCbor(new (class X {})()))).toBe('value_unsupported');
    expect(codeOf(() => encodeCbor(2n ** 64n))).toBe('value_unsupported');
    expect(
      codeOf(() =>
        encodeCbor(
          new Map<unknown, unknown>([
            [1, 1],
            [1n, 2],
          ]),
        ),
      ),
    ).toBe('value_unsupported');
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    expect(codeOf(() => encodeCbor(cyclic))).toBe('value_unsupported');
  });

  it('never throws anything but CodecError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        try {
          decodeCbor(b);
        } catch (e) {
          expect(isCodecError(e)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});

/** What JSON can tell apart: -0 becomes 0, undefined members vanish. */
const normalize = (v: unknown): unknown => JSON.parse(JSON.stringify(v)) as unknown;

/** A deep copy with object keys inserted in a shuffled order. */
function shuffled(v: unknown, seed: number): unknown {
  let s = seed >>> 0 || 1;
  const next = () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s;
  };
  const walk = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(walk);
    if (x instanceof Map) {
      const e = [...x.entries()];
      e.sort(() => (next() & 1 ? 1 : -1));
      return new Map(e.map(([k, y]) => [k, walk(y)]));
    }
    if (x !== null && typeof x === 'object') {
      const keys = Object.keys(x);
      for (let i = keys.length - 1; i > 0; i--) {
        const j = next() % (i + 1);
        [keys[i], keys[j]] = [keys[j]!, keys[i]!];
      }
      const out: Record<string, unknown> = {};
      for (const k of keys)
        Object.defineProperty(out, k, {
          value: walk((x as Record<string, unknown>)[k]),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      return out;
    }
    return x;
  };
  return walk(v);
}

describe('properties', () => {
  it('CBOR round trip of arbitrary JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(decodeCbor(encodeCbor(v))).toEqual(normalize(v));
      }),
      { numRuns: 400 },
    );
  });

  it('JSON round trip of arbitrary JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(decodeJson(encodeJson(v))).toEqual(normalize(v));
      }),
      { numRuns: 400 },
    );
  });

  it('deterministic encoding does not depend on key insertion order', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer(), (v, seed) => {
        expect(hex(encodeCbor(shuffled(v, seed)))).toBe(hex(encodeCbor(v)));
      }),
      { numRuns: 400 },
    );
  });

  it('non-ASCII text keys sort by encoded bytes and pass the strict decoder', () => {
    const key = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 6 }),
      fc.string({ maxLength: 6 }),
    );
    fc.assert(
      fc.property(fc.dictionary(key, fc.integer()), fc.integer(), (d, seed) => {
        const bytes = encodeCbor(d);
        expect(decodeCbor(bytes)).toEqual(normalize(d));
        expect(hex(encodeCbor(shuffled(d, seed)))).toBe(hex(bytes));
        const asMap = new Map(Object.entries(d));
        expect(hex(encodeCbor(asMap))).toBe(hex(bytes));
      }),
      { numRuns: 300 },
    );
  });

  it('integer-keyed Maps: order-independent and round trip as Map', () => {
    const entries = fc.uniqueArray(
      fc.tuple(fc.integer({ min: -100000, max: 100000 }), fc.jsonValue({ maxDepth: 2 })),
      {
        selector: ([k]) => k,
        minLength: 1,
        maxLength: 12,
      },
    );
    fc.assert(
      fc.property(entries, fc.integer(), (e, seed) => {
        const m = new Map(e);
        const bytes = encodeCbor(m);
        expect(hex(encodeCbor(shuffled(m, seed)))).toBe(hex(bytes));
        const back = decodeCbor(bytes) as Map<number, unknown>;
        expect(back).toBeInstanceOf(Map);
        expect(new Map([...back.entries()].sort((a, b) => a[0] - b[0]))).toEqual(
          new Map(e.map(([k, v]) => [k, normalize(v)] as const).sort((a, b) => a[0] - b[0])),
        );
      }),
      { numRuns: 300 },
    );
  });
});
