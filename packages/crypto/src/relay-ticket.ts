/**
 * Relay bind tickets (iicp-dir.md §7.4). The spec requires a short-lived,
 * directory-signed ticket scoped to the worker's node_id, with a relay audience and a
 * random `jti` of at least 128 bits, consumed once by the relay; it leaves the wire
 * format open (digest-directory.md C26). The project's format reuses the compact
 * token of consumer tokens and dispatch tickets under its own domain:
 *
 *   claims = {v:1, typ:"relay-bind-ticket", iss, aud:"iicp.relay.bind", node_id, jti (32 hex), iat, exp = iat + 120}
 *
 * This module signs and checks; single-use consumption of `jti` until `exp` is the
 * relay's job (an atomic insert), as is rate limiting.
 */
import { randomBytes } from 'node:crypto';
import type { Ed25519Signer } from './directory-key.ts';
import type { UnixClock } from './signed-token.ts';
import {
  openCompactToken,
  scopedTicketFailure,
  type ScopedTicketFailure,
  signCompactToken,
  systemClock,
} from './signed-token.ts';

export const RELAY_BIND_TICKET_DOMAIN = 'iicp:relay-bind-ticket:v1\n';
export const RELAY_BIND_TICKET_TYPE = 'relay-bind-ticket';
export const RELAY_BIND_TICKET_AUDIENCE = 'iicp.relay.bind';
export const RELAY_BIND_TICKET_TTL_SECONDS = 120;
/** 128 bits of CSPRNG as 32 lowercase hex ("at least 128 bits of entropy", §7.4). */
const JTI = /^[0-9a-f]{32}$/;

export interface RelayBindTicketClaims {
  readonly v: 1;
  readonly typ: 'relay-bind-ticket';
  readonly iss: string;
  readonly aud: 'iicp.relay.bind';
  readonly node_id: string;
  readonly jti: string;
  readonly iat: number;
  readonly exp: number;
}

export interface IssueRelayBindTicketOptions {
  readonly signer: Ed25519Signer;
  readonly issuer: string;
  /** The worker's node_id (the `worker_id` it will bind). */
  readonly nodeId: string;
  readonly ttlSeconds?: number;
  readonly clock?: UnixClock;
}

export function issueRelayBindTicket(opts: IssueRelayBindTicketOptions): {
  ticket: string;
  claims: RelayBindTicketClaims;
} {
  const iat = Math.floor((opts.clock ?? systemClock)());
  const ttl = opts.ttlSeconds ?? RELAY_BIND_TICKET_TTL_SECONDS;
  if (!Number.isSafeInteger(ttl) || ttl <= 0)
    throw new RangeError('ttlSeconds must be a positive integer');
  const claims: RelayBindTicketClaims = {
    v: 1,
    typ: RELAY_BIND_TICKET_TYPE,
    iss: opts.issuer,
    aud: RELAY_BIND_TICKET_AUDIENCE,
    node_id: opts.nodeId,
    jti: randomBytes(16).toString('hex'),
    iat,
    exp: iat + ttl,
  };
  return { ticket: signCompactToken(RELAY_BIND_TICKET_DOMAIN, { ...claims }, opts.signer), claims };
}

export type RelayBindTicketFailure = ScopedTicketFailure | 'bad_signature' | 'expired';

export type RelayBindTicketResult =
  | { readonly ok: true; readonly claims: RelayBindTicketClaims }
  | { readonly ok: false; readonly reason: RelayBindTicketFailure };

export interface VerifyRelayBindTicketOptions {
  readonly directoryPublicKey: Uint8Array;
  /** The `worker_id` being bound; must equal the ticket's `node_id`. */
  readonly workerId: string;
  /** When set, `iss` must equal it. */
  readonly issuer?: string;
  readonly clock?: UnixClock;
}

/** Relay-side check before admitting a bind (§7.4): signature, audience, TTL, node. */
export function verifyRelayBindTicket(
  ticket: string,
  opts: VerifyRelayBindTicketOptions,
): RelayBindTicketResult {
  const opened = openCompactToken(RELAY_BIND_TICKET_DOMAIN, ticket, opts.directoryPublicKey);
  if (!opened.ok) return opened;
  const failure = scopedTicketFailure(opened.claims, {
    typ: RELAY_BIND_TICKET_TYPE,
    aud: RELAY_BIND_TICKET_AUDIENCE,
    jti: JTI,
    nodeId: opts.workerId,
    issuer: opts.issuer,
  });
  if (failure !== undefined) return { ok: false, reason: failure };
  // The shape is checked: these claims are strings and integers.
  const c = opened.claims as Pick<RelayBindTicketClaims, 'iss' | 'jti' | 'iat' | 'exp'>;
  if (!(c.exp > (opts.clock ?? systemClock)())) return { ok: false, reason: 'expired' };
  return {
    ok: true,
    claims: {
      v: 1,
      typ: RELAY_BIND_TICKET_TYPE,
      iss: c.iss,
      aud: RELAY_BIND_TICKET_AUDIENCE,
      node_id: opts.workerId,
      jti: c.jti,
      iat: c.iat,
      exp: c.exp,
    },
  };
}
