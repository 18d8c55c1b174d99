/**
 * The CBOR codec as it was before the fast paths (issue 11), kept verbatim as the
 * reference the property tests pin the fast encoder and decoder to: `prepare` (sort
 * and normalise) then cbor-x to encode; the strict scan then cbor-x to decode.
 * Test-only; never imported by src.
 */
import { Decoder, Encoder, Tag } from 'cbor-x';
import { CodecError } from '../../src/errors.ts';
import {
  SCAN_HAS_TAGS,
  SCAN_HAS_WIDE_INTS,
  SCAN_NEEDS_MAPS,
  scanCbor,
  type CborLimits,
} from './reference-validate.ts';
import { compareCodePoints, utf8Length } from '../../src/text.ts';

/**
 * The informational CBOR tags of iicp-cbor-wire.md §3. Parsers MUST accept a message
 * tagged or untagged; we never emit one unless asked, because iicp-framing.md §11.3
 * says 65535 is IANA's always-invalid tag and MUST NOT be emitted, and that current
 * IICP messages are untagged.
 */
const IICP_CBOR_TAGS = {
  task: 65535,
  response: 65534,
  node: 65533,
  nodelist: 65532,
} as const;

type IicpCborTag = (typeof IICP_CBOR_TAGS)[keyof typeof IICP_CBOR_TAGS];

const INFORMATIONAL_TAGS: ReadonlySet<number> = new Set(Object.values(IICP_CBOR_TAGS));

/**
 * Default decode limits. `maxBytes` is the single-frame cap of iicp-framing.md §2
 * (16,777,216 bytes), the largest IICP message on any transport; HTTP servers pass
 * their own body limit. `maxDepth` is a project choice (the spec sets none): IICP
 * messages nest a handful of levels, and a cap keeps recursion bounded.
 */
const DEFAULT_CBOR_LIMITS: CborLimits = { maxBytes: 16_777_216, maxDepth: 64 };

/**
 * Decode options: only limits. Strictness is not configurable (spec/decisions.md
 * D-046: receivers MUST reject non-deterministic CBOR, iicp-cbor-wire.md §1.1,
 * iicp-framing.md §4.1).
 */
type CborDecodeOptions = CborLimits;

interface CborEncodeOptions {
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

// Two decoders. When the strict scan saw only text keys (none "__proto__", which cbor-x
// renames), no tags and no 8-byte integers, cbor-x builds plain objects directly. Else
// maps decode as `Map` and `finish` turns text-keyed ones into objects, so
// integer-keyed maps (native frames) stay `Map`s and nothing is ever stringified.
const objectDecoder = new Decoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });
const mapDecoder = new Decoder({ useRecords: false, mapsAsObjects: false, tagUint8Array: false });

const U32_MAX = 0xffff_ffff;
const U64_MAX = 2n ** 64n - 1n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = -MAX_SAFE;

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
  const keyed = entries.map((e) => ({ e, b: referenceEncodeCbor(e[0]) }));
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
 */
export function referenceEncodeCbor(value: unknown, opts: CborEncodeOptions = {}): Uint8Array {
  let prepared = prepare(value, 0);
  if (opts.tag !== undefined) {
    if (!INFORMATIONAL_TAGS.has(opts.tag))
      unsupported(`tag ${String(opts.tag)} is not an IICP tag`);
    prepared = new Tag(prepared, opts.tag);
  }
  return encoder.encode(prepared);
}

/** Turns decoded Maps with only text keys into plain objects and strips IICP tags. */
function finish(v: unknown): unknown {
  // cbor-x returns bigint for some 8-byte integers that fit a double exactly.
  if (typeof v === 'bigint') return v >= MIN_SAFE && v <= MAX_SAFE ? Number(v) : v;
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = finish(v[i]);
    return v;
  }
  if (v instanceof Map) {
    let textKeys = true;
    for (const k of v.keys()) {
      if (typeof k !== 'string') {
        textKeys = false;
        break;
      }
    }
    if (textKeys) {
      // fromEntries defines own properties, so a "__proto__" key stays a plain key.
      return Object.fromEntries(Array.from(v, ([k, x]) => [k, finish(x)]));
    }
    for (const [k, x] of v) v.set(k, finish(x));
    return v;
  }
  // Only the informational tags pass validateCbor; they carry no meaning.
  if (v instanceof Tag) return finish(v.value);
  return v;
}

/**
 * Decodes one CBOR data item strictly. The bytes are first checked by `validateCbor`
 * (limits, well-formedness, deterministic encoding, only the IICP informational tags),
 * then decoded by cbor-x. Text-keyed maps become plain objects; maps with any
 * integer key become `Map`s. Integers beyond ±2^53 decode as bigint. Byte strings
 * are Uint8Array views that may share memory with `bytes`. Floats of any width are
 * accepted. Throws `CodecError`.
 */
export function referenceDecodeCbor(
  bytes: Uint8Array,
  opts: Partial<CborDecodeOptions> = {},
): unknown {
  const flags = scanCbor(bytes, {
    maxBytes: opts.maxBytes ?? DEFAULT_CBOR_LIMITS.maxBytes,
    maxDepth: opts.maxDepth ?? DEFAULT_CBOR_LIMITS.maxDepth,
    allowedTags: INFORMATIONAL_TAGS,
  });
  const simple = (flags & (SCAN_NEEDS_MAPS | SCAN_HAS_TAGS | SCAN_HAS_WIDE_INTS)) === 0;
  let decoded: unknown;
  try {
    decoded = (simple ? objectDecoder : mapDecoder).decode(bytes);
  } catch (cause) {
    // The strict scan accepted it, so this is a cbor-x limit; report it as undecodable.
    throw new CodecError('cbor_invalid', 'CBOR: the decoder refused the input', { cause });
  }
  return simple ? decoded : finish(decoded);
}
