import canonicalize from 'canonicalize';
import { CodecError } from './errors.ts';
import { compareCodePoints } from './text.ts';

/*
 * IICP signs or hashes JSON in three different byte forms, and they are not
 * interchangeable (notes: digest-extensions.md §12). Each has its own function here;
 * none of them is a general-purpose serializer.
 */

function unsupported(msg: string, cause?: unknown): never {
  throw new CodecError('value_unsupported', msg, cause === undefined ? {} : { cause });
}

/**
 * RFC 8785 JSON Canonicalization Scheme: members sorted by UTF-16 code units, ECMAScript
 * number formatting, minimal string escaping. Used by the CIP consumer co-signature,
 * deployment provenance and the identity slot. Delegates to the `canonicalize` package;
 * throws `CodecError('value_unsupported')` for NaN, ±Infinity, bigint, lone surrogates,
 * cycles and values with no JSON form.
 */
export function canonicalJsonJcs(value: unknown): string {
  let out: string | undefined;
  try {
    out = canonicalize(value);
  } catch (cause) {
    unsupported('value has no RFC 8785 form', cause);
  }
  if (out === undefined) unsupported('value has no JSON form');
  return out;
}

// ---------------------------------------------------------------------------------
// Sorted compact form (operator delegation, operator self-service, attestations).
// ---------------------------------------------------------------------------------

/** In a `u` regex a surrogate class only matches unpaired halves. */
const LONE_SURROGATE = /[\ud800-\udfff]/u;

function hasLoneSurrogate(s: string): boolean {
  return LONE_SURROGATE.test(s);
}

function isPlainObject(v: object): v is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function compactString(s: string): string {
  if (hasLoneSurrogate(s)) unsupported('string holds a lone surrogate');
  // JSON.stringify leaves "/" and non-ASCII as they are and escapes controls as
  // lowercase \u00xx, like PHP's json_encode with JSON_UNESCAPED_SLASHES |
  // JSON_UNESCAPED_UNICODE. PHP still escapes U+2028/U+2029 without
  // JSON_UNESCAPED_LINE_TERMINATORS, which the spec's flag list does not include.
  return JSON.stringify(s).replace(/[\u2028\u2029]/g, (c) =>
    c === '\u2028' ? '\\u2028' : '\\u2029',
  );
}

function sortedCompact(v: unknown, seen: Set<object>): string {
  switch (typeof v) {
    case 'string':
      return compactString(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(v)) unsupported('NaN and Infinity have no JSON form');
      return JSON.stringify(v);
    case 'bigint':
      return v.toString();
    case 'object': {
      if (v === null) return 'null';
      if (seen.has(v)) unsupported('cyclic value');
      seen.add(v);
      let out: string;
      if (Array.isArray(v)) {
        out = `[${v.map((x) => (x === undefined ? 'null' : sortedCompact(x, seen))).join(',')}]`;
      } else if (isPlainObject(v)) {
        const keys = Object.keys(v)
          .filter((k) => v[k] !== undefined)
          .sort(compareCodePoints);
        out = `{${keys.map((k) => `${compactString(k)}:${sortedCompact(v[k], seen)}`).join(',')}}`;
      } else {
        unsupported('only plain objects, arrays and JSON scalars are allowed');
      }
      seen.delete(v);
      return out;
    }
    default:
      return unsupported(`a ${typeof v} has no JSON form`);
  }
}

/**
 * Sorted compact JSON: keys sorted (recursively, by code point, which is UTF-8 byte
 * order), no whitespace, "/" and non-ASCII left unescaped. These are the canonical
 * bytes of the operator delegation signature, `{"node_id":…,"not_after":…,
 * "operator_pub":…}` (iicp-dir.md §3.1 REGISTER `operator_delegation`, "key-sorted, no
 * whitespace, unescaped slashes"), and of the operator and attestation documents
 * signed with `JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES` (iicp-dir.md).
 *
 * Numbers use ECMAScript formatting (integers are exact; the documents above hold only
 * integers and strings). U+2028/U+2029 are escaped as PHP does. Bigints print as
 * integers. Throws `CodecError('value_unsupported')`.
 */
export function canonicalJsonSortedCompact(value: unknown): string {
  return sortedCompact(value, new Set());
}

// ---------------------------------------------------------------------------------
// Python json.dumps form (CIP response_hash).
// ---------------------------------------------------------------------------------

/**
 * Marks a number as a Python float for `canonicalJsonPython`. JavaScript cannot tell
 * `1` from `1.0`, but Python prints `1.0` for a float: wrap integral values that were
 * floats on the Python side (non-integral numbers are floats already).
 */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** `PyFloat` factory. */
export function pyFloat(value: number): PyFloat {
  return new PyFloat(value);
}

/**
 * Python's `repr(float)`: the shortest digits that round-trip (same as ECMAScript),
 * positional when the decimal exponent is in (-4, 16], scientific otherwise with a
 * signed two-digit-minimum exponent; integral values get ".0". NaN and infinities as
 * json.dumps prints them with its default allow_nan=True.
 */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const [mantissa, expText] = Math.abs(x).toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  const exp = Number(expText);
  const decpt = exp + 1; // position of the decimal point relative to the digits
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
    if (decpt >= digits.length) return `${sign}${digits}${'0'.repeat(decpt - digits.length)}.0`;
    return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const e = Math.abs(exp);
  return `${sign}${m}e${exp < 0 ? '-' : '+'}${e < 10 ? `0${e}` : e}`;
}

const PY_ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

/**
 * json.dumps with ensure_ascii=True: `"` and `\` escaped, the five short escapes, and
 * every UTF-16 unit outside 0x20–0x7E as lowercase \uXXXX (astral characters come out
 * as surrogate pairs, as Python writes them; "/" is not escaped).
 */
function pyString(s: string): string {
  // Fast path: printable ASCII without quote or backslash.
  if (/^[\x20\x21\x23-\x5b\x5d-\x7e]*$/.test(s)) return `"${s}"`;
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    const c = s.charCodeAt(i);
    const short = PY_ESCAPES[ch];
    if (short !== undefined) out += short;
    else if (c < 0x20 || c > 0x7e) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

function pyNumber(n: number): string {
  // A JavaScript integer is printed as a Python int (exactly, even past 2^53); see PyFloat.
  if (Number.isInteger(n)) return BigInt(n).toString();
  return pythonFloatRepr(n);
}

function pyJson(v: unknown, sep: readonly [string, string], seen: Set<object>): string {
  switch (typeof v) {
    case 'string':
      return pyString(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      return pyNumber(v);
    case 'bigint':
      return v.toString();
    case 'object': {
      if (v === null) return 'null';
      if (v instanceof PyFloat) return pythonFloatRepr(v.value);
      if (seen.has(v)) unsupported('cyclic value');
      seen.add(v);
      let out: string;
      if (Array.isArray(v)) {
        out = `[${v.map((x) => pyJson(x, sep, seen)).join(sep[0])}]`;
      } else if (isPlainObject(v)) {
        // sort_keys=True sorts str keys by code point.
        const keys = Object.keys(v).sort(compareCodePoints);
        out = `{${keys.map((k) => `${pyString(k)}${sep[1]}${pyJson(v[k], sep, seen)}`).join(sep[0])}}`;
      } else {
        unsupported('only plain objects, arrays, JSON scalars and PyFloat are allowed');
      }
      seen.delete(v);
      return out;
    }
    default:
      // Python has no undefined; refusing beats guessing "null".
      return unsupported(`a ${typeof v} has no Python JSON form`);
  }
}

/**
 * The bytes of Python's `json.dumps(value, sort_keys=True, separators=(',', ':'))`
 * (ensure_ascii=True, allow_nan=True). This is the input of the CIP worker receipt
 * `response_hash` = sha256 hex of these UTF-8 bytes (iicp-cooperative-inference.md
 * §10.3; the vector of research/aiospf/fixtures/cip-conformance-v0.json has
 * `{"answer":"ok","items":[1,2]}`). The spec's separators are compact; pass
 * `separators: [', ', ': ']` for Python's default spacing.
 *
 * Differences from JSON.stringify it reproduces: non-ASCII as \uXXXX, keys in code
 * point order, floats as Python repr (`1e-05`, `1e+16`, `0.0`), integers exact.
 * JavaScript has one number type: integral numbers print as Python ints; wrap a value
 * in `pyFloat()` where the Python side held a float such as `1.0`. `undefined`
 * anywhere is refused. Throws `CodecError('value_unsupported')`.
 */
export function canonicalJsonPython(
  value: unknown,
  opts: { separators?: readonly [string, string] } = {},
): string {
  return pyJson(value, opts.separators ?? [',', ':'], new Set());
}
