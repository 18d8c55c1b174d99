import { markAsUntransferable } from 'node:worker_threads';
import { Encoder, Tag } from 'cbor-x';
import { decodeStrict } from './cbor-decode.ts';
import { CodecError } from './errors.ts';
import type { CborLimits } from './cbor-validate.ts';
import { compareCodePoints, utf8Length } from './text.ts';

/**
 * The informational CBOR tags of iicp-cbor-wire.md §3. Parsers MUST accept a message
 * tagged or untagged; we never emit one unless asked, because iicp-framing.md §11.3
 * says 65535 is IANA's always-invalid tag and MUST NOT be emitted, and that current
 * IICP messages are untagged.
 */
export const IICP_CBOR_TAGS = {
  task: 65535,
  response: 65534,
  node: 65533,
  nodelist: 65532,
} as const;

export type IicpCborTag = (typeof IICP_CBOR_TAGS)[keyof typeof IICP_CBOR_TAGS];

const INFORMATIONAL_TAGS: ReadonlySet<number> = new Set(Object.values(IICP_CBOR_TAGS));

/**
 * Default decode limits. `maxBytes` is the single-frame cap of iicp-framing.md §2
 * (16,777,216 bytes), the largest IICP message on any transport; HTTP servers pass
 * their own body limit. `maxDepth` is a project choice (the spec sets none): IICP
 * messages nest a handful of levels, and a cap keeps recursion bounded.
 */
export const DEFAULT_CBOR_LIMITS: CborLimits = { maxBytes: 16_777_216, maxDepth: 64 };

/** What `decodeCbor` passes the strict decoder when called without options. */
const DEFAULT_DECODE_OPTIONS = { ...DEFAULT_CBOR_LIMITS, allowedTags: INFORMATIONAL_TAGS };

/**
 * Decode options: only limits. Strictness is not configurable (spec/decisions.md
 * D-046: receivers MUST reject non-deterministic CBOR, iicp-cbor-wire.md §1.1,
 * iicp-framing.md §4.1).
 */
export type CborDecodeOptions = CborLimits;

export interface CborEncodeOptions {
  /** Wrap the root in one of the informational tags. Off by default (see IICP_CBOR_TAGS). */
  readonly tag?: IicpCborTag;
}

// cbor-x's defaults would emit record extensions (tag 105), tag 259 for Maps and typed
// array tags; these options make it plain RFC 8949. `useTag259ForMaps` is missing from
// its type declarations.
const encoder = new Encoder({
  useRecords: false,
  mapsAsObjects: true,
  tagUint8Array: false,
  variableMapSize: true,
  useTag259ForMaps: false,
} as ConstructorParameters<typeof Encoder>[0]);

const U32_MAX = 0xffff_ffff;
const U64_MAX = 2n ** 64n - 1n;

function unsupported(msg: string): never {
  throw new CodecError('value_unsupported', msg);
}

/**
 * RFC 8949 §4.2.1 order of two text keys: a text key encodes as a head carrying its
 * UTF-8 length, then the bytes, so comparing encodings bytewise is "shorter UTF-8
 * first, then UTF-8 bytes", and UTF-8 byte order is code point order.
 */
function compareTextKeys(a: string, la: number, b: string, lb: number): number {
  return la !== lb ? la - lb : compareCodePoints(a, b);
}

/** Sorts keys per RFC 8949 §4.2.1; throws on keys that encode identically. */
function sortEntries(entries: [unknown, unknown][]): [unknown, unknown][] {
  if (entries.every(([k]) => typeof k === 'string')) {
    const keyed = entries.map((e) => ({ e, k: e[0] as string, n: utf8Length(e[0] as string) }));
    keyed.sort((a, b) => compareTextKeys(a.k, a.n, b.k, b.n));
    for (let i = 1; i < keyed.length; i++) {
      if (keyed[i - 1]!.k === keyed[i]!.k) unsupported('duplicate map key');
    }
    return keyed.map((x) => x.e);
  }
  // The old encodeCbor of a key (not the slab writer, which is mid-message here).
  const keyed = entries.map((e) => ({ e, b: encoder.encode(prepare(e[0], 0)) as Uint8Array }));
  keyed.sort((a, b) => Buffer.compare(a.b, b.b));
  for (let i = 1; i < keyed.length; i++) {
    if (Buffer.compare(keyed[i - 1]!.b, keyed[i]!.b) === 0) unsupported('duplicate map key');
  }
  return keyed.map((x) => x.e);
}

/** A key JavaScript would enumerate before all others, whatever the insertion order. */
function isIndexKey(k: string): boolean {
  const c = k.charCodeAt(0);
  return c >= 0x30 && c <= 0x39 && /^(?:0|[1-9]\d{0,9})$/.test(k) && Number(k) < 0xffff_ffff;
}

const compareAsciiKeys = (a: string, b: string): number =>
  a.length !== b.length ? a.length - b.length : a < b ? -1 : 1;

function preparePlainObject(obj: Record<string, unknown>, depth: number): unknown {
  const keys = Object.keys(obj);
  // A plain object keeps insertion order (cbor-x writes Object.keys order) unless a key
  // is an array index; "__proto__" cannot be assigned as data. Those two need a Map.
  let asObject = true;
  let ascii = true;
  for (const k of keys) {
    if (ascii && utf8Length(k) !== k.length) ascii = false;
    if (k === '__proto__' || isIndexKey(k)) asObject = false;
  }
  if (ascii) {
    // For ASCII, UTF-16 order is byte order and length is byte length.
    keys.sort(compareAsciiKeys);
  } else {
    const lens = new Map(keys.map((k) => [k, utf8Length(k)]));
    keys.sort((a, b) => compareTextKeys(a, lens.get(a)!, b, lens.get(b)!));
  }
  if (asObject) {
    const out: Record<string, unknown> = {};
    for (const k of keys) {
      const x = obj[k];
      // Like JSON: a property whose value is undefined is absent.
      if (x !== undefined) out[k] = prepare(x, depth + 1);
    }
    return out;
  }
  const out = new Map<string, unknown>();
  for (const k of keys) {
    const x = obj[k];
    if (x !== undefined) out.set(k, prepare(x, depth + 1));
  }
  return out;
}

/**
 * Rewrites a value into what cbor-x encodes deterministically: objects and Maps become
 * Maps in sorted key order (a plain object cannot hold "10" before "9"), integers
 * outside 32 bits become bigint (cbor-x would otherwise write them as floats), bigints
 * inside 32 bits become numbers (cbor-x would write 8-byte heads).
 */
function prepare(v: unknown, depth: number): unknown {
  switch (typeof v) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return v;
    case 'number':
      // Safe integers are integers; an integral double beyond ±(2^53-1) is treated as
      // the float it is, so numbers survive a round trip as numbers.
      if (Number.isSafeInteger(v) && (v > U32_MAX || v < -U32_MAX - 1)) return BigInt(v);
      return v;
    case 'bigint':
      if (v <= BigInt(U32_MAX) && v >= -BigInt(U32_MAX) - 1n) return Number(v);
      if (v > U64_MAX || v < -U64_MAX - 1n)
        unsupported('integer beyond 64 bits (bignum tags are not used)');
      // cbor-x 1.6.8 writes exactly -2^64 as a tag-3 bignum (its bound is off by one).
      if (v === -U64_MAX - 1n) unsupported('-2^64 cannot be encoded (it decodes fine)');
      return v;
    case 'object': {
      if (v === null) return v;
      if (depth > DEFAULT_CBOR_LIMITS.maxDepth)
        unsupported('value nests too deeply (or is cyclic)');
      if (Array.isArray(v)) return v.map((x) => prepare(x, depth + 1));
      if (v instanceof Uint8Array) return v;
      if (v instanceof Map) {
        const entries: [unknown, unknown][] = [];
        for (const [k, x] of v) {
          if (x !== undefined) entries.push([prepare(k, depth + 1), prepare(x, depth + 1)]);
        }
        return new Map(sortEntries(entries));
      }
      // RFC 3339 text, never tag 1 (iicp-cbor-wire.md §7 item 3).
      if (v instanceof Date) return v.toISOString();
      const proto: unknown = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        unsupported(`cannot encode an instance of ${(v as object).constructor?.name ?? 'a class'}`);
      }
      return preparePlainObject(v as Record<string, unknown>, depth);
    }
    default:
      return unsupported(`cannot encode a ${typeof v}`);
  }
}

// The writer. Encoding goes straight into a scratch buffer, with no intermediate sorted
// copy of the value. Every branch writes exactly the bytes `prepare` + cbor-x wrote
// before (pinned by a property test against that path, test/support/reference-cbor.ts);
// only Maps still take that path.
const SLAB_BYTES = 16 * 1024;
/**
 * Results up to this size are copied out of a scratch buffer grown for a large message
 * (so that a small result does not keep megabytes alive); from a standard one they are
 * handed out as views, like Buffer's own pool but without the copy.
 */
const SMALL_RESULT_BYTES = 4096;

/** Buffer's own UTF-8 writer (what `write` calls after checking its arguments). */
type Slab = Buffer & { utf8Write(s: string, offset: number, length: number): number };

/** A scratch buffer; results are views of it, so it must never be detached. */
function newSlab(size: number): Slab {
  const b = Buffer.allocUnsafeSlow(size) as Slab;
  markAsUntransferable(b.buffer);
  return b;
}

let slab = newSlab(SLAB_BYTES);
let slabView = new DataView(slab.buffer, slab.byteOffset, slab.length);
/** Where the current message starts: bytes before it were handed out as results. */
let base = 0;
let pos = 0;

/** Room for `n` more bytes: the message so far moves to a bigger buffer when needed. */
function ensure(n: number): void {
  if (pos + n <= slab.length) return;
  // Four times what is needed, like cbor-x: the next large messages fit without moving.
  const used = pos - base;
  const size = Math.max(SLAB_BYTES, Math.ceil(((used + n) * 4) / 4096) * 4096);
  const next = newSlab(size);
  slab.copy(next, 0, base, pos);
  slab = next;
  slabView = new DataView(next.buffer, next.byteOffset, next.length);
  base = 0;
  pos = used;
}

/** A head with an argument below 2^32, shortest form (RFC 8949 §4.2.1). */
function writeHead(major: number, n: number): void {
  ensure(5);
  const m = major << 5;
  if (n < 24) slab[pos++] = m | n;
  else if (n < 0x100) {
    slab[pos++] = m | 24;
    slab[pos++] = n;
  } else if (n < 0x10000) {
    slab[pos++] = m | 25;
    slab[pos++] = n >> 8;
    slab[pos++] = n & 0xff;
  } else {
    slab[pos++] = m | 26;
    slabView.setUint32(pos, n);
    pos += 4;
  }
}

/** A head with an 8-byte argument (integers of 2^32 and above). */
function writeHead64(major: number, n: number | bigint): void {
  ensure(9);
  slab[pos++] = (major << 5) | 27;
  if (typeof n === 'bigint') slabView.setBigUint64(pos, n);
  else {
    slabView.setUint32(pos, Math.floor(n / 0x1_0000_0000));
    slabView.setUint32(pos + 4, n >>> 0);
  }
  pos += 8;
}

/**
 * Text: UTF-8 after a shortest head. Short strings are encoded by hand and long ones by
 * `Buffer#utf8Write`, after a head sized from the UTF-16 length and moved when the
 * byte length needs a wider one (as cbor-x does, so the bytes are the same).
 */
function writeText(s: string): void {
  const len = s.length;
  const headSize = len < 0x20 ? 1 : len < 0x100 ? 2 : len < 0x10000 ? 3 : 5;
  ensure(len * 3 + 5);
  const b = slab;
  const at = pos;
  let p = at + headSize;
  if (len < 0x40) {
    for (let i = 0; i < len; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) b[p++] = c;
      else if (c < 0x800) {
        b[p++] = (c >> 6) | 0xc0;
        b[p++] = (c & 0x3f) | 0x80;
      } else if ((c & 0xfc00) === 0xd800 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        c = 0x10000 + ((c & 0x03ff) << 10) + (s.charCodeAt(++i) & 0x03ff);
        b[p++] = (c >> 18) | 0xf0;
        b[p++] = ((c >> 12) & 0x3f) | 0x80;
        b[p++] = ((c >> 6) & 0x3f) | 0x80;
        b[p++] = (c & 0x3f) | 0x80;
      } else {
        b[p++] = (c >> 12) | 0xe0;
        b[p++] = ((c >> 6) & 0x3f) | 0x80;
        b[p++] = (c & 0x3f) | 0x80;
      }
    }
  } else {
    p += b.utf8Write(s, p, b.length - p);
  }
  const n = p - at - headSize;
  const need = n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
  if (need !== headSize) b.copyWithin(at + need, at + headSize, p);
  // The head, shortest form (as writeHead writes it; room was ensured above).
  if (need === 1) b[at] = 0x60 | n;
  else if (need === 2) {
    b[at] = 0x78;
    b[at + 1] = n;
  } else if (need === 3) {
    b[at] = 0x79;
    b[at + 1] = n >> 8;
    b[at + 2] = n & 0xff;
  } else {
    b[at] = 0x7a;
    slabView.setUint32(at + 1, n);
  }
  pos = at + need + n;
}

/** Float64 always (iicp-cbor-wire.md §7 item 2); see encodeCbor. */
function writeNumber(v: number): void {
  if (Number.isSafeInteger(v)) {
    if (v >= 0) {
      if (v <= U32_MAX) writeHead(0, v);
      else writeHead64(0, v);
    } else {
      const n = -1 - v;
      if (n <= U32_MAX) writeHead(1, n);
      else writeHead64(1, n);
    }
    return;
  }
  ensure(9);
  slab[pos++] = 0xfb;
  slabView.setFloat64(pos, v);
  pos += 8;
}

function writeBigint(v: bigint): void {
  if (v <= BigInt(U32_MAX) && v >= -BigInt(U32_MAX) - 1n) return writeNumber(Number(v));
  if (v > U64_MAX || v < -U64_MAX - 1n)
    unsupported('integer beyond 64 bits (bignum tags are not used)');
  // cbor-x 1.6.8 writes exactly -2^64 as a tag-3 bignum (its bound is off by one).
  if (v === -U64_MAX - 1n) unsupported('-2^64 cannot be encoded (it decodes fine)');
  if (v >= 0n) writeHead64(0, v);
  else writeHead64(1, -1n - v);
}

function writeBytes(b: Uint8Array): void {
  writeHead(2, b.length);
  ensure(b.length);
  slab.set(b, pos);
  pos += b.length;
}

/** Keys in RFC 8949 §4.2.1 order (for text: shorter UTF-8 first, then bytewise). */
function sortKeys(keys: string[]): string[] {
  let ascii = true;
  for (let i = 0; i < keys.length && ascii; i++) {
    const k = keys[i]!;
    for (let j = 0; j < k.length; j++) {
      if (k.charCodeAt(j) >= 0x80) {
        ascii = false;
        break;
      }
    }
  }
  const sorted = keys.slice();
  if (ascii) sorted.sort(compareAsciiKeys);
  else {
    const lens = new Map(keys.map((k) => [k, utf8Length(k)]));
    sorted.sort((a, b) => compareTextKeys(a, lens.get(a)!, b, lens.get(b)!));
  }
  return sorted;
}

/**
 * Key order per object shape: objects built by the same code list the same keys in the
 * same order, so the sorted order is looked up (by first key, then compared key by
 * key) instead of sorted again. Bounded (shapes, keys per shape, characters): a full
 * cache stops learning new shapes.
 */
interface Shape {
  readonly keys: readonly string[];
  readonly sorted: string[];
  /**
   * Each sorted key as CBOR text (head and UTF-8), copied instead of encoded again;
   * undefined when a key holds a lone surrogate (its bytes then depend on its length,
   * see writeText).
   */
  readonly encoded: Uint8Array[] | undefined;
}
const SHAPE_CACHE_MAX = 512;
const SHAPE_KEYS_MAX = 32;
const SHAPE_CHARS_MAX = 1024;
const shapes = new Map<string, Shape[]>();
let shapeCount = 0;
/** The encoded keys of the shape `sortedKeysOf` last returned, if it was cached. */
let shapeKeys: Uint8Array[] | undefined;

/** Every key's CBOR encoding, or undefined if one is not well-formed UTF-16. */
function encodeKeys(keys: readonly string[]): Uint8Array[] | undefined {
  const out: Uint8Array[] = [];
  for (const k of keys) {
    const utf8 = Buffer.from(k, 'utf8');
    if (utf8.toString('utf8') !== k) return undefined;
    out.push(encodeKey(utf8));
  }
  return out;
}

/** A text key's CBOR encoding: a shortest head and its UTF-8 (as `writeText` writes). */
function encodeKey(utf8: Uint8Array): Uint8Array {
  const n = utf8.length;
  const head = n < 24 ? [0x60 | n] : n < 0x100 ? [0x78, n] : [0x79, n >> 8, n & 0xff];
  const out = new Uint8Array(head.length + n);
  out.set(head, 0);
  out.set(utf8, head.length);
  return out;
}

function sortedKeysOf(obj: object): string[] {
  shapeKeys = undefined;
  const keys = Object.keys(obj);
  const n = keys.length;
  if (n < 2) return keys;
  if (n > SHAPE_KEYS_MAX) return sortKeys(keys);
  const first = keys[0]!;
  const list = shapes.get(first);
  if (list !== undefined) {
    outer: for (let s = 0; s < list.length; s++) {
      const cached = list[s]!.keys;
      if (cached.length !== n) continue;
      for (let i = 1; i < n; i++) if (cached[i] !== keys[i]) continue outer;
      shapeKeys = list[s]!.encoded;
      return list[s]!.sorted;
    }
  }
  const sorted = sortKeys(keys);
  let chars = 0;
  for (let i = 0; i < n; i++) chars += keys[i]!.length;
  if (shapeCount < SHAPE_CACHE_MAX && chars <= SHAPE_CHARS_MAX) {
    shapeCount++;
    const shape = { keys, sorted, encoded: encodeKeys(sorted) };
    if (list) list.push(shape);
    else shapes.set(first, [shape]);
  }
  return sorted;
}

function writeObject(obj: Record<string, unknown>, depth: number): void {
  const keys = sortedKeysOf(obj);
  const encoded = shapeKeys;
  const n = keys.length;
  // Like JSON, a property whose value is undefined is absent, so the count is known only
  // after reading every value, and each is read once (two reads of a getter could
  // disagree). Below 24 entries the head is one byte whatever the count: patched after.
  if (n < 24) {
    ensure(1);
    // Relative to the message start: a longer buffer (ensure) moves the message to 0.
    const at = pos++ - base;
    let count = 0;
    for (let i = 0; i < n; i++) {
      const x = obj[keys[i]!];
      if (x === undefined) continue;
      count++;
      if (encoded === undefined) writeText(keys[i]!);
      else writeKey(encoded[i]!);
      writeValue(x, depth + 1);
    }
    slab[base + at] = 0xa0 | count;
    return;
  }
  const values = new Array<unknown>(n);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const x = obj[keys[i]!];
    values[i] = x;
    if (x !== undefined) count++;
  }
  writeHead(5, count);
  for (let i = 0; i < n; i++) {
    const x = values[i];
    if (x === undefined) continue;
    if (encoded === undefined) writeText(keys[i]!);
    else writeKey(encoded[i]!);
    writeValue(x, depth + 1);
  }
}

function writeKey(k: Uint8Array): void {
  const n = k.length;
  ensure(n);
  const b = slab;
  const at = pos;
  for (let i = 0; i < n; i++) b[at + i] = k[i]!;
  pos = at + n;
}

function writeValue(v: unknown, depth: number): void {
  switch (typeof v) {
    case 'string':
      return writeText(v);
    case 'number':
      return writeNumber(v);
    case 'boolean':
      ensure(1);
      slab[pos++] = v ? 0xf5 : 0xf4;
      return;
    case 'undefined':
      ensure(1);
      slab[pos++] = 0xf7;
      return;
    case 'bigint':
      return writeBigint(v);
    case 'object': {
      if (v === null) {
        ensure(1);
        slab[pos++] = 0xf6;
        return;
      }
      if (depth > DEFAULT_CBOR_LIMITS.maxDepth)
        unsupported('value nests too deeply (or is cyclic)');
      if (Array.isArray(v)) {
        const n = v.length;
        writeHead(4, n);
        for (let i = 0; i < n; i++) writeValue(v[i], depth + 1);
        return;
      }
      if (v instanceof Uint8Array) return writeBytes(v);
      if (v instanceof Map) {
        // Rare (integer-keyed native frames): the sort-then-encode path, copied in.
        const bytes = encoder.encode(prepare(v, depth)) as Uint8Array;
        ensure(bytes.length);
        slab.set(bytes, pos);
        pos += bytes.length;
        return;
      }
      // RFC 3339 text, never tag 1 (iicp-cbor-wire.md §7 item 3).
      if (v instanceof Date) return writeText(v.toISOString());
      const proto: unknown = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        unsupported(`cannot encode an instance of ${(v as object).constructor?.name ?? 'a class'}`);
      }
      return writeObject(v as Record<string, unknown>, depth);
    }
    default:
      return unsupported(`cannot encode a ${typeof v}`);
  }
}

/**
 * Encodes a value as deterministic CBOR (RFC 8949 §4.2.1; iicp-cbor-wire.md §1.1):
 * shortest heads, definite lengths, map keys sorted bytewise by their encoding, no
 * tags unless `opts.tag` asks for one.
 *
 * Numbers: safe integers (|n| ≤ 2^53-1) and bigints use the integer major types; every
 * other number is IEEE 754 float64 (iicp-cbor-wire.md §7 item 2, "MUST be encoded as
 * IEEE 754 double", which we follow over RFC 8949's shortest-float preference).
 * -0 is integral in JavaScript and encodes as 0, as in JSON.
 *
 * Plain objects encode as text-keyed maps; use a `Map` for integer keys (native
 * frames, iicp-framing.md §4.2). Uint8Array is a byte string; Date is RFC 3339 text;
 * object properties holding `undefined` are omitted.
 *
 * The result is a Buffer that, like Node's pooled Buffers, may be a view of a larger
 * buffer shared with other results: mind `byteOffset` when reading `.buffer`.
 */
export function encodeCbor(value: unknown, opts: CborEncodeOptions = {}): Uint8Array {
  // Called again from inside an encode (a getter, toISOString): the scratch buffer is
  // in use, so this one takes the sort-then-encode path.
  if (encoding) return encodeSlow(value, opts);
  encoding = true;
  try {
    return encodeFast(value, opts);
  } finally {
    encoding = false;
  }
}

let encoding = false;

function encodeSlow(value: unknown, opts: CborEncodeOptions): Uint8Array {
  const prepared = prepare(value, 0);
  if (opts.tag === undefined) return encoder.encode(prepared) as Uint8Array;
  if (!INFORMATIONAL_TAGS.has(opts.tag)) unsupported(`tag ${String(opts.tag)} is not an IICP tag`);
  return encoder.encode(new Tag(prepared, opts.tag)) as Uint8Array;
}

function encodeFast(value: unknown, opts: CborEncodeOptions): Uint8Array {
  if (slab.length - base < 2048) {
    slab = newSlab(SLAB_BYTES);
    slabView = new DataView(slab.buffer, slab.byteOffset, slab.length);
    base = 0;
  }
  // The message starts after room for a frame header (see takeFrameRoom); `ensure`
  // moves that room along with the message.
  pos = base + FRAME_ROOM_BYTES;
  const tagged = opts.tag !== undefined;
  // Every IICP tag is 65532–65535: a head of 3 bytes, written once the value is.
  if (tagged) pos += 3;
  writeValue(value, 0);
  const start = base + FRAME_ROOM_BYTES;
  if (tagged) {
    if (!INFORMATIONAL_TAGS.has(opts.tag!))
      unsupported(`tag ${String(opts.tag)} is not an IICP tag`);
    slab[start] = 0xd9;
    slab[start + 1] = opts.tag! >> 8;
    slab[start + 2] = opts.tag! & 0xff;
  }
  const n = pos - start;
  if (n <= SMALL_RESULT_BYTES && slab.length > SLAB_BYTES) {
    roomSlab = undefined;
    const out = Buffer.allocUnsafe(n);
    slab.copy(out, 0, start, pos);
    return out;
  }
  // A view of the scratch buffer, which is never written there again (but for a frame
  // header in the room before it, once).
  const out = slab.subarray(start, pos);
  roomSlab = slab;
  roomAt = base;
  roomLength = n;
  base = Math.min(Math.ceil(pos / 8) * 8, slab.length);
  return out;
}

/**
 * Bytes left free before each result that is a view of the scratch buffer: the size of
 * a native frame header (FRAME_HEADER_BYTES of framing.ts, which imports this module).
 */
export const FRAME_ROOM_BYTES = 12;
/** The scratch buffer holding the latest result, while the room before it is unused. */
let roomSlab: Slab | undefined;
let roomAt = 0;
let roomLength = 0;

/**
 * For `encodeFrame`: when `payload` is exactly the latest `encodeCbor` result and the
 * room before it is still free, claims that room (once) and returns the view of room
 * and payload, a frame whose header the caller writes; otherwise undefined (copy it).
 */
export function takeFrameRoom(payload: Uint8Array): Buffer | undefined {
  const s = roomSlab;
  if (
    s === undefined ||
    payload.length !== roomLength ||
    payload.byteOffset !== s.byteOffset + roomAt + FRAME_ROOM_BYTES ||
    payload.buffer !== s.buffer
  ) {
    return undefined;
  }
  roomSlab = undefined;
  return s.subarray(roomAt, roomAt + FRAME_ROOM_BYTES + roomLength);
}

/**
 * Decodes one CBOR data item strictly: limits, well-formedness, deterministic encoding
 * (RFC 8949 §4.2.1; iicp-cbor-wire.md §1.1, iicp-framing.md §4.1) and only the IICP
 * informational tags are checked exactly as `validateCbor` checks them, in the same pass
 * that builds the value. Text-keyed maps become plain objects; maps with any integer
 * key become `Map`s. Integers beyond ±2^53 decode as bigint. Byte strings are
 * Uint8Array views that may share memory with `bytes`. Floats of any width are
 * accepted. Throws `CodecError`.
 */
export function decodeCbor(bytes: Uint8Array, opts?: Partial<CborDecodeOptions>): unknown {
  // Without options (the common call), one shared options object instead of a new one.
  if (opts === undefined) return decodeStrict(bytes, DEFAULT_DECODE_OPTIONS);
  return decodeStrict(bytes, {
    maxBytes: opts.maxBytes ?? DEFAULT_CBOR_LIMITS.maxBytes,
    maxDepth: opts.maxDepth ?? DEFAULT_CBOR_LIMITS.maxDepth,
    allowedTags: INFORMATIONAL_TAGS,
  });
}
