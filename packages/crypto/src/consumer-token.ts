/**
 * Consumer tokens (iicp-dir.md §3.12): the directory vouches that caller `sub` may send
 * `intent` to provider `aud` for five minutes, so the caller never learns the
 * provider's node_token. Sent as `X-IICP-Consumer-Token` on `POST /v1/task`.
 */
import type { ConsumerTokenClaims } from '@iicp/wire';
import { CONSUMER_TOKEN_DOMAIN, CONSUMER_TOKEN_GRACE_S, CONSUMER_TOKEN_TTL_S } from '@iicp/wire';
import type { Ed25519Signer } from './directory-key.ts';
import type { UnixClock } from './signed-token.ts';
import { isIntegerClaim, openCompactToken, signCompactToken, systemClock } from './signed-token.ts';

/** The intent value that authorizes any intent (iicp-dir.md §3.12). */
export const CONSUMER_TOKEN_ANY_INTENT = '*';

export interface IssueConsumerTokenOptions {
  readonly signer: Ed25519Signer;
  readonly issuer: string;
  readonly callerNodeId: string;
  readonly targetNodeId: string;
  readonly intent: string;
  readonly ttlSeconds?: number;
  readonly clock?: UnixClock;
}

export interface IssuedConsumerToken {
  readonly token: string;
  readonly claims: ConsumerTokenClaims;
  /** `exp`, the `expires_at` of the 201 response. */
  readonly expiresAt: number;
}

export function issueConsumerToken(opts: IssueConsumerTokenOptions): IssuedConsumerToken {
  const iat = Math.floor((opts.clock ?? systemClock)());
  const ttl = opts.ttlSeconds ?? CONSUMER_TOKEN_TTL_S;
  if (!Number.isSafeInteger(ttl) || ttl <= 0)
    throw new RangeError('ttlSeconds must be a positive integer');
  const claims: ConsumerTokenClaims = {
    v: 1,
    iss: opts.issuer,
    sub: opts.callerNodeId,
    aud: opts.targetNodeId,
    intent: opts.intent,
    iat,
    exp: iat + ttl,
  };
  return {
    token: signCompactToken(CONSUMER_TOKEN_DOMAIN, { ...claims }, opts.signer),
    claims,
    expiresAt: claims.exp,
  };
}

export type ConsumerTokenFailure =
  | 'malformed'
  | 'bad_signature'
  | 'unsupported_version'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'wrong_intent'
  | 'expired';

export type ConsumerTokenResult =
  | { readonly ok: true; readonly claims: ConsumerTokenClaims }
  | { readonly ok: false; readonly reason: ConsumerTokenFailure };

export interface VerifyConsumerTokenOptions {
  /** The directory key the provider cached at registration. */
  readonly directoryPublicKey: Uint8Array;
  /** The provider's own node_id; must equal `aud`. */
  readonly nodeId: string;
  /** The task's intent; must equal the token's intent unless that is `"*"`. */
  readonly intent: string;
  /** When set, `iss` must equal it. The spec does not require the check. */
  readonly issuer?: string;
  readonly graceSeconds?: number;
  readonly clock?: UnixClock;
}

/**
 * The provider check of iicp-dir.md §3.12: valid signature, `aud` is this node, intent
 * matches or is `*`, and `exp > now − grace`. A failure maps to `unauthorized` (401).
 */
export function verifyConsumerToken(
  token: string,
  opts: VerifyConsumerTokenOptions,
): ConsumerTokenResult {
  const opened = openCompactToken(CONSUMER_TOKEN_DOMAIN, token, opts.directoryPublicKey);
  if (!opened.ok) return opened;
  const c = opened.claims;
  if (
    typeof c.iss !== 'string' ||
    typeof c.sub !== 'string' ||
    typeof c.aud !== 'string' ||
    typeof c.intent !== 'string' ||
    !isIntegerClaim(c.iat) ||
    !isIntegerClaim(c.exp)
  ) {
    return { ok: false, reason: 'malformed' };
  }
  if (c.v !== 1) return { ok: false, reason: 'unsupported_version' };
  if (opts.issuer !== undefined && c.iss !== opts.issuer)
    return { ok: false, reason: 'wrong_issuer' };
  if (c.aud !== opts.nodeId) return { ok: false, reason: 'wrong_audience' };
  if (c.intent !== CONSUMER_TOKEN_ANY_INTENT && c.intent !== opts.intent) {
    return { ok: false, reason: 'wrong_intent' };
  }
  const now = (opts.clock ?? systemClock)();
  const grace = opts.graceSeconds ?? CONSUMER_TOKEN_GRACE_S;
  if (!(c.exp > now - grace)) return { ok: false, reason: 'expired' };
  return {
    ok: true,
    claims: { v: 1, iss: c.iss, sub: c.sub, aud: c.aud, intent: c.intent, iat: c.iat, exp: c.exp },
  };
}
