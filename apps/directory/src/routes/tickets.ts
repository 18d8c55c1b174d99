/**
 * `POST /dispatch/ticket` (iicp-dir.md §3.4 "Ticketed dispatch discovery"; conformance
 * DIR-DISPATCH-01..05): one eligible route for one intent plus a short-lived signed
 * ticket. Control plane only: a body carrying a task field is refused before anything
 * else and the refused value is never echoed; prohibited and high-risk intents are
 * refused before any candidate is looked at.
 */
import { issueDispatchRouteTicket } from '@iicp/crypto';
import { intentRiskDecision } from '@iicp/scoring';
import {
  DISPATCH_TICKET_FORBIDDEN_KEYS,
  DispatchTicketRequestSchema,
  IicpProtocolError,
  parseWire,
  type DispatchTicketRequest,
  type DispatchTicketResponse,
} from '@iicp/wire';
import type { FastifyInstance, FastifyReply, FastifyRequest } from '@iicp/http';
import { clientIp, isLive, type DirectoryContext } from '../context.ts';
import type { StoredNode } from '../storage/node-store.ts';
import { enforceLimit, unixNow } from './trust-common.ts';

/** Per-IP budget (no auth is defined for this route; digest §1 recommends a limit). */
export const DISPATCH_TICKET_RATE_LIMIT = 120;

function compactId(id: string): string {
  return id.replace(/-/g, '').toLowerCase();
}

/** Refuse task content by key alone: the message and details name the key, never its value. */
function refuseTaskContent(body: unknown): void {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return;
  for (const key of DISPATCH_TICKET_FORBIDDEN_KEYS) {
    if (Object.hasOwn(body, key)) {
      throw new IicpProtocolError(
        'validation_error',
        `${key}: dispatch ticket requests must not carry task content`,
        { details: { field: key } },
      );
    }
  }
}

function hasIntent(n: StoredNode, intent: string): boolean {
  const caps = n.record['capabilities'];
  return Array.isArray(caps) && caps.some((c: { intent?: unknown }) => c.intent === intent);
}

/** The node to ticket: the caller's selector, minus exclusions, among nodes eligible now. */
function selectNode(ctx: DirectoryContext, q: DispatchTicketRequest): StoredNode | undefined {
  const now = ctx.now();
  const excluded = (q.exclude_node_id_prefixes ?? []).map(compactId);
  const allowed = (n: StoredNode) => !excluded.some((p) => compactId(n.nodeId).startsWith(p));
  const ranked = ctx.index
    .query({ intent: q.intent, qos: q.qos ?? null, limit: 50, now })
    .map((r) => ctx.nodes.get(r.nodeId))
    .filter((n): n is StoredNode => n !== undefined && allowed(n));
  if (q.node_id !== undefined) {
    const id = q.node_id.toLowerCase();
    const hit = ranked.find((n) => n.nodeId === id);
    if (hit) return hit;
    // Past the top 50 of the ranking: still eligible if live, available and serving the intent.
    const n = ctx.nodes.get(id);
    return n && allowed(n) && isLive(n, now) && n.available && hasIntent(n, q.intent)
      ? n
      : undefined;
  }
  if (q.node_id_prefix !== undefined) {
    const p = compactId(q.node_id_prefix);
    return ranked.find((n) => compactId(n.nodeId).startsWith(p));
  }
  return ranked[0];
}

async function dispatchTicket(
  ctx: DirectoryContext,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<DispatchTicketResponse> {
  refuseTaskContent(req.body);
  await enforceLimit(
    ctx,
    reply,
    `dispatch-ticket:${clientIp(ctx, req)}`,
    DISPATCH_TICKET_RATE_LIMIT,
    60_000,
    'dispatch ticket requests',
  );
  const q = parseWire(DispatchTicketRequestSchema, req.body);
  const risk = intentRiskDecision(q.intent);
  if (risk.action === 'refuse') {
    throw new IicpProtocolError('IICP-POLICY-001', 'intent refused by the directory risk policy', {
      status: 422,
      details: { field: 'intent', risk_category: risk.category },
    });
  }
  const node = selectNode(ctx, q);
  if (!node) throw new IicpProtocolError('not_found', 'no eligible node for this request');
  const issued = issueDispatchRouteTicket({
    signer: ctx.key,
    issuer: ctx.config.publicUrl,
    nodeId: node.nodeId,
    intent: q.intent,
    clock: () => unixNow(ctx),
  });
  const cx = node.record['cx_public_key'];
  const transport = node.record['transport_endpoint'];
  void reply.code(201).header('cache-control', 'no-store');
  return {
    ticket: issued.ticket,
    ticket_id_prefix: issued.ticketIdPrefix,
    expires_at: issued.expiresAt,
    intent: q.intent,
    node_id: node.nodeId,
    node_id_prefix: compactId(node.nodeId).slice(0, 8),
    route: {
      node_id: node.nodeId,
      endpoint: node.endpoint,
      transport_endpoint: typeof transport === 'string' ? transport : null,
      cx_public_key: cx !== null && typeof cx === 'object' ? (cx as Record<string, unknown>) : null,
    },
    algorithm: 'ed25519',
    data_class: 'ticketed_route_dispatch',
    route_fields_present: true,
    prompt_payload_accepted: false,
  };
}

export function dispatchTicketRoutes(app: FastifyInstance, ctx: DirectoryContext): void {
  app.post('/dispatch/ticket', (req, reply) => dispatchTicket(ctx, req, reply));
}
