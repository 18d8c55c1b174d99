/**
 * Proxy telemetry `POST /v1/telemetry` (iicp-telemetry.md §2–§T4; digest §1.9).
 * Authenticated by the reporting node's proxy_token only (a node_token, a bad token or
 * no token is 401 `IICP-E032`, decided before the body is read). A report from a
 * reporter that passes the age and reputation gate (iicp-semantics.md §11.7) counts:
 * toward the Sybil quorum of the latency EMA (≥ 3 distinct proxies in 7 days, α with
 * the outlier weight) and as one task outcome for outcome-v2 reputation. Others are
 * recorded and acknowledged (202) but influence nothing.
 */
import { IicpProtocolError, NonNegativeIntSchema, UuidSchema, parseWire } from '@iicp/wire';
import type { FastifyInstance, FastifyReply, FastifyRequest } from '@iicp/http';
import { z } from 'zod';
import { proxyTokenHash, reporterEligible } from '../accounting.ts';
import { bearerToken, indexNode, type DirectoryContext } from '../context.ts';
import { outcomeDelta } from '../reputation.ts';

/** Telemetry body (iicp-telemetry.md §2). `timeout` is accepted as a third outcome (§11.2). */
export const TelemetryReportSchema = z.looseObject({
  node_id: UuidSchema,
  proxy_node_id: UuidSchema,
  latency_ms_observed: z.number().nonnegative().max(3_600_000),
  tokens_observed: NonNegativeIntSchema.optional(),
  status: z.enum(['success', 'failure', 'timeout']),
  qos_met: z.boolean().optional(),
});
export type TelemetryReport = z.infer<typeof TelemetryReportSchema>;

/** Distinct eligible proxies needed before the EMA moves (§T4.2). */
export const TELEMETRY_QUORUM = 3;
export const TELEMETRY_QUORUM_WINDOW_MS = 7 * 24 * 3600_000;
/** Outlier rule (§T4.3): ≥ 10 prior observations and > 3× the 24 h median → α × 0.1. */
export const OUTLIER_MIN_OBSERVATIONS = 10;
export const OUTLIER_FACTOR = 3;
export const OUTLIER_WEIGHT = 0.1;
const OUTLIER_WINDOW_MS = 24 * 3600_000;

const proxyOf = new WeakMap<FastifyRequest, string>();

function e032(message = 'Invalid or missing proxy_token'): IicpProtocolError {
  return new IicpProtocolError('IICP-E032', message, { status: 401 });
}

/** onRequest: the Bearer must be a live node's proxy_token (never its node_token). */
export function requireProxyToken(ctx: DirectoryContext) {
  return async (req: FastifyRequest): Promise<void> => {
    const token = bearerToken(req);
    if (!token) throw e032();
    const id = await ctx.accounting.store.nodeIdByProxyToken(proxyTokenHash(token));
    if (!id) throw e032();
    proxyOf.set(req, id);
  };
}

function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function telemetry(
  ctx: DirectoryContext,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<Record<string, unknown>> {
  const proxyId = proxyOf.get(req);
  if (!proxyId) throw e032();
  const body = req.body as Record<string, unknown> | null | undefined;
  // "proxy_node_id is REQUIRED … if absent, 401 IICP-E032" (§T4.1); it must be the token's node.
  if (body === null || typeof body !== 'object' || body['proxy_node_id'] === undefined) {
    throw e032('proxy_node_id is required');
  }
  if (body['proxy_node_id'] !== proxyId) throw e032('proxy_node_id does not match the proxy_token');
  const t = parseWire(TelemetryReportSchema, body);
  if (t.node_id === t.proxy_node_id) {
    throw new IicpProtocolError('invalid_target', 'a node cannot report telemetry on itself', {
      details: { field: 'node_id' },
    });
  }
  const acc = ctx.accounting;
  const target = await ctx.store.get(t.node_id);
  if (!target) throw new IicpProtocolError('not_found', 'unknown node_id');
  const reporter = await ctx.store.get(proxyId);
  const now = ctx.now();
  const eligible = reporter !== undefined && reporterEligible(acc, reporter, now);
  const prior = await acc.store.observationsBy(t.node_id, proxyId);
  const recent = await acc.store.latenciesSince(t.node_id, now - OUTLIER_WINDOW_MS);
  await acc.store.insertTelemetry({
    nodeId: t.node_id,
    proxyNodeId: proxyId,
    latencyMs: t.latency_ms_observed,
    tokens: t.tokens_observed ?? 0,
    status: t.status,
    qosMet: t.qos_met ?? null,
    eligible,
    now,
  });
  let distinct = 0;
  let observed: number | null = target.observedLatencyMs ?? null;
  let outlierWeight = 1;
  if (eligible) {
    distinct = await acc.store.distinctEligibleProxies(t.node_id, now - TELEMETRY_QUORUM_WINDOW_MS);
    if (distinct >= TELEMETRY_QUORUM) {
      const med = median(recent);
      if (
        prior >= OUTLIER_MIN_OBSERVATIONS &&
        med > 0 &&
        t.latency_ms_observed > OUTLIER_FACTOR * med
      ) {
        outlierWeight = OUTLIER_WEIGHT;
      }
      observed = await acc.store.updateObservedLatency(
        t.node_id,
        t.latency_ms_observed,
        acc.settings.telemetryAlpha * outlierWeight,
        now,
      );
    }
    // One observed task outcome (iicp-semantics.md §11.2); latency itself never penalises.
    await acc.store.applyReputation(
      t.node_id,
      outcomeDelta({
        success: t.status === 'success' ? 1 : 0,
        failed: t.status === 'failure' ? 1 : 0,
        timedOut: t.status === 'timeout' ? 1 : 0,
      }),
      now,
    );
    const fresh = await ctx.store.get(t.node_id);
    if (fresh) indexNode(ctx, fresh);
  }
  void reply.code(eligible ? 201 : 202).header('cache-control', 'no-store');
  return {
    recorded: true,
    counted: eligible,
    quorum_met: distinct >= TELEMETRY_QUORUM,
    distinct_proxies: distinct,
    outlier_weight: outlierWeight,
    observed_latency_ms: observed === null ? null : Math.round(observed * 100) / 100,
  };
}

export function telemetryRoutes(app: FastifyInstance, ctx: DirectoryContext): void {
  app.post('/telemetry', { onRequest: requireProxyToken(ctx) }, (req, reply) =>
    telemetry(ctx, req, reply),
  );
}
