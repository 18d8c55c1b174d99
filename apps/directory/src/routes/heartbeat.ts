/** HEARTBEAT `POST /heartbeat` (iicp-core.md §4; iicp-dir.md §3.2). */
import {
  HEARTBEAT_INTERVAL_MS,
  HeartbeatRequestSchema,
  IicpProtocolError,
  parseWire,
  REPUTATION_MODEL,
  type HeartbeatResponse,
} from '@iicp/wire';
import type { FastifyInstance, FastifyRequest } from '@iicp/http';
import { applyHeartbeatOutcomes, heartbeatChallenge } from '../accounting.ts';
import { authedNode, clientIp, indexNode, requireNode, type DirectoryContext } from '../context.ts';

async function heartbeat(ctx: DirectoryContext, req: FastifyRequest): Promise<HeartbeatResponse> {
  // Token first (onRequest hook): 401 before any body parsing or validation (iicp-dir.md §3.2).
  const node = authedNode(req);
  const hb = parseWire(HeartbeatRequestSchema, req.body);
  if (hb.node_id !== node.nodeId) {
    // DIR-HB-03: an unknown id is 404 for an authenticated caller; another node's id is 403.
    const other = await ctx.store.get(hb.node_id);
    if (!other) throw new IicpProtocolError('not_found', 'unknown node_id');
    throw new IicpProtocolError('forbidden', 'the token does not belong to this node_id');
  }
  const now = ctx.now();
  const ip = clientIp(ctx, req);
  const maxConcurrent = Math.max(
    1,
    Number((node.record['limits'] as { max_concurrent?: number } | undefined)?.max_concurrent ?? 1),
  );
  const activeJobs = hb.active_jobs ?? 0;
  const load = hb.load ?? Math.min(1, activeJobs / maxConcurrent);
  const ok = await ctx.store.heartbeat(node.nodeId, {
    load,
    activeJobs,
    // "absent means true" (iicp-dir.md §3.2).
    available: hb.available ?? true,
    observedIp: ip,
    now,
  });
  if (!ok) throw new IicpProtocolError('not_found', 'unknown node_id');
  let accepted: string | null = null;
  if (hb.metrics_batch_id !== undefined && hb.metrics !== undefined) {
    // At most once per (node, batch id); a duplicate is acknowledged, not re-applied.
    const applied = await ctx.store.applyMetricsBatch(
      node.nodeId,
      hb.metrics_batch_id,
      hb.metrics.tasks_success,
      now,
    );
    // Outcome-v2 moves only with a newly applied batch: a retried one is not re-counted (REP-09).
    if (applied) await applyHeartbeatOutcomes(ctx.accounting, node.nodeId, hb.metrics, now);
    accepted = hb.metrics_batch_id;
  }
  const { challenge } = await heartbeatChallenge(ctx.accounting, node.nodeId, hb, now);
  await ctx.store.recordAddress(node.nodeId, ip, 'heartbeat', now);
  const fresh = await ctx.store.get(node.nodeId);
  if (fresh) indexNode(ctx, fresh);
  return {
    ok: true,
    next_heartbeat_ms: HEARTBEAT_INTERVAL_MS,
    reputation_score: fresh?.reputation ?? node.reputation,
    reputation_model: REPUTATION_MODEL,
    metrics_batch_accepted: accepted,
    ...(challenge !== undefined ? { challenge } : {}),
  };
}

export function heartbeatRoutes(app: FastifyInstance, ctx: DirectoryContext): void {
  app.post('/heartbeat', { onRequest: requireNode(ctx) }, (req) => heartbeat(ctx, req));
}
