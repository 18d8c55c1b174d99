import { CodecError } from './errors.ts';

/**
 * Default largest JSON input: the 16 MiB single-frame cap of iicp-framing.md §2, the
 * largest IICP message; HTTP servers pass their own body limit.
 */
export const DEFAULT_JSON_MAX_BYTES = 16_777_216;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Encodes a JSON value as UTF-8 bytes (iicp-core.md, the mandatory encoding). This is
 * the fast wire form, not a canonical one: see `canonicalJsonJcs` and friends for bytes
 * that get signed or hashed. Throws `CodecError('value_unsupported')` for values JSON
 * cannot carry at the root (undefined, functions) and for bigint.
 */
export function encodeJson(value: unknown): Uint8Array {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (cause) {
    throw new CodecError('value_unsupported', 'value cannot be encoded as JSON', { cause });
  }
  if (text === undefined) throw new CodecError('value_unsupported', 'value has no JSON form');
  return Buffer.from(text, 'utf8');
}

/**
 * Decodes UTF-8 JSON bytes (or a string). Throws `CodecError`: `payload_too_large`
 * above `maxBytes`, `json_invalid` for bad UTF-8 or bad JSON. `JSON.parse` defines a
 * "__proto__" member as an own property, so decoded input cannot touch prototypes.
 */
export function decodeJson(input: Uint8Array | string, opts: { maxBytes?: number } = {}): unknown {
  const max = opts.maxBytes ?? DEFAULT_JSON_MAX_BYTES;
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  if (size > max) {
    throw new CodecError('payload_too_large', `JSON input of ${size} bytes exceeds ${max}`);
  }
  let text: string;
  try {
    text = typeof input === 'string' ? input : utf8.decode(input);
  } catch (cause) {
    throw new CodecError('json_invalid', 'JSON body is not valid UTF-8', { cause });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // V8's message quotes the input, and payloads never reach logs: no cause attached.
    throw new CodecError('json_invalid', 'body is not valid JSON');
  }
}
