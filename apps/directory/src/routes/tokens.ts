/**
 * Credentials the directory signs for a node holding a node_token:
 * - `POST /consumer-token` (iicp-dir.md §3.12; D-034): lets the caller send one intent
 *   (or `*`) to one provider for 300 s without ever learning the provider's token;
 * - `POST /relay/ticket` (iicp-dir.md §7.4; D-044): a 120 s, single-use bind ticket for
 *   the node's own `worker_id`, which the relay verifies and consumes.
 * Both authenticate before the body is read (401), count per node in the database's
 * limiter (429), and answer 201.
 */
import { issueConsumerToken, issueRelayBindTicket } from '@iicp/crypto';
import {
  ConsumerTokenRequestSchema,
  IicpProtocolError,
  parseWire,
  RelayTicketRequestSchema,
  type ConsumerTokenResponse,
} from '@iicp/wire';
import type { FastifyInstance, FastifyReply, FastifyRequest } from '@iicp/http';
import { authedNode, requireNode, type DirectoryContext } from '../context.ts';
import { enforceLimit, unixNow } from './trust-common.ts';

/** "60/min per node" (iicp-dir.md §3.12). */
export const CONSUMER_TOKEN_RATE_LIMIT = 60;
/** Bind tickets per node per minute: the relay's own bind budget (§7.3: 30 per 60 s). */
export const RELAY_TICKET_RATE_LIMIT = 30;

async function consumerToken(
  ctx: DirectoryContext,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<ConsumerTokenResponse> {
  const caller = authedNode(req);
  await enforceLimit(
    ctx,
    reply,
    `consumer-token:${caller.nodeId}`,
    CONSUMER_TOKEN_RATE_LIMIT,
    60_000,
    'consumer tokens for this node',
  );
  const body = parseWire(ConsumerTokenRequestSchema, req.body);
  const target = await ctx.store.get(body.target_node_id);
  if (!target) throw new IicpProtocolError('not_found', 'unknown target_node_id');
  const issued = issueConsumerToken({
    signer: ctx.key,
    issuer: ctx.config.publicUrl,
    callerNodeId: caller.nodeId,
    targetNodeId: target.nodeId,
    intent: body.intent,
    clock: () => unixNow(ctx),
  });
  void reply.code(201).header('cache-control', 'no-store');
  return {
    token: issued.token,
    expires_at: issued.expiresAt,
    caller_node_id: caller.nodeId,
    target_node_id: target.nodeId,
    intent: body.intent,
  };
}

async function relayTicket(
  ctx: DirectoryContext,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<{ ticket: string; expires_at: number }> {
  const node = authedNode(req);
  await enforceLimit(
    ctx,
    reply,
    `relay-ticket:${node.nodeId}`,
    RELAY_TICKET_RATE_LIMIT,
    60_000,
    'relay tickets for this node',
  );
  const body = parseWire(RelayTicketRequestSchema, req.body);
  if (body.node_id !== node.nodeId) {
    throw new IicpProtocolError('forbidden', 'the token does not belong to this node_id');
  }
  const { ticket, claims } = issueRelayBindTicket({
    signer: ctx.key,
    issuer: ctx.config.publicUrl,
    nodeId: node.nodeId,
    clock: () => unixNow(ctx),
  });
  void reply.code(201).header('cache-control', 'no-store');
  return { ticket, expires_at: claims.exp };
}

export function tokenRoutes(app: FastifyInstance, ctx: DirectoryContext): void {
  const auth = { onRequest: requireNode(ctx) };
  app.post('/consumer-token', auth, (req, reply) => consumerToken(ctx, req, reply));
  app.post('/relay/ticket', auth, (req, reply) => relayTicket(ctx, req, reply));
}
