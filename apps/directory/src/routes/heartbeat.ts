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
import { applyHeartbeatOutcomes } from '../accounting.ts';
import {
  authedNode,
  authenticate,
  clientIp,
  indexNode,
  requireNode,
  type DirectoryContext,
} from '../context.ts';
import type { HeartbeatApplied, HeartbeatInput } from '../heartbeat-writer.ts';
import type { StoredNode } from '../storage/node-store.ts';

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
  const activeJobs = hb.active_jobs ?? 0;
  const maxConcurrent = (n: StoredNode): number =>
    Math.max(
      1,
      Number((n.record['limits'] as { max_concurrent?: number } | undefined)?.max_concurrent ?? 1),
    );
  const input = (n: StoredNode): HeartbeatInput => ({
    node: n,
    load: hb.load ?? Math.min(1, activeJobs / maxConcurrent(n)),
    activeJobs,
    // "absent means true" (iicp-dir.md §3.2).
    available: hb.available ?? true,
    observedIp: clientIp(ctx, req),
    now,
    challengeResponse: hb.challenge_response,
  });
  let done: HeartbeatApplied | undefined = await ctx.heartbeats.submit(input(node));
  if (!done) {
    // The write is guarded by the token version authenticated: it missed, so the node was
    // rotated, deregistered or deleted meanwhile (possibly by another instance while this
    // one held the older state). Check the token against the database: a revoked one is
    // 401 now; a valid one (this instance was behind) is written once more.
    const fresh = await authenticate(ctx, req);
    if (fresh.nodeId !== node.nodeId) {
      throw new IicpProtocolError('unauthorized', 'missing or invalid node token');
    }
    done = await ctx.heartbeats.submit(input(fresh));
    if (!done) throw new IicpProtocolError('not_found', 'unknown node_id');
  }
  let current = done.node;
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
    if (applied) {
      await applyHeartbeatOutcomes(ctx.accounting, node.nodeId, hb.metrics, now);
      current = undefined;
    }
    accepted = hb.metrics_batch_id;
  }
  if (!current) {
    // A newer registration arrived meanwhile, or the metrics moved counters: re-read.
    current = await ctx.store.get(node.nodeId);
    if (current) indexNode(ctx, current);
  }
  return {
    ok: true,
    next_heartbeat_ms: HEARTBEAT_INTERVAL_MS,
    reputation_score: current?.reputation ?? done.dynamics.reputation,
    reputation_model: REPUTATION_MODEL,
    metrics_batch_accepted: accepted,
    ...(done.challenge !== undefined ? { challenge: done.challenge } : {}),
  };
}

export function heartbeatRoutes(app: FastifyInstance, ctx: DirectoryContext): void {
  // Authenticated from the nodes this instance holds (the write re-checks the version).
  app.post('/heartbeat', { onRequest: requireNode(ctx, { fromMemory: true }) }, (req) =>
    heartbeat(ctx, req),
  );
}
