import { isUtf8 } from 'node:buffer';
import {
  MAJOR_ARRAY,
  MAJOR_BYTES,
  MAJOR_MAP,
  MAJOR_NINT,
  MAJOR_TAG,
  MAJOR_TEXT,
  MAJOR_UINT,
  argumentBytes,
  compareRanges,
  invalid,
  nonDeterministic,
  readArgument,
  tooDeep,
} from './cbor-head.ts';
import { CodecError } from './errors.ts';

/**
 * Strictness pass over CBOR bytes, run before the bytes reach cbor-x.
 *
 * Written by hand because no CBOR library does it: cbor-x (like most decoders)
 * accepts indefinite lengths, non-shortest heads, duplicate and unsorted map keys,
 * trailing bytes and arbitrary tags without complaint, and iicp-cbor-wire.md §1.1 and
 * iicp-framing.md §4.1 require receivers to reject all of those (RFC 8949 §4.2.1).
 * The pass only reads; it allocates nothing proportional to the input.
 */

/** Limits on untrusted CBOR input. */
export interface CborLimits {
  /** Largest accepted input in bytes. */
  readonly maxBytes: number;
  /** Deepest accepted nesting of arrays, maps and tags. */
  readonly maxDepth: number;
}

export interface CborStrictness {
  /** Tag numbers that may appear; every other tag is refused. */
  readonly allowedTags: ReadonlySet<number>;
}

export type CborValidateOptions = CborLimits & CborStrictness;

/** What the scan saw that a plain-object decode of cbor-x would get wrong. */
export const SCAN_NEEDS_MAPS = 1; // a map key that is not text, or a "__proto__" key
export const SCAN_HAS_TAGS = 2;
export const SCAN_HAS_WIDE_INTS = 4; // 8-byte integer heads (cbor-x may return bigint)

// UTF-8 of the text key "__proto__", which cbor-x renames when decoding to objects.
const PROTO_KEY = Uint8Array.of(0x69, 0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f);

class StrictReader {
  private pos = 0;
  private readonly end: number;
  flags = 0;

  constructor(
    private readonly b: Uint8Array,
    private readonly opts: CborValidateOptions,
  ) {
    this.end = b.length;
  }

  run(): number {
    if (this.end === 0) this.invalid('empty input');
    this.item(0);
    if (this.pos !== this.end) {
      this.invalid(`${this.end - this.pos} trailing byte(s) after the data item`);
    }
    return this.flags;
  }

  private invalid(msg: string, at = this.pos): never {
    return invalid(msg, at);
  }

  private need(n: number): void {
    if (this.end - this.pos < n) invalid('truncated data item', this.pos);
  }

  /** Reads the argument of a head whose initial byte was already consumed. */
  private argument(major: number, ai: number, start: number): number {
    if (ai < 24) return ai;
    const arg = readArgument(this.b, this.pos, this.end, major, ai, start);
    this.pos += argumentBytes(ai);
    return arg;
  }

  private item(depth: number): void {
    const start = this.pos;
    this.need(1);
    const ib = this.b[this.pos]!;
    this.pos += 1;
    const major = ib >> 5;
    const ai = ib & 0x1f;
    const arg = this.argument(major, ai, start);
    switch (major) {
      case MAJOR_UINT:
      case MAJOR_NINT:
        if (ai === 27) this.flags |= SCAN_HAS_WIDE_INTS;
        return;
      case MAJOR_BYTES:
        if (arg > this.end - this.pos) this.invalid('byte string runs past the end', start);
        this.pos += arg;
        return;
      case MAJOR_TEXT:
        if (arg > this.end - this.pos) this.invalid('text string runs past the end', start);
        if (!this.isAscii(arg) && !isUtf8(this.b.subarray(this.pos, this.pos + arg))) {
          this.invalid('text string is not valid UTF-8', start);
        }
        this.pos += arg;
        return;
      case MAJOR_ARRAY:
        this.enter(depth, start);
        // Every element takes at least one byte: refuse impossible counts before looping.
        if (arg > this.end - this.pos) this.invalid('array longer than the input', start);
        for (let i = 0; i < arg; i++) this.item(depth + 1);
        return;
      case MAJOR_MAP:
        this.enter(depth, start);
        if (arg * 2 > this.end - this.pos) this.invalid('map longer than the input', start);
        this.map(arg, depth);
        return;
      case MAJOR_TAG:
        this.enter(depth, start);
        if (!this.opts.allowedTags.has(arg)) this.invalid(`tag ${arg} is not allowed`, start);
        this.flags |= SCAN_HAS_TAGS;
        this.item(depth + 1);
        return;
      default:
        // Major 7: false, true, null, undefined and the three float widths. Float width
        // is not policed on receive (see encodeCbor: we send float64, RFC 8949
        // preferred serialization sends the shortest width; both must interoperate).
        if (ai >= 20 && ai <= 23) return;
        if (ai >= 25 && ai <= 27) return;
        this.invalid(
          ai === 24 ? `simple value ${arg} is not allowed` : `simple value ${ai} is not allowed`,
          start,
        );
    }
  }

  /** Short strings are checked in JavaScript: cheaper than a native call on a view. */
  private isAscii(len: number): boolean {
    if (len > 64) return false;
    const b = this.b;
    for (let i = this.pos, e = this.pos + len; i < e; i++) if (b[i]! >= 0x80) return false;
    return true;
  }

  private enter(depth: number, at: number): void {
    if (depth + 1 > this.opts.maxDepth) tooDeep(this.opts.maxDepth, at);
  }

  private map(count: number, depth: number): void {
    const b = this.b;
    let prevStart = -1;
    let prevEnd = -1;
    for (let i = 0; i < count; i++) {
      const keyStart = this.pos;
      this.need(1);
      const keyMajor = b[keyStart]! >> 5;
      if (keyMajor !== MAJOR_UINT && keyMajor !== MAJOR_NINT && keyMajor !== MAJOR_TEXT) {
        this.invalid('map key is neither an integer nor a text string', keyStart);
      }
      this.item(depth + 1);
      const keyEnd = this.pos;
      if (keyMajor !== MAJOR_TEXT || isProtoKey(b, keyStart, keyEnd)) this.flags |= SCAN_NEEDS_MAPS;
      // Strictly increasing encoded keys: sorted, and therefore free of duplicates.
      if (prevStart >= 0) {
        const c = compareRanges(b, prevStart, prevEnd, keyStart, keyEnd);
        if (c === 0) nonDeterministic('duplicate map key', keyStart);
        if (c > 0) nonDeterministic('map keys not in RFC 8949 §4.2.1 order', keyStart);
      }
      prevStart = keyStart;
      prevEnd = keyEnd;
      this.item(depth + 1);
    }
  }
}

function isProtoKey(b: Uint8Array, start: number, end: number): boolean {
  if (end - start !== PROTO_KEY.length) return false;
  for (let i = 0; i < PROTO_KEY.length; i++) if (b[start + i] !== PROTO_KEY[i]) return false;
  return true;
}

/**
 * Checks that `bytes` is exactly one well-formed CBOR data item in deterministic
 * encoding (RFC 8949 §4.2.1) within the limits; throws `CodecError` otherwise:
 * `payload_too_large` (size or depth), `cbor_invalid` (ill-formed, truncated, trailing
 * bytes, bad UTF-8, a tag or simple value IICP does not use, a key that is neither an
 * integer nor text), `cbor_non_deterministic` (indefinite length, non-shortest head,
 * duplicate or unsorted keys).
 */
export function validateCbor(bytes: Uint8Array, opts: CborValidateOptions): void {
  scanCbor(bytes, opts);
}

/** `validateCbor` that also returns the SCAN_* flags (internal to the package). */
export function scanCbor(bytes: Uint8Array, opts: CborValidateOptions): number {
  if (bytes.length > opts.maxBytes) {
    throw new CodecError(
      'payload_too_large',
      `CBOR input of ${bytes.length} bytes exceeds ${opts.maxBytes}`,
    );
  }
  return new StrictReader(bytes, opts).run();
}
