/**
 * The direct CBOR writer and the one-pass strict decoder (issue 11) against the code
 * they replaced (test/support/reference-cbor.ts: prepare + cbor-x, strict scan +
 * cbor-x): same bytes, same values, same errors, on random values and envelopes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IICP_CBOR_TAGS, decodeCbor, encodeCbor, isCodecError } from '../src/index.ts';
import { hex } from './spec-files.ts';
import { referenceDecodeCbor, referenceEncodeCbor } from './support/reference-cbor.ts';

type Outcome = { bytes: string } | { value: unknown } | { error: string };

/**
 * A decoded value as comparable data: objects become `['object', entries]` (undefined
 * members kept), Maps `['map', entries]`, byte strings `['bytes', hex, class]`. The
 * prototype of decoded objects is left out: cbor-x sometimes built null-prototype
 * objects; the one-pass decoder always builds ordinary ones (checked on its own).
 */
function comparable(v: unknown): unknown {
  if (Array.isArray(v)) return ['array', v.map(comparable)];
  if (v instanceof Map) return ['map', [...v].map(([k, x]) => [k, comparable(x)])];
  if (v instanceof Uint8Array) return ['bytes', hex(v), v.constructor.name];
  if (v !== null && typeof v === 'object') {
    return ['object', Object.entries(v).map(([k, x]) => [k, comparable(x)])];
  }
  return v;
}

function ordinaryObjects(v: unknown): boolean {
  if (Array.isArray(v)) return v.every(ordinaryObjects);
  if (v instanceof Map) return [...v.values()].every(ordinaryObjects);
  if (v instanceof Uint8Array || v === null || typeof v !== 'object') return true;
  return Object.getPrototypeOf(v) === Object.prototype && Object.values(v).every(ordinaryObjects);
}

function outcome(fn: () => unknown, asBytes: boolean): Outcome {
  try {
    const v = fn();
    return asBytes ? { bytes: hex(v as Uint8Array) } : { value: comparable(v) };
  } catch (e) {
    return { error: isCodecError(e) ? `${e.code}: ${e.message}` : `${(e as Error).name}` };
  }
}

/** An object with exactly these own enumerable properties, in this order. */
function objectOf(entries: [string, unknown][], nullProto: boolean): Record<string, unknown> {
  const o: Record<string, unknown> = nullProto
    ? (Object.create(null) as Record<string, unknown>)
    : {};
  for (const [k, v] of entries) {
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return o;
}

const keyArb = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.string({ unit: 'grapheme', maxLength: 4 }),
  fc.constantFrom('__proto__', '10', '9', '0', '01', '4294967295', 'constructor', 'a', 'aa', 'b'),
);

const leafArb = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.string({ unit: 'binary', maxLength: 90 }),
  fc.string({ unit: 'grapheme', maxLength: 70 }),
  fc.string({ minLength: 20, maxLength: 300 }),
  fc.double(),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.bigInt({ min: -(2n ** 65n), max: 2n ** 65n }),
  fc.constantFrom(
    0,
    -0,
    23,
    24,
    255,
    256,
    65535,
    65536,
    2 ** 32 - 1,
    2 ** 32,
    -(2 ** 32),
    -(2 ** 32) - 1,
    2 ** 53,
    -(2 ** 53),
    2 ** 64,
    NaN,
    Infinity,
    -Infinity,
    2n ** 64n - 1n,
    -(2n ** 64n),
    -(2n ** 64n) + 1n,
  ),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.uint8Array({ maxLength: 40 }),
  fc.date({ noInvalidDate: true }),
);

const { value: valueArb } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafArb,
    fc.array(tie('value'), { maxLength: 30 }),
    fc
      .tuple(fc.array(fc.tuple(keyArb, tie('value')), { maxLength: 26 }), fc.boolean())
      .map(([e, nullProto]) => objectOf(e, nullProto)),
    fc
      .array(
        fc.tuple(
          fc.oneof(fc.integer({ min: -300, max: 300 }), fc.bigInt(), keyArb, fc.date()),
          tie('value'),
        ),
        { maxLength: 6 },
      )
      .map((e) => new Map(e)),
  ),
}));

const envelopeArb = fc.record(
  {
    task_id: fc.uuid(),
    intent: fc.constantFrom('urn:iicp:intent:llm:chat:v1', 'urn:iicp:intent:embed:text:v1'),
    payload: fc.record({
      messages: fc.array(
        fc.record({
          role: fc.constantFrom('system', 'user', 'assistant'),
          content: fc.string({ unit: 'grapheme', maxLength: 200 }),
        }),
        { maxLength: 4 },
      ),
      temperature: fc.double({ min: 0, max: 2, noNaN: true }),
    }),
    constraints: fc.record(
      {
        timeout_ms: fc.integer({ min: 1, max: 300_000 }),
        max_tokens: fc.integer({ min: 1, max: 1 << 20 }),
        qos: fc.constantFrom('interactive', 'batch'),
        region: fc.option(fc.string(), { nil: undefined }),
      },
      { requiredKeys: [] },
    ),
    auth: fc.record({
      node_token: fc.string({
        unit: fc.constantFrom(...'0123456789abcdef'),
        minLength: 64,
        maxLength: 64,
      }),
    }),
    trace_id: fc.uuid(),
  },
  { requiredKeys: ['task_id', 'intent', 'payload'] },
);

const tagArb = fc.option(
  fc.constantFrom(...Object.values(IICP_CBOR_TAGS), 1, 65531, 0x10000 as number),
  { nil: undefined },
);

function pinEncode(v: unknown, tag?: number): void {
  const opts = tag === undefined ? {} : { tag: tag as never };
  expect(outcome(() => encodeCbor(v, opts), true)).toStrictEqual(
    outcome(() => referenceEncodeCbor(v, opts), true),
  );
}

function pinDecode(bytes: Uint8Array, maxDepth?: number): void {
  // Without options decodeCbor takes its shared defaults; with, it builds its own.
  const opts = maxDepth === undefined ? undefined : { maxDepth };
  try {
    expect(ordinaryObjects(decodeCbor(bytes, opts))).toBe(true);
  } catch (e) {
    if (!isCodecError(e)) throw e;
  }
  const expected = outcome(() => referenceDecodeCbor(bytes, opts ?? {}), false);
  expect(outcome(() => decodeCbor(bytes, opts), false)).toStrictEqual(expected);
  if (maxDepth === undefined) {
    expect(outcome(() => decodeCbor(bytes, {}), false)).toStrictEqual(expected);
  }
}

describe('encodeCbor writes what prepare + cbor-x wrote', () => {
  it('on random task envelopes', () => {
    fc.assert(
      fc.property(envelopeArb, tagArb, (env, tag) => pinEncode(env, tag)),
      { numRuns: 300 },
    );
  });

  it('on random values (every type, odd keys, lone surrogates, Maps, errors)', () => {
    fc.assert(
      fc.property(valueArb, tagArb, (v, tag) => pinEncode(v, tag)),
      { numRuns: 500 },
    );
  });

  it('on objects whose key sequence was seen before (cached order and key bytes)', () => {
    // The same keys twice or more, with fresh values: the second encode takes the cached
    // shape, whose keys are copied as encoded bytes unless one is a lone surrogate.
    const entriesArb = fc.uniqueArray(
      fc.oneof(
        keyArb,
        fc.constantFrom('\ud800', 'a\udfff', '\ud83d\ude00', 'é', 'k'.repeat(30), 'k'.repeat(70)),
      ),
      { minLength: 2, maxLength: 8 },
    );
    fc.assert(
      fc.property(
        entriesArb,
        fc.array(fc.array(leafArb, { minLength: 8, maxLength: 8 }), {
          minLength: 2,
          maxLength: 3,
        }),
        fc.boolean(),
        (keys, rows, nullProto) => {
          for (const row of rows) {
            const obj = objectOf(
              keys.map((k, i) => [k, row[i]]),
              nullProto,
            );
            pinEncode(obj);
            pinEncode({ outer: obj, list: [obj, obj] });
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('on text whose UTF-8 length sits at a head-size boundary (the head may have to grow)', () => {
    const units = ['a', '\u00e9', '\u20ac', '\ud83d\ude00', '\ud800'];
    fc.assert(
      fc.property(
        fc.constantFrom(23, 24, 31, 32, 63, 64, 255, 256, 65_535, 65_536),
        fc.integer({ min: -3, max: 3 }),
        fc.array(fc.constantFrom(...units), { minLength: 1, maxLength: 4 }),
        (target, delta, mix) => {
          const parts: string[] = [];
          for (let i = 0, n = 0; n < target + delta; i++) {
            const u = mix[i % mix.length]!;
            parts.push(u);
            n += Buffer.byteLength(u);
          }
          const s = parts.join('');
          pinEncode(s);
          pinEncode({ [s.slice(0, 40)]: s });
        },
      ),
      { numRuns: 120, seed: 20261207 },
    );
  });

  it('on values that cannot be encoded, with the same error', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic['self'] = cyclic;
    const deep: unknown[] = [];
    let cur = deep;
    for (let i = 0; i < 70; i++) cur.push((cur = []));
    for (const v of [
      cyclic,
      deep,
      { f: () => 1 },
      [Symbol('s')],
      { x: new (class Thing {})() },
      new Map([[{}, 1]]),
      2n ** 64n,
      -(2n ** 64n),
      { d: new Date(NaN) },
    ]) {
      pinEncode(v);
    }
  });

  it('results stay intact while later messages are encoded (small and large)', () => {
    const small = encodeCbor({ a: 'x'.repeat(10) });
    const large = encodeCbor({ b: 'y'.repeat(20_000) });
    const keep = [hex(small), hex(large)];
    for (let i = 0; i < 200; i++) encodeCbor({ i, s: 'z'.repeat(i * 50) });
    expect([hex(small), hex(large)]).toEqual(keep);
  });

  it('large values that outgrow the scratch buffer mid-message, after earlier results', () => {
    const sizes = [10, 5_000, 70_000, 100, 300_000, 4_000, 1_100_000, 20];
    const kept: [Uint8Array, string][] = [];
    for (const n of sizes) {
      for (const v of [
        { a: 'x'.repeat(n) },
        { z: [1, { y: '\u00e9'.repeat(n >> 1) }], a: new Uint8Array(n).fill(7) },
      ]) {
        const bytes = encodeCbor(v);
        expect(hex(bytes)).toBe(hex(referenceEncodeCbor(v)));
        kept.push([bytes, hex(bytes)]);
      }
    }
    for (const [bytes, h] of kept) expect(hex(bytes)).toBe(h);
  });

  it('small results, handed out as views of the scratch buffer, never overlap', () => {
    fc.assert(
      fc.property(fc.array(envelopeArb, { minLength: 20, maxLength: 80 }), (envs) => {
        const kept = envs.map((v) => encodeCbor(v));
        envs.forEach((v, i) => expect(hex(kept[i]!)).toBe(hex(referenceEncodeCbor(v))));
      }),
      { numRuns: 30 },
    );
  });

  it('a small result does not keep a scratch buffer grown for a large message alive', () => {
    encodeCbor({ a: 'x'.repeat(1_000_000) });
    const small = encodeCbor({ b: 1 });
    expect(small.buffer.byteLength).toBeLessThanOrEqual(16 * 1024);
    expect(hex(small)).toBe(hex(referenceEncodeCbor({ b: 1 })));
  });

  it('transferring a result does not detach the scratch buffer later results live in', () => {
    const first = encodeCbor({ a: 1 });
    structuredClone(first.buffer, { transfer: [first.buffer as ArrayBuffer] });
    expect(hex(first)).toBe(hex(referenceEncodeCbor({ a: 1 })));
    expect(hex(encodeCbor({ b: 'two' }))).toBe(hex(referenceEncodeCbor({ b: 'two' })));
  });

  it('a getter that encodes while an encode is running gets its own bytes', () => {
    const inner = { n: 1 };
    const outer = {
      get a() {
        return encodeCbor(inner);
      },
      b: 'x',
    };
    pinEncode(outer);
    expect(decodeCbor(encodeCbor(outer))).toEqual({ a: encodeCbor(inner), b: 'x' });
  });
});

describe('decodeCbor decodes (and refuses) what the scan + cbor-x path did', () => {
  it('on the encodings of random values and envelopes', () => {
    fc.assert(
      fc.property(fc.oneof(valueArb, envelopeArb), tagArb, (v, tag) => {
        let bytes: Uint8Array;
        try {
          bytes = referenceEncodeCbor(v, tag === undefined ? {} : { tag: tag as never });
        } catch {
          return;
        }
        pinDecode(bytes);
      }),
      { numRuns: 400 },
    );
  });

  it('on damaged encodings: a byte changed, cut short, or extended', () => {
    fc.assert(
      fc.property(
        valueArb,
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom('flip', 'cut', 'append'),
        fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
        (v, at, byte, how, maxDepth) => {
          let bytes: Uint8Array;
          try {
            bytes = referenceEncodeCbor(v);
          } catch {
            return;
          }
          const b = Uint8Array.from(bytes);
          const i = at % b.length;
          const damaged =
            how === 'flip'
              ? (b.set([byte], i), b)
              : how === 'cut'
                ? b.subarray(0, i)
                : Uint8Array.from([...b, byte]);
          pinDecode(damaged, maxDepth);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 48 }), (b) => pinDecode(b)),
      { numRuns: 500 },
    );
  });

  it('on text of every length to 300, ASCII or not, valid UTF-8 or not, as value and key', () => {
    // Each length range of the text decoder (built by fromCharCode, latin1Slice or
    // utf8Slice, scanned in JavaScript or checked natively) against the reference.
    const head = (major: number, n: number): number[] =>
      n < 24
        ? [(major << 5) | n]
        : n < 256
          ? [(major << 5) | 24, n]
          : [(major << 5) | 25, n >> 8, n & 0xff];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 0x7f }),
        fc.option(fc.tuple(fc.nat(), fc.integer({ min: 0x80, max: 0xff })), { nil: undefined }),
        fc.oneof(fc.constant(''), fc.string({ unit: 'grapheme', maxLength: 3 })),
        fc.boolean(),
        (len, fill, odd, tail, asBuffer) => {
          const body = new Uint8Array(len).fill(fill);
          for (let i = 0; i < len; i++) body[i] = 0x20 + ((fill + i * 7) % 0x5f);
          if (odd !== undefined && len > 0) body[odd[0] % len] = odd[1];
          const utf8 = Uint8Array.from([...body, ...Buffer.from(tail)]);
          const asValue = Uint8Array.from([...head(3, utf8.length), ...utf8]);
          const asKey = Uint8Array.from([0xa1, ...head(3, utf8.length), ...utf8, 0x01]);
          // A one-byte length head, shortest or not, and the item cut short.
          const wide = utf8.length < 256 ? [Uint8Array.from([0x78, utf8.length, ...utf8])] : [];
          const cut = asValue.subarray(0, Math.min(asValue.length - 1, 2 + (fill % 4)));
          for (const b of [asValue, asKey, ...wide, cut]) pinDecode(asBuffer ? Buffer.from(b) : b);
        },
      ),
      { numRuns: 1500, seed: 20261207 },
    );
  });

  it('tells apart keys that share a cache slot (same length, first, middle and last byte)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 3, max: 40 }),
        fc.array(fc.uint8Array({ minLength: 40, maxLength: 40 }), { minLength: 2, maxLength: 5 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 12 }),
        (len, fills, order) => {
          // Keys that differ only in the bytes the slot is not computed from.
          const keys = fills.map((f) => {
            const k = Buffer.from(f.subarray(0, len));
            for (let i = 0; i < len; i++) k[i] = 0x61 + (k[i]! % 26);
            k[0] = 0x6b;
            k[len >> 1] = 0x6d;
            k[len - 1] = 0x7a;
            return k.toString('latin1');
          });
          for (const i of order) {
            pinDecode(referenceEncodeCbor({ [keys[i % keys.length]!]: i, z: 0 }));
          }
        },
      ),
      { numRuns: 300, seed: 20261207 },
    );
  });

  it('on every head at the shortest-form boundaries, whole or cut short', () => {
    const tail = Uint8Array.of(0x61, 0x61, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08);
    for (let major = 0; major < 8; major++) {
      for (const [ai, min] of [
        [24, 24n],
        [25, 0x100n],
        [26, 0x1_0000n],
        [27, 0x1_0000_0000n],
      ] as const) {
        const size = 1 << (ai - 24);
        for (const arg of [0n, min - 1n, min, (1n << BigInt(8 * size)) - 1n]) {
          const head = [(major << 5) | ai];
          for (let i = size - 1; i >= 0; i--) head.push(Number((arg >> BigInt(8 * i)) & 0xffn));
          for (let t = 0; t <= tail.length; t += 3) {
            const b = Uint8Array.from([...head, ...tail.subarray(0, t)]);
            for (let cut = 1; cut <= b.length; cut++) pinDecode(b.subarray(0, cut));
            // As a map key too (integers and text are keys; the rest is refused).
            pinDecode(Uint8Array.from([0xa1, ...b, 0x00]));
          }
        }
      }
    }
  });

  it('keeps a leading byte order mark in long and short text', () => {
    for (const s of ['\ufeffab', `\ufeff${'x'.repeat(100)}`]) {
      expect(decodeCbor(encodeCbor(s))).toBe(s);
    }
  });

  it('does not let a caller reusing its buffer change cached key names', () => {
    const buf = Buffer.from(encodeCbor({ abc: 1 }));
    expect(decodeCbor(buf)).toEqual({ abc: 1 });
    buf.set(Buffer.from(encodeCbor({ abd: 1 })));
    expect(decodeCbor(buf)).toEqual({ abd: 1 });
  });
});
