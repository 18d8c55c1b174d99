/**
 * validateCbor (and the package-internal scanCbor) against the scan as it was before
 * it shared its head reading with the decoder (test/support/reference-validate.ts):
 * same outcome, same error code, message and offset, same flags.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scanCbor, validateCbor, type CborValidateOptions } from '../src/cbor-validate.ts';
import { IICP_CBOR_TAGS, isCodecError } from '../src/index.ts';
import { referenceEncodeCbor } from './support/reference-cbor.ts';
import {
  scanCbor as referenceScanCbor,
  validateCbor as referenceValidateCbor,
} from './support/reference-validate.ts';

function outcome(fn: () => unknown): unknown {
  try {
    return { value: fn() };
  } catch (e) {
    if (!isCodecError(e)) throw e;
    return { error: e.code, message: e.message, offset: e.offset };
  }
}

function pin(bytes: Uint8Array, opts: CborValidateOptions): void {
  expect(outcome(() => validateCbor(bytes, opts))).toStrictEqual(
    outcome(() => referenceValidateCbor(bytes, opts)),
  );
  expect(outcome(() => scanCbor(bytes, opts))).toStrictEqual(
    outcome(() => referenceScanCbor(bytes, opts)),
  );
}

const optsArb: fc.Arbitrary<CborValidateOptions> = fc.record({
  maxBytes: fc.oneof(fc.constant(16_777_216), fc.integer({ min: 0, max: 64 })),
  maxDepth: fc.oneof(fc.constant(64), fc.integer({ min: 0, max: 6 })),
  allowedTags: fc.oneof(
    fc.constant(new Set<number>(Object.values(IICP_CBOR_TAGS))),
    fc.array(fc.nat({ max: 30 }), { maxLength: 3 }).map((t) => new Set(t)),
  ),
});

const valueArb = fc.oneof(
  fc.jsonValue(),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.oneof(fc.bigInt(), fc.double(), fc.uint8Array())),
  fc.array(fc.oneof(fc.bigInt(), fc.integer(), fc.string({ unit: 'binary', maxLength: 30 }))),
);

describe('validateCbor checks what it checked before it shared cbor-head.ts', () => {
  it('on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), optsArb, (b, opts) => pin(b, opts)),
      { numRuns: 2000, seed: 20261207 },
    );
  });

  it('on every initial byte followed by a few bytes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.uint8Array({ maxLength: 10 }),
        optsArb,
        (ib, rest, opts) => pin(Uint8Array.from([ib, ...rest]), opts),
      ),
      { numRuns: 3000, seed: 20261207 },
    );
  });

  it('on every head at the shortest-form boundaries, whole or cut short', () => {
    // Arguments of 1, 2, 4 and 8 bytes at 0, at the smallest value that needs the
    // width, one below it, and at the largest; followed by a few bytes of content.
    const widths: [number, bigint][] = [
      [24, 24n],
      [25, 0x100n],
      [26, 0x1_0000n],
      [27, 0x1_0000_0000n],
    ];
    const tail = Uint8Array.of(0x61, 0x61, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08);
    for (let major = 0; major < 8; major++) {
      for (const [ai, min] of widths) {
        const size = 1 << (ai - 24);
        const max = (1n << BigInt(8 * size)) - 1n;
        for (const arg of [0n, min - 1n, min, max]) {
          const head = [(major << 5) | ai];
          for (let i = size - 1; i >= 0; i--) head.push(Number((arg >> BigInt(8 * i)) & 0xffn));
          for (let t = 0; t <= tail.length; t += 3) {
            const b = Uint8Array.from([...head, ...tail.subarray(0, t)]);
            for (let cut = 1; cut <= b.length; cut++) {
              pin(b.subarray(0, cut), {
                maxBytes: 1 << 24,
                maxDepth: 64,
                allowedTags: new Set([0, 24, 0x100, 0xff, 0xffff]),
              });
            }
          }
        }
      }
    }
  });

  it('on encodings of values, intact and damaged', () => {
    fc.assert(
      fc.property(
        valueArb,
        fc.option(fc.constantFrom(...Object.values(IICP_CBOR_TAGS)), { nil: undefined }),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom('none', 'flip', 'cut', 'append'),
        optsArb,
        (v, tag, at, byte, how, opts) => {
          let bytes: Uint8Array;
          try {
            bytes = Uint8Array.from(referenceEncodeCbor(v, tag === undefined ? {} : { tag }));
          } catch {
            return;
          }
          const i = at % bytes.length;
          const damaged =
            how === 'none'
              ? bytes
              : how === 'flip'
                ? (bytes.set([byte], i), bytes)
                : how === 'cut'
                  ? bytes.subarray(0, i)
                  : Uint8Array.from([...bytes, byte]);
          pin(damaged, opts);
          pin(damaged, { ...opts, maxBytes: 16_777_216, maxDepth: 64 });
        },
      ),
      { numRuns: 1500, seed: 20261207 },
    );
  });
});
