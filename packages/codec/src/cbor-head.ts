import { CodecError } from './errors.ts';

/**
 * What the strict decoder (cbor-decode.ts) and `validateCbor` (cbor-validate.ts) share:
 * the major types, the errors both throw (same codes, messages and offsets), and the
 * reading of a head's argument with the determinism checks of RFC 8949 §4.2.1
 * (shortest form, no indefinite lengths) that iicp-cbor-wire.md §1.1 and
 * iicp-framing.md §4.1 require.
 */

export const MAJOR_UINT = 0;
export const MAJOR_NINT = 1;
export const MAJOR_BYTES = 2;
export const MAJOR_TEXT = 3;
export const MAJOR_ARRAY = 4;
export const MAJOR_MAP = 5;
export const MAJOR_TAG = 6;
export const MAJOR_SIMPLE = 7;

export function invalid(msg: string, at: number): never {
  throw new CodecError('cbor_invalid', `CBOR: ${msg} at byte ${at}`, { offset: at });
}

export function nonDeterministic(msg: string, at: number): never {
  throw new CodecError('cbor_non_deterministic', `CBOR: ${msg} at byte ${at}`, { offset: at });
}

/** An array, map or tag at `at` would nest deeper than `maxDepth`. */
export function tooDeep(maxDepth: number, at: number): never {
  throw new CodecError('payload_too_large', `CBOR: nesting deeper than ${maxDepth} at byte ${at}`, {
    offset: at,
  });
}

/** How many argument bytes follow an initial byte with additional information `ai` ≤ 27. */
export function argumentBytes(ai: number): number {
  return ai < 24 ? 0 : 1 << (ai - 24);
}

/**
 * The argument of the head at `start`, whose initial byte (major type `major`,
 * additional information `ai`) has been read; its argument bytes, if any, start at
 * `at`, and the input ends at `end`. An 8-byte argument is hi·2^32 + lo, exact below
 * 2^53. Throws on a truncated head, reserved additional information, an indefinite
 * length and (except for major 7, whose float widths are not policed) a head that is
 * not the shortest. The caller moves past `argumentBytes(ai)` bytes.
 */
export function readArgument(
  b: Uint8Array,
  at: number,
  end: number,
  major: number,
  ai: number,
  start: number,
): number {
  let arg: number;
  let min: number;
  switch (ai) {
    case 24:
      if (end - at < 1) invalid('truncated data item', at);
      arg = b[at]!;
      min = 24;
      break;
    case 25:
      if (end - at < 2) invalid('truncated data item', at);
      arg = (b[at]! << 8) | b[at + 1]!;
      min = 0x100;
      break;
    case 26:
      if (end - at < 4) invalid('truncated data item', at);
      arg = u32(b, at);
      min = 0x10000;
      break;
    case 27:
      if (end - at < 8) invalid('truncated data item', at);
      // Precision is lost above 2^53: such a length never fits, and callers that need
      // the exact integer read the two halves again.
      arg = u32(b, at) * 0x1_0000_0000 + u32(b, at + 4);
      min = 0x1_0000_0000;
      break;
    case 28:
    case 29:
    case 30:
      return invalid(`reserved additional information ${ai}`, start);
    case 31:
      if (
        major === MAJOR_BYTES ||
        major === MAJOR_TEXT ||
        major === MAJOR_ARRAY ||
        major === MAJOR_MAP
      ) {
        return nonDeterministic('indefinite-length item', start);
      }
      return invalid(
        major === MAJOR_SIMPLE
          ? 'unexpected break'
          : 'indefinite head on a major type that has none',
        start,
      );
    default:
      return ai;
  }
  if (major !== MAJOR_SIMPLE && arg < min) nonDeterministic('non-shortest head', start);
  return arg;
}

/** The big-endian u32 at `at`. */
export function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) >>> 0) + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
}

/** Bytewise lexicographic comparison of two ranges of one buffer. */
export function compareRanges(
  b: Uint8Array,
  s1: number,
  e1: number,
  s2: number,
  e2: number,
): number {
  const n = Math.min(e1 - s1, e2 - s2);
  for (let i = 0; i < n; i++) {
    const d = b[s1 + i]! - b[s2 + i]!;
    if (d !== 0) return d;
  }
  return e1 - s1 - (e2 - s2);
}
