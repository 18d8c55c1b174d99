/**
 * Dispatch route tickets (iicp-dir.md §3.3 "Ticketed dispatch discovery";
 * research/pre-normative-profiles/route-ticket-and-receipt-profile.md). A ticket
 * discloses one route for one intent for a short time. It is not an admission
 * credential, not single-use and not revocable (v1); a client fails closed on any
 * check below.
 */
import { randomBytes } from 'node:crypto';
import type { DispatchRouteTicketClaims } from '@iicp/wire';
import {
  DISPATCH_ROUTE_TICKET_AUDIENCE,
  DISPATCH_ROUTE_TICKET_DOMAIN,
  DISPATCH_ROUTE_TICKET_TYPE,
} from '@iicp/wire';
import type { Ed25519Signer } from './directory-key.ts';
import type { UnixClock } from './signed-token.ts';
import {
  openCompactToken,
  scopedTicketFailure,
  type ScopedTicketFailure,
  signCompactToken,
  systemClock,
} from './signed-token.ts';

/**
 * `jti` is exactly 24 lowercase hex (96 bits), issued and accepted, as the profile and
 * its vector require (spec/decisions.md D-042): the dispatch `jti` is not a replay
 * nonce, and any other length would be refused by other verifiers.
 */
const JTI = /^[0-9a-f]{24}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
/** How long the directory's tickets live unless told otherwise ("a short expiry"). */
export const DISPATCH_ROUTE_TICKET_DEFAULT_TTL_SECONDS = 60;
/** Characters of `jti` that may be logged (`ticket_id_prefix`, 12 hex in iicp-dir.md §3.3). */
export const TICKET_ID_PREFIX_LENGTH = 12;

export interface IssueDispatchRouteTicketOptions {
  readonly signer: Ed25519Signer;
  readonly issuer: string;
  readonly nodeId: string;
  readonly intent: string;
  readonly ttlSeconds?: number;
  readonly policyManifestSha256?: string;
  readonly clock?: UnixClock;
  /** For reproducible tests only; normally 12 CSPRNG bytes. */
  readonly jti?: string;
}

export interface IssuedDispatchRouteTicket {
  readonly ticket: string;
  readonly claims: DispatchRouteTicketClaims;
  /** The log-safe prefix of `jti`. */
  readonly ticketIdPrefix: string;
  readonly expiresAt: number;
}

export function issueDispatchRouteTicket(
  opts: IssueDispatchRouteTicketOptions,
): IssuedDispatchRouteTicket {
  const iat = Math.floor((opts.clock ?? systemClock)());
  const ttl = opts.ttlSeconds ?? DISPATCH_ROUTE_TICKET_DEFAULT_TTL_SECONDS;
  if (!Number.isSafeInteger(ttl) || ttl <= 0)
    throw new RangeError('ttlSeconds must be a positive integer');
  const jti = opts.jti ?? randomBytes(12).toString('hex');
  if (!JTI.test(jti)) throw new RangeError('jti must be 24 lowercase hex');
  if (opts.policyManifestSha256 !== undefined && !SHA256_HEX.test(opts.policyManifestSha256)) {
    throw new RangeError('policyManifestSha256 must be 64 lowercase hex');
  }
  const claims: DispatchRouteTicketClaims = {
    v: 1,
    typ: DISPATCH_ROUTE_TICKET_TYPE,
    iss: opts.issuer,
    aud: DISPATCH_ROUTE_TICKET_AUDIENCE,
    jti,
    node_id: opts.nodeId,
    intent: opts.intent,
    iat,
    exp: iat + ttl,
    ...(opts.policyManifestSha256 === undefined
      ? {}
      : { policy_manifest_sha256: opts.policyManifestSha256 }),
  };
  return {
    ticket: signCompactToken(DISPATCH_ROUTE_TICKET_DOMAIN, { ...claims }, opts.signer),
    claims,
    ticketIdPrefix: jti.slice(0, TICKET_ID_PREFIX_LENGTH),
    expiresAt: claims.exp,
  };
}

export type DispatchRouteTicketFailure =
  ScopedTicketFailure | 'bad_signature' | 'wrong_intent' | 'expired';

export type DispatchRouteTicketResult =
  | { readonly ok: true; readonly claims: DispatchRouteTicketClaims }
  | { readonly ok: false; readonly reason: DispatchRouteTicketFailure };

export interface VerifyDispatchRouteTicketOptions {
  readonly directoryPublicKey: Uint8Array;
  /** The directory the client asked; `iss` must equal it. */
  readonly issuer: string;
  /** The node the client is about to call. */
  readonly nodeId: string;
  /** The intent the client is about to send. */
  readonly intent: string;
  readonly clock?: UnixClock;
}

/**
 * Client-side ticket check. Valid iff the signature verifies, `v == 1`, `typ`, `iss`,
 * `aud`, `node_id` and `intent` match, `iat`/`exp` are integers, `exp > now` (strict,
 * no grace), `jti` is 24 hex and `policy_manifest_sha256`, when present, is 64 hex.
 */
export function verifyDispatchRouteTicket(
  ticket: string,
  opts: VerifyDispatchRouteTicketOptions,
): DispatchRouteTicketResult {
  const opened = openCompactToken(DISPATCH_ROUTE_TICKET_DOMAIN, ticket, opts.directoryPublicKey);
  if (!opened.ok) return opened;
  const failure = scopedTicketFailure(opened.claims, {
    typ: DISPATCH_ROUTE_TICKET_TYPE,
    aud: DISPATCH_ROUTE_TICKET_AUDIENCE,
    jti: JTI,
    nodeId: opts.nodeId,
    issuer: opts.issuer,
    strings: ['intent'],
    wellFormed: (x) =>
      x['policy_manifest_sha256'] === undefined ||
      (typeof x['policy_manifest_sha256'] === 'string' &&
        SHA256_HEX.test(x['policy_manifest_sha256'])),
  });
  if (failure !== undefined) return { ok: false, reason: failure };
  // The shape is checked: these claims are strings and integers.
  const c = opened.claims as {
    iss: string;
    jti: string;
    node_id: string;
    intent: string;
    iat: number;
    exp: number;
    policy_manifest_sha256?: string;
  };
  if (c.intent !== opts.intent) return { ok: false, reason: 'wrong_intent' };
  const now = (opts.clock ?? systemClock)();
  if (!(c.exp > now)) return { ok: false, reason: 'expired' };
  return {
    ok: true,
    claims: {
      v: 1,
      typ: DISPATCH_ROUTE_TICKET_TYPE,
      iss: c.iss,
      aud: DISPATCH_ROUTE_TICKET_AUDIENCE,
      jti: c.jti,
      node_id: c.node_id,
      intent: c.intent,
      iat: c.iat,
      exp: c.exp,
      ...(typeof c.policy_manifest_sha256 === 'string'
        ? { policy_manifest_sha256: c.policy_manifest_sha256 }
        : {}),
    },
  };
}
