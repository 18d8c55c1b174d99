import { hash, timingSafeEqual } from 'node:crypto';
import { verifyConsumerToken } from '@iicp/crypto';
import {
  CONSUMER_TOKEN_HEADER,
  IicpProtocolError,
  requireTaskAuth,
  type TaskRequest,
} from '@iicp/wire';
import type { NodeRuntimeState } from './state.ts';

/**
 * `token` (default): every CALL carries this node's node_token or a consumer token.
 * `open`: the explicit open-mesh mode; anonymous CALLs are served under per-IP and
 * per-Origin rate limits, credentials that are present are still checked.
 */
export const AUTH_MODES = ['token', 'open'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

export type Principal =
  { kind: 'node_token' } | { kind: 'consumer'; sub: string } | { kind: 'anonymous' };

const CONSUMER_HEADER = CONSUMER_TOKEN_HEADER.toLowerCase();

function header(
  headers: Record<string, string | string[] | undefined>,
  name: string,
): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function bearer(headers: Record<string, string | string[] | undefined>): string | undefined {
  const v = header(headers, 'authorization');
  if (!v) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(v.trim());
  return m?.[1]?.trim() || undefined;
}

const unauthorized = (why: string): IicpProtocolError => new IicpProtocolError('unauthorized', why);

/** One-shot SHA-256 of the UTF-8 text (no Hash object: about half the cost of createHash). */
const sha256 = (s: string): Buffer => hash('sha256', s, 'buffer');

/** The digest of the node's own token, kept while the token stays the same. */
let ownDigest: { token: string; digest: Buffer } | undefined;

/**
 * Constant-time token equality as `constantTimeEqual` of @iicp/crypto computes it
 * (SHA-256 of both sides, then `timingSafeEqual` over 32 bytes: not even the length
 * leaks), with native hashing and the node's own digest computed once per token
 * instead of twice per CALL in JS (profiles of the task path, docs/benchmarks.md).
 */
export function nodeTokenMatches(presented: string, nodeToken: string): boolean {
  if (ownDigest?.token !== nodeToken) ownDigest = { token: nodeToken, digest: sha256(nodeToken) };
  return timingSafeEqual(sha256(presented), ownDigest.digest);
}

/**
 * Authorize a CALL (D-015): `X-IICP-Consumer-Token` verified offline against the
 * directory key cached at registration (a bad one is 401 even when a body token is
 * present, D-015); otherwise `auth.node_token` or `Authorization: Bearer`, compared in
 * constant time with the token the directory issued. Missing or empty is 401
 * (SEC-RN-01/02) unless the operator chose open mode.
 */
export function authorizeTask(
  task: Pick<TaskRequest, 'auth' | 'intent'>,
  headers: Record<string, string | string[] | undefined>,
  state: NodeRuntimeState,
  mode: AuthMode,
): Principal {
  const consumerToken = header(headers, CONSUMER_HEADER);
  const bodyToken = task.auth?.node_token;
  const headerToken = bearer(headers);
  if (consumerToken !== undefined && consumerToken.trim() !== '') {
    if (!state.directoryPublicKey || !state.nodeId)
      throw unauthorized('consumer tokens are not accepted before registration');
    const r = verifyConsumerToken(consumerToken.trim(), {
      directoryPublicKey: state.directoryPublicKey,
      nodeId: state.nodeId,
      intent: task.intent,
    });
    if (!r.ok) throw unauthorized(`consumer token rejected (${r.reason})`);
    return { kind: 'consumer', sub: r.claims.sub };
  }
  const presented = bodyToken ?? headerToken;
  if (mode === 'open' && presented === undefined) return { kind: 'anonymous' };
  requireTaskAuth(
    { ...(presented !== undefined ? { auth: { node_token: presented } } : {}) },
    consumerToken,
  );
  if (
    !state.nodeToken ||
    presented === undefined ||
    !nodeTokenMatches(presented, state.nodeToken)
  ) {
    throw unauthorized('invalid node token');
  }
  return { kind: 'node_token' };
}
