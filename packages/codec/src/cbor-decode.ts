import { isUtf8 } from 'node:buffer';
import {
  argumentBytes,
  compareRanges,
  invalid,
  nonDeterministic,
  readArgument,
  tooDeep,
  u32,
} from './cbor-head.ts';
import { CodecError } from './errors.ts';
import type { CborValidateOptions } from './cbor-validate.ts';

/**
 * The strict CBOR decoder: one pass that checks exactly what `validateCbor` checks, in
 * the same order and with the same errors (limits, well-formedness, deterministic
 * encoding per RFC 8949 §4.2.1 as iicp-cbor-wire.md §1.1 and iicp-framing.md §4.1
 * require, only the allowed tags), and builds the value as it goes.
 *
 * It replaced "validate, then decode with cbor-x", which read every message twice; the
 * values are the ones that path produced (a property test pins the two together):
 * text-keyed maps are plain objects ("__proto__" an own property), maps with integer
 * keys are `Map`s, integers beyond ±(2^53-1) are bigint (8-byte map keys always are),
 * tags are dropped, byte strings are views of the input.
 */

/**
 * The major types of cbor-head.ts (RFC 8949 §3.1), as local literals: importing them
 * made each decode of the 100 B task envelope 36-45 ns (about 3%) slower in paired,
 * interleaved runs (Node 20), where the shared head reader below cost nothing.
 */
const MAJOR_UINT = 0;
const MAJOR_NINT = 1;
const MAJOR_BYTES = 2;
const MAJOR_TEXT = 3;
const MAJOR_ARRAY = 4;
const MAJOR_MAP = 5;
const MAJOR_TAG = 6;

/** 2^53 - 1 split at 2^32: an 8-byte argument below this `hi` is a safe integer. */
const SAFE_HI = 0x20_0000;

const EMPTY = new Uint8Array(0);
const fromCharCode = String.fromCharCode;

// Decoder state: decoding is synchronous and not re-entrant, so module-level is enough.
let src: Uint8Array = EMPTY;
/** Buffer's own slice decoders (what `toString` calls after checking its arguments). */
type SliceDecoders = Buffer & {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
};
let text = Buffer.alloc(0) as SliceDecoders;
let pos = 0;
let end = 0;
let maxDepth = 0;
let allowedTags: ReadonlySet<number> = new Set();

function need(n: number): void {
  if (end - pos < n) invalid('truncated data item', pos);
}

function enter(depth: number, at: number): void {
  if (depth + 1 > maxDepth) tooDeep(maxDepth, at);
}

/** The argument of a head whose initial byte was consumed (see readArgument). */
function argument(major: number, ai: number, start: number): number {
  if (ai < 24) return ai;
  const arg = readArgument(src, pos, end, major, ai, start);
  pos += argumentBytes(ai);
  return arg;
}

/** An integer item's value; 8-byte ones are bigint unless safe (or `keepWide`). */
function integer(major: number, ai: number, arg: number, keepWide: boolean): number | bigint {
  if (ai !== 27) return major === MAJOR_UINT ? arg : -1 - arg;
  // The 8-byte argument just read, exact.
  const wideHi = u32(src, pos - 8);
  const n = (BigInt(wideHi) << 32n) | BigInt(u32(src, pos - 4));
  if (major === MAJOR_UINT) return !keepWide && wideHi < SAFE_HI ? arg : n;
  // -1 - n is safe while n ≤ 2^53 - 2.
  return !keepWide && wideHi < SAFE_HI && arg < Number.MAX_SAFE_INTEGER ? -1 - arg : -1n - n;
}

function textItem(len: number, start: number): string {
  if (len > end - pos) invalid('text string runs past the end', start);
  const s = pos;
  const e = s + len;
  // Short and medium text is usually ASCII: a scan here spares a view and a native call.
  if (len <= ASCII_SCAN_MAX && isAscii(s, e)) {
    pos = e;
    // Each way yields the same string; which is cheapest depends on the length.
    if (len <= FROM_CHAR_CODE_MAX) return asciiShort(s, e);
    return len <= LATIN1_SLICE_MAX ? text.latin1Slice(s, e) : text.utf8Slice(s, e);
  }
  if (!isUtf8(src.subarray(s, e))) invalid('text string is not valid UTF-8', start);
  pos = e;
  return text.utf8Slice(s, e);
}

/** Text up to this length is scanned for ASCII in JavaScript. */
const ASCII_SCAN_MAX = 256;
/**
 * ASCII up to this length is built with String.fromCharCode: below 13 characters V8
 * concatenates into a flat string, and a native call costs more than the loop.
 */
const FROM_CHAR_CODE_MAX = 12;
/** Longer ASCII: latin1Slice up to this length, then utf8Slice (faster on long ASCII). */
const LATIN1_SLICE_MAX = 48;

/** True when every byte in [s, e) is below 0x80; eight bytes per test. */
function isAscii(s: number, e: number): boolean {
  const b = src;
  let i = s;
  for (; i + 8 <= e; i += 8) {
    const or =
      b[i]! | b[i + 1]! | b[i + 2]! | b[i + 3]! | b[i + 4]! | b[i + 5]! | b[i + 6]! | b[i + 7]!;
    if (or >= 0x80) return false;
  }
  for (; i < e; i++) if (b[i]! >= 0x80) return false;
  return true;
}

/** ASCII bytes [s, e) as a string, four characters per fromCharCode call. */
function asciiShort(s: number, e: number): string {
  const b = src;
  let out = '';
  let i = s;
  for (; i + 4 <= e; i += 4) out += fromCharCode(b[i]!, b[i + 1]!, b[i + 2]!, b[i + 3]!);
  for (; i < e; i++) out += fromCharCode(b[i]!);
  return out;
}

function item(depth: number): unknown {
  const start = pos;
  need(1);
  const ib = src[pos]!;
  pos += 1;
  // Text with a length in the initial byte or the next one (most values).
  if (ib >= 0x60 && ib <= 0x78) {
    let len = ib - 0x60;
    if (len === 24) {
      need(1);
      len = src[pos]!;
      pos += 1;
      if (len < 24) nonDeterministic('non-shortest head', start);
    }
    return textItem(len, start);
  }
  if (ib < 0x18) return ib;
  const major = ib >> 5;
  const ai = ib & 0x1f;
  const arg = argument(major, ai, start);
  switch (major) {
    case MAJOR_UINT:
    case MAJOR_NINT:
      return integer(major, ai, arg, false);
    case MAJOR_BYTES: {
      if (arg > end - pos) invalid('byte string runs past the end', start);
      const out = src.subarray(pos, pos + arg);
      pos += arg;
      return out;
    }
    case MAJOR_TEXT:
      return textItem(arg, start);
    case MAJOR_ARRAY: {
      enter(depth, start);
      // Every element takes at least one byte: refuse impossible counts before looping.
      if (arg > end - pos) invalid('array longer than the input', start);
      const out = new Array<unknown>(arg);
      for (let i = 0; i < arg; i++) out[i] = item(depth + 1);
      return out;
    }
    case MAJOR_MAP:
      enter(depth, start);
      if (arg * 2 > end - pos) invalid('map longer than the input', start);
      return map(arg, depth);
    case MAJOR_TAG:
      enter(depth, start);
      if (!allowedTags.has(arg)) invalid(`tag ${arg} is not allowed`, start);
      // The informational tags carry no meaning (iicp-cbor-wire.md §3): dropped.
      return item(depth + 1);
    default:
      // Major 7: false, true, null, undefined and the three float widths. Float width
      // is not policed on receive (encodeCbor sends float64; RFC 8949 preferred
      // serialization sends the shortest width; both must interoperate).
      switch (ai) {
        case 20:
          return false;
        case 21:
          return true;
        case 22:
          return null;
        case 23:
          return undefined;
        case 25:
          return half(arg);
        case 26:
          return float(pos - 4, 4);
        case 27:
          return float(pos - 8, 8);
      }
      return invalid(
        ai === 24 ? `simple value ${arg} is not allowed` : `simple value ${ai} is not allowed`,
        start,
      );
  }
}

// Big-endian floats through a scratch buffer: cheaper than a DataView per message.
const scratch = new ArrayBuffer(8);
const scratchBytes = new Uint8Array(scratch);
const scratchF32 = new Float32Array(scratch, 0, 1);
const scratchF64 = new Float64Array(scratch);
const littleEndian = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

function float(at: number, width: 4 | 8): number {
  const b = src;
  const t = scratchBytes;
  if (width === 8) {
    // Unrolled: a loop with a computed index cost more than the rest of the item.
    if (littleEndian) {
      t[0] = b[at + 7]!;
      t[1] = b[at + 6]!;
      t[2] = b[at + 5]!;
      t[3] = b[at + 4]!;
      t[4] = b[at + 3]!;
      t[5] = b[at + 2]!;
      t[6] = b[at + 1]!;
      t[7] = b[at]!;
    } else for (let i = 0; i < 8; i++) t[i] = b[at + i]!;
    return scratchF64[0]!;
  }
  for (let i = 0; i < 4; i++) t[littleEndian ? 3 - i : i] = b[at + i]!;
  return scratchF32[0]!;
}

/** IEEE 754 binary16 to a number (exact: every half is a double). */
function half(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1024 + frac) * 2 ** (exp - 25);
}

/** A map key: an integer (8-byte ones stay bigint) or text; anything else refused. */
function key(): unknown {
  const start = pos;
  need(1);
  const ib = src[pos]!;
  // Text shorter than 24 bytes (most keys): the length is in the initial byte.
  if (ib >= 0x60 && ib < 0x78) {
    pos += 1;
    const len = ib - 0x60;
    return len <= end - pos ? cachedKey(len, start) : textItem(len, start);
  }
  const major = ib >> 5;
  if (major !== MAJOR_UINT && major !== MAJOR_NINT && major !== MAJOR_TEXT) {
    invalid('map key is neither an integer nor a text string', start);
  }
  pos += 1;
  const ai = ib & 0x1f;
  const arg = argument(major, ai, start);
  if (major !== MAJOR_TEXT) return integer(major, ai, arg, true);
  return arg <= KEY_CACHE_MAX_LEN && arg <= end - pos
    ? cachedKey(arg, start)
    : textItem(arg, start);
}

/**
 * Map keys repeat from message to message: a small cache from key bytes to the string
 * (already internalized by its first use as a property name) saves decoding it and,
 * above all, V8 interning a fresh string per property store.
 */
const KEY_CACHE_MAX_LEN = 32;
const KEY_CACHE_SIZE = 1024;
/**
 * Key bytes, slot i at i * KEY_CACHE_MAX_LEN, in one typed array (comparing against one
 * array, not one per key, keeps the loop's loads monomorphic); keyLengths[i] is the
 * length + 1 (0: empty slot).
 */
const keyArena = new Uint8Array(KEY_CACHE_SIZE * KEY_CACHE_MAX_LEN);
const keyLengths = new Uint8Array(KEY_CACHE_SIZE);
const keyStrings: string[] = new Array<string>(KEY_CACHE_SIZE).fill('');

function cachedKey(len: number, start: number): string {
  const b = src;
  const s = pos;
  // A cheap slot from the length and three bytes; the full comparison below decides.
  const slot =
    len === 0
      ? 0
      : (len * 97 + b[s]! * 31 + b[s + (len >> 1)]! * 7 + b[s + len - 1]!) & (KEY_CACHE_SIZE - 1);
  if (keyLengths[slot] === len + 1) {
    const o = slot * KEY_CACHE_MAX_LEN - s;
    let i = s;
    const e = s + len;
    while (i < e && keyArena[o + i] === b[i]) i++;
    if (i === e) {
      pos = e;
      return keyStrings[slot]!;
    }
  }
  // Decoded (and checked) the normal way, then remembered.
  let str = textItem(len, start);
  // The property-name form of the string (what Object.keys hands out): later stores
  // with it skip V8's per-store lookup of a freshly built string.
  const probe: Record<string, number> = {};
  probe[str] = 0;
  str = Object.keys(probe)[0] ?? str;
  // A copy: the caller may reuse its buffer.
  keyArena.set(b.subarray(s, s + len), slot * KEY_CACHE_MAX_LEN);
  keyLengths[slot] = len + 1;
  keyStrings[slot] = str;
  return str;
}

/**
 * Integer keys encode below every text key (major 0/1 before 3), so in a sorted map the
 * first key says it all: text first means only text keys (a plain object), an integer
 * first means a `Map`.
 */
function map(count: number, depth: number): unknown {
  if (count === 0) return {};
  const asObject = src[pos]! >> 5 === MAJOR_TEXT;
  const obj: Record<string, unknown> = {};
  const m = asObject ? undefined : new Map<unknown, unknown>();
  let prevStart = -1;
  let prevEnd = -1;
  for (let i = 0; i < count; i++) {
    const keyStart = pos;
    const k = key();
    const keyEnd = pos;
    // Strictly increasing encoded keys: sorted, and therefore free of duplicates.
    if (prevStart >= 0) {
      // Keys of different lengths differ in their first (head) byte already.
      const d = src[prevStart]! - src[keyStart]!;
      const c = d !== 0 ? d : compareRanges(src, prevStart, prevEnd, keyStart, keyEnd);
      if (c === 0) nonDeterministic('duplicate map key', keyStart);
      if (c > 0) nonDeterministic('map keys not in RFC 8949 §4.2.1 order', keyStart);
    }
    prevStart = keyStart;
    prevEnd = keyEnd;
    const v = item(depth + 1);
    if (m !== undefined) m.set(k, v);
    else if (k === '__proto__') {
      Object.defineProperty(obj, k, {
        value: v,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else obj[k as string] = v;
  }
  return m ?? obj;
}

/** Decodes one data item strictly (see the module comment); throws `CodecError`. */
export function decodeStrict(bytes: Uint8Array, opts: CborValidateOptions): unknown {
  if (bytes.length > opts.maxBytes) {
    throw new CodecError(
      'payload_too_large',
      `CBOR input of ${bytes.length} bytes exceeds ${opts.maxBytes}`,
    );
  }
  src = bytes;
  text = (
    Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  ) as SliceDecoders;
  pos = 0;
  end = bytes.length;
  maxDepth = opts.maxDepth;
  allowedTags = opts.allowedTags;
  try {
    if (end === 0) invalid('empty input', pos);
    const value = item(0);
    if (pos !== end) invalid(`${end - pos} trailing byte(s) after the data item`, pos);
    return value;
  } finally {
    // Do not keep the caller's bytes alive.
    src = EMPTY;
    text = EMPTY_BUFFER as SliceDecoders;
  }
}

const EMPTY_BUFFER = Buffer.alloc(0);
