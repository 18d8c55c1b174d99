/**
 * Strict text encodings of bytes. IICP mixes three (digest-extensions.md §12.2): lowercase
 * hex for signatures and HMACs, base64url without padding for token payloads, CX and
 * provenance, and standard padded base64 for operator delegation. Decoders here accept
 * exactly one spelling per byte string, so a changed character can never decode to the
 * same bytes (which would let a bit flip in a signature go unnoticed).
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';

const LOWER_HEX = /^(?:[0-9a-f]{2})*$/;
const B64URL = /^[A-Za-z0-9_-]*$/;
const B64STD = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function toHex(bytes: Uint8Array): string {
  return bytesToHex(bytes);
}

/** Lowercase hex only; `undefined` for anything else (odd length, uppercase, other characters). */
export function fromHexStrict(text: string, byteLength?: number): Uint8Array | undefined {
  if (!LOWER_HEX.test(text)) return undefined;
  if (byteLength !== undefined && text.length !== byteLength * 2) return undefined;
  return hexToBytes(text);
}

export function isLowerHex(text: string, byteLength: number): boolean {
  return text.length === byteLength * 2 && LOWER_HEX.test(text);
}

export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/** base64url without padding, canonical (unused trailing bits must be zero). */
export function fromBase64UrlStrict(text: string, byteLength?: number): Uint8Array | undefined {
  if (!B64URL.test(text) || text.length % 4 === 1) return undefined;
  const bytes = new Uint8Array(Buffer.from(text, 'base64url'));
  if (toBase64Url(bytes) !== text) return undefined;
  if (byteLength !== undefined && bytes.length !== byteLength) return undefined;
  return bytes;
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Standard base64 with `=` padding, canonical. */
export function fromBase64Strict(text: string, byteLength?: number): Uint8Array | undefined {
  if (!B64STD.test(text)) return undefined;
  const bytes = new Uint8Array(Buffer.from(text, 'base64'));
  if (toBase64(bytes) !== text) return undefined;
  if (byteLength !== undefined && bytes.length !== byteLength) return undefined;
  return bytes;
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** UTF-8 decode that throws on malformed input instead of substituting U+FFFD. */
export function fromUtf8Strict(bytes: Uint8Array): string | undefined {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return undefined;
  }
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
