import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createResponseCodecMemo, negotiateResponseCodec } from '../src/negotiation.ts';

const mediaType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'Application/JSON',
  'application/iicp+json',
  'application/iicp+cbor',
  'application/cbor',
  'text/plain',
  'application/*',
  '*/*',
  'text/event-stream',
  'application/x-ndjson',
  '',
  ' ',
  ';',
  'application/json;q=0',
  'application/iicp+cbor;q=0.5',
  'application/cbor; q=1.0',
  'application/json; q=0.9',
  'garbage"',
  'a/b; q=2',
);
const header = fc.oneof(
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: mediaType },
  {
    weight: 3,
    arbitrary: fc.array(mediaType, { minLength: 2, maxLength: 4 }).map((a) => a.join(', ')),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);

function outcome(f: () => unknown): unknown {
  try {
    return f();
  } catch (err) {
    return `${(err as Error).name}: ${(err as Error).message}`;
  }
}

describe('createResponseCodecMemo', () => {
  for (const cbor of [true, false]) {
    it(`answers as the general negotiation, call after call (cbor ${String(cbor)})`, () => {
      const runs = fc.sample(
        fc.array(fc.tuple(header, header), { minLength: 1, maxLength: 600, size: 'max' }),
        {
          numRuns: 40,
          seed: cbor ? 0x60d : 0x60e,
        },
      );
      let mostPairs = 0;
      let binary = 0;
      for (const calls of runs) {
        const memo = createResponseCodecMemo(cbor);
        const seen = new Set<string>();
        // Each pair twice in a row (miss, then hit) and again later in the run.
        for (const [ct, accept] of [...calls, ...calls]) {
          const want = outcome(() => negotiateResponseCodec(ct, accept, cbor));
          expect(outcome(() => memo(ct, accept))).toBe(want);
          expect(outcome(() => memo(ct, accept))).toBe(want);
          seen.add(`${ct}|${accept}`);
          if (typeof want === 'object' && (want as { binary: boolean }).binary) binary++;
        }
        mostPairs = Math.max(mostPairs, seen.size);
      }
      // Past the memo's bound (256 pairs) twice in one run, and both codecs chosen.
      expect(mostPairs).toBeGreaterThan(2 * 256);
      if (cbor) expect(binary).toBeGreaterThan(100);
      else expect(binary).toBe(0);
    });
  }
});
