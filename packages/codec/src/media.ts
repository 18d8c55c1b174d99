import { decodeCbor, encodeCbor, type CborDecodeOptions } from './cbor.ts';
import { CodecError } from './errors.ts';
import { decodeJson, encodeJson } from './json.ts';

/**
 * Media types of IICP bodies. `application/iicp+cbor` is the type of
 * iicp-cbor-wire.md §2.1 and iicp-framing.md §5.4; iicp-core.md §6 names
 * `application/cbor`. Both carry the same string-keyed deterministic CBOR, so both are
 * accepted and a response echoes the one the client used.
 */
export const MEDIA_TYPES = {
  json: 'application/json',
  cbor: 'application/cbor',
  iicpCbor: 'application/iicp+cbor',
} as const;

export type MediaType = (typeof MEDIA_TYPES)[keyof typeof MEDIA_TYPES];

/**
 * `application/iicp+json` is a candidate type (iicp-framing.md §11.2) for the same JSON;
 * it is decoded as JSON and answered as `application/json`.
 */
const JSON_ALIASES: ReadonlySet<string> = new Set(['application/json', 'application/iicp+json']);

/** Limits a codec applies when decoding untrusted bytes. */
export type DecodeLimits = Partial<CborDecodeOptions>;

/** One body encoding: its media type and a matching encode/decode pair. */
export interface Codec {
  readonly mediaType: MediaType;
  readonly binary: boolean;
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array, limits?: DecodeLimits): unknown;
}

export const jsonCodec: Codec = {
  mediaType: MEDIA_TYPES.json,
  binary: false,
  encode: encodeJson,
  decode: (bytes, limits) => decodeJson(bytes, { maxBytes: limits?.maxBytes }),
};

function cborCodecFor(mediaType: MediaType): Codec {
  return {
    mediaType,
    binary: true,
    encode: (value) => encodeCbor(value),
    decode: (bytes, limits) => decodeCbor(bytes, limits),
  };
}

export const cborCodec: Codec = cborCodecFor(MEDIA_TYPES.cbor);
export const iicpCborCodec: Codec = cborCodecFor(MEDIA_TYPES.iicpCbor);

/** Splits `type/subtype; params` and lowercases the essence. Undefined if malformed. */
export function parseMediaType(
  header: string,
): { essence: string; params: Record<string, string> } | undefined {
  const [first, ...rest] = header.split(';');
  const essence = (first ?? '').trim().toLowerCase();
  if (!/^[a-z0-9!#$&^_.+*-]+\/[a-z0-9!#$&^_.+*-]+$/.test(essence)) return undefined;
  const params: Record<string, string> = {};
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    const name = p.slice(0, eq).trim().toLowerCase();
    const value = p
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    if (name !== '') params[name] = value;
  }
  return { essence, params };
}

/** The codec for a media type (parameters allowed), or undefined. */
export function codecForMediaType(header: string): Codec | undefined {
  const parsed = parseMediaType(header);
  if (parsed === undefined) return undefined;
  if (JSON_ALIASES.has(parsed.essence)) return jsonCodec;
  if (parsed.essence === MEDIA_TYPES.iicpCbor) return iicpCborCodec;
  if (parsed.essence === MEDIA_TYPES.cbor) return cborCodec;
  return undefined;
}

export interface NegotiationOptions {
  /**
   * Whether CBOR is offered at all. iicp-cbor-wire.md §6: Phase 1–2 servers MUST NOT
   * accept CBOR; Phase 3+ may. Default true.
   */
  readonly cbor?: boolean;
}

export type RequestCodecResult =
  { readonly ok: true; readonly codec: Codec } | { readonly ok: false; readonly error: CodecError };

/**
 * Chooses the decoder for a request body from its Content-Type. A missing header is
 * read as JSON (the mandatory encoding). Anything else that is not JSON or an enabled
 * CBOR type gives `unsupported_media_type`, which the HTTP layer answers with 415
 * `{"error":{"code":"unsupported_media_type",…}}` (iicp-cbor-wire.md §2.2).
 */
export function selectRequestCodec(
  contentType: string | undefined,
  opts: NegotiationOptions = {},
): RequestCodecResult {
  if (contentType === undefined || contentType.trim() === '') return { ok: true, codec: jsonCodec };
  const codec = codecForMediaType(contentType);
  if (codec === undefined || (codec.binary && opts.cbor === false)) {
    const message =
      codec === undefined ? 'Unsupported Content-Type' : 'CBOR encoding not supported';
    return { ok: false, error: new CodecError('unsupported_media_type', message) };
  }
  return { ok: true, codec };
}

interface AcceptRange {
  readonly type: string;
  readonly subtype: string;
  readonly q: number;
}

/** Parses an Accept header into media ranges with q-values (RFC 9110 §12.5.1). */
export function parseAccept(header: string): AcceptRange[] {
  const out: AcceptRange[] = [];
  for (const part of header.split(',')) {
    const parsed = parseMediaType(part);
    if (parsed === undefined) continue;
    const [type, subtype] = parsed.essence.split('/') as [string, string];
    let q = 1;
    if (parsed.params.q !== undefined) {
      q = Number(parsed.params.q);
      if (!Number.isFinite(q) || q < 0 || q > 1) continue;
    }
    out.push({ type, subtype, q });
  }
  return out;
}

/** The q-value the ranges give a concrete media type: the most specific match wins. */
function qualityOf(ranges: AcceptRange[], mediaType: string): number {
  const [type, subtype] = mediaType.split('/') as [string, string];
  let best = -1;
  let q = 0;
  for (const r of ranges) {
    let specificity: number;
    if (r.type === type && r.subtype === subtype) specificity = 2;
    else if (r.type === type && r.subtype === '*') specificity = 1;
    else if (r.type === '*' && r.subtype === '*') specificity = 0;
    else continue;
    if (specificity > best) {
      best = specificity;
      q = r.q;
    }
  }
  return q;
}

export interface ResponseCodecChoice {
  readonly codec: Codec;
  /**
   * False when Accept excluded every type we offer; the codec is then JSON, which is
   * always available (iicp-cbor-wire.md §6) and which we send rather than a 406.
   */
  readonly acceptable: boolean;
}

/**
 * Chooses the response codec from Accept (with q-values) and the request's media type.
 * A CBOR request gets CBOR unless Accept excludes it (iicp-cbor-wire.md §2.2); ties
 * between equally acceptable types go to the request's type, then JSON. No Accept
 * header means "the request's type".
 */
export function selectResponseCodec(
  accept: string | undefined,
  opts: NegotiationOptions & { readonly requestMediaType?: MediaType } = {},
): ResponseCodecChoice {
  const requestType = opts.requestMediaType ?? MEDIA_TYPES.json;
  const offered: Codec[] = [jsonCodec];
  if (opts.cbor !== false) offered.push(iicpCborCodec, cborCodec);
  const preferred = offered.find((c) => c.mediaType === requestType) ?? jsonCodec;
  if (accept === undefined || accept.trim() === '') return { codec: preferred, acceptable: true };
  const ranges = parseAccept(accept);
  if (ranges.length === 0) return { codec: preferred, acceptable: true };
  const rank = (c: Codec): number => (c === preferred ? 0 : c === jsonCodec ? 1 : 2);
  let best: Codec | undefined;
  let bestQ = 0;
  for (const c of offered) {
    const q = qualityOf(ranges, c.mediaType);
    if (q <= 0) continue;
    if (best === undefined || q > bestQ || (q === bestQ && rank(c) < rank(best))) {
      best = c;
      bestQ = q;
    }
  }
  return best === undefined
    ? { codec: jsonCodec, acceptable: false }
    : { codec: best, acceptable: true };
}
