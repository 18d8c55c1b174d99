/**
 * The compact signed token shared by consumer tokens (iicp-dir.md §3.12), dispatch
 * route tickets (iicp-dir.md §3.3 "Ticketed dispatch discovery") and relay bind
 * tickets: `<base64url(JSON claims), no padding>.<hex Ed25519 signature>`, where the
 * signature covers `domain || ASCII(base64url segment)`. The signature is over the
 * base64url text exactly as sent, not over re-serialized JSON (checked against the
 * dispatch-route-ticket vector), so no canonical JSON is needed here.
 */
import type { Ed25519Signer } from './directory-key.ts';
import { ed25519Verify } from './ed25519.ts';
import {
  fromBase64UrlStrict,
  fromHexStrict,
  fromUtf8Strict,
  toBase64Url,
  toHex,
  utf8,
} from './encoding.ts';
import { concatBytes } from './encoding.ts';

/** Unix time in seconds (may be fractional). Injected so tests and replicas control time. */
export type UnixClock = () => number;

export const systemClock: UnixClock = () => Date.now() / 1000;

/** Tokens are control-plane material; a hard cap keeps a hostile header from costing much. */
export const MAX_COMPACT_TOKEN_LENGTH = 8192;

const SIG_HEX_LENGTH = 128;

export function signCompactToken(
  domain: string,
  claims: Record<string, unknown>,
  signer: Ed25519Signer,
): string {
  const payload = toBase64Url(utf8(JSON.stringify(claims)));
  const sig = signer.sign(concatBytes(utf8(domain), utf8(payload)));
  return `${payload}.${toHex(sig)}`;
}

export type CompactTokenFailure = 'malformed' | 'bad_signature';

export type CompactTokenResult =
  | { readonly ok: true; readonly claims: Record<string, unknown> }
  | { readonly ok: false; readonly reason: CompactTokenFailure };

/**
 * Check the shape and the signature of a compact token and return its claims object.
 * The claims are not validated here beyond being a JSON object; each token kind checks
 * its own claims after this.
 */
export function openCompactToken(
  domain: string,
  token: string,
  publicKey: Uint8Array,
): CompactTokenResult {
  if (typeof token !== 'string' || token.length > MAX_COMPACT_TOKEN_LENGTH) {
    return { ok: false, reason: 'malformed' };
  }
  const dot = token.indexOf('.');
  if (dot <= 0 || dot !== token.lastIndexOf('.')) return { ok: false, reason: 'malformed' };
  const payload = token.slice(0, dot);
  const sigHex = token.slice(dot + 1);
  if (sigHex.length !== SIG_HEX_LENGTH) return { ok: false, reason: 'malformed' };
  const payloadBytes = fromBase64UrlStrict(payload);
  const sig = fromHexStrict(sigHex, 64);
  if (!payloadBytes || !sig) return { ok: false, reason: 'malformed' };
  if (!ed25519Verify(sig, concatBytes(utf8(domain), utf8(payload)), publicKey)) {
    return { ok: false, reason: 'bad_signature' };
  }
  const text = fromUtf8Strict(payloadBytes);
  if (text === undefined) return { ok: false, reason: 'malformed' };
  let claims: unknown;
  try {
    claims = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) {
    return { ok: false, reason: 'malformed' };
  }
  return { ok: true, claims: claims as Record<string, unknown> };
}

/** Whether a claim is an integer JSON number (IICP times are integer unix seconds). */
export function isIntegerClaim(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

/** Why a node-scoped ticket's claims were refused, before any kind-specific claim. */
export type ScopedTicketFailure =
  | 'malformed'
  | 'unsupported_version'
  | 'wrong_type'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'wrong_node';

/** The claims every node-scoped, directory-signed ticket carries (relay bind, dispatch route). */
export interface ScopedTicketRules {
  readonly typ: string;
  readonly aud: string;
  /** The exact `jti` format of this ticket kind. */
  readonly jti: RegExp;
  readonly nodeId: string;
  /** When set, `iss` must equal it. */
  readonly issuer?: string;
  /** Further claims that must be strings (checked with the others: `malformed`). */
  readonly strings?: readonly string[];
  /** Any other shape rule of the kind; false makes the claims `malformed`. */
  readonly wellFormed?: (c: Record<string, unknown>) => boolean;
}

/**
 * The shared claim checks of node-scoped tickets, in the order their failures are
 * reported: shape (`typ`, `iss`, `aud`, `node_id`, `jti` strings, integer `iat`/`exp`),
 * `v == 1`, `typ`, `iss`, `aud`, `node_id`. Kind-specific claims and expiry come after.
 */
export function scopedTicketFailure(
  c: Record<string, unknown>,
  rules: ScopedTicketRules,
): ScopedTicketFailure | undefined {
  const strings = ['typ', 'iss', 'aud', 'node_id', 'jti', ...(rules.strings ?? [])];
  if (
    strings.some((k) => typeof c[k] !== 'string') ||
    !rules.jti.test(c['jti'] as string) ||
    !isIntegerClaim(c['iat']) ||
    !isIntegerClaim(c['exp']) ||
    (rules.wellFormed !== undefined && !rules.wellFormed(c))
  ) {
    return 'malformed';
  }
  if (c['v'] !== 1) return 'unsupported_version';
  if (c['typ'] !== rules.typ) return 'wrong_type';
  if (rules.issuer !== undefined && c['iss'] !== rules.issuer) return 'wrong_issuer';
  if (c['aud'] !== rules.aud) return 'wrong_audience';
  if (c['node_id'] !== rules.nodeId) return 'wrong_node';
  return undefined;
}
