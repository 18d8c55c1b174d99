/** `GET /me`, `GET /node/{id}`, `GET /bootstrap`, `GET /stats` (iicp-dir.md §3.5, §3.9b; iicp-core.md §11). */
import {
  BOOTSTRAP_DEFAULT_LIMIT,
  BOOTSTRAP_MAX_LIMIT,
  BootstrapQuerySchema,
  IicpProtocolError,
  isUuidV4,
  parseWire,
  type BootstrapResponse,
  type MeResponse,
} from '@iicp/wire';
import type { FastifyInstance, FastifyRequest } from '@iicp/http';
import { authedNode, isLive, requireNode, type DirectoryContext } from '../context.ts';
import { dispatchView } from '../views.ts';
import type { StoredNode } from '../storage/node-store.ts';

/** Nodes below this many completed tasks are in probation (iicp-dir.md §3.4). */
const PROBATION_TASKS = 100;

function me(req: FastifyRequest): MeResponse {
  const node = authedNode(req);
  return {
    node_id: node.nodeId,
    observed_source_ip: node.observedIp ?? 'unknown',
    endpoint: node.endpoint,
  };
}

async function nodeDetail(ctx: DirectoryContext, id: string): Promise<Record<string, unknown>> {
  const n = isUuidV4(id) || /^[0-9a-f-]{36}$/i.test(id) ? await ctx.store.get(id) : undefined;
  if (!n) throw new IicpProtocolError('not_found', 'unknown node_id');
  const now = ctx.now();
  const live = isLive(n, now);
  return {
    ...dispatchView(n, 0, now),
    score: undefined,
    available: live && n.available,
    status: live ? 'active' : 'dormant',
    probation: n.completedTasksCount < PROBATION_TASKS,
    public_key: n.record['public_key'] ?? null,
    last_seen: new Date(n.lastSeen).toISOString(),
    registered_at: new Date(n.registeredAt).toISOString(),
  };
}

function bootstrap(ctx: DirectoryContext, req: FastifyRequest): BootstrapResponse {
  const q = parseWire(BootstrapQuerySchema, req.query);
  const limit = Math.min(q.limit ?? BOOTSTRAP_DEFAULT_LIMIT, BOOTSTRAP_MAX_LIMIT);
  const now = ctx.now();
  const live: StoredNode[] = [];
  for (const n of ctx.nodes.values()) if (isLive(n, now)) live.push(n);
  live.sort((a, b) => b.lastSeen - a.lastSeen);
  const peers = live.slice(0, limit).map((n) => ({
    node_id: n.nodeId,
    endpoint: n.endpoint,
    region: n.region,
    last_seen: new Date(n.lastSeen).toISOString(),
  }));
  return { peers, count: peers.length };
}

/** Health of one node on [0,1]: 0.70·reachability + 0.30·latency (50–500 ms curve). */
function nodeHealth(n: StoredNode, now: number): number {
  const reach = isLive(n, now) ? 1 : 0;
  const rtt = n.livenessRttMs;
  const latency = rtt === null ? 0.5 : Math.min(1, Math.max(0, (500 - rtt) / 450));
  return 0.7 * reach + 0.3 * latency;
}

function label(score: number): string {
  if (score >= 0.85) return 'healthy';
  if (score >= 0.65) return 'degraded';
  if (score >= 0.4) return 'impaired';
  return 'critical';
}

/** Cheap: one pass over this instance's in-memory node map, no database query. */
function stats(ctx: DirectoryContext): Record<string, unknown> {
  const now = ctx.now();
  let active = 0;
  let dormant = 0;
  const perIntent: Record<string, number> = {};
  const perRegion: Record<string, number> = {};
  const health: number[] = [];
  const byLanguage: Record<string, number> = {};
  const byVersion: Record<string, number> = {};
  for (const n of ctx.nodes.values()) {
    if (!isLive(n, now)) {
      dormant++;
      continue;
    }
    active++;
    perRegion[n.region] = (perRegion[n.region] ?? 0) + 1;
    const caps = (n.record['capabilities'] as { intent: string }[] | undefined) ?? [];
    for (const intent of new Set(caps.map((c) => c.intent)))
      perIntent[intent] = (perIntent[intent] ?? 0) + 1;
    health.push(nodeHealth(n, now));
    const lang =
      typeof n.record['sdk_language'] === 'string' ? n.record['sdk_language'] : 'unknown';
    const ver =
      (n.record['sdk_compatibility_version'] as string | undefined) ??
      (n.record['sdk_version'] as string | undefined) ??
      'unknown';
    byLanguage[lang] = (byLanguage[lang] ?? 0) + 1;
    byVersion[ver] = (byVersion[ver] ?? 0) + 1;
  }
  health.sort((a, b) => a - b);
  const median = health.length ? health[Math.floor((health.length - 1) / 2)]! : 0;
  const mean = health.length ? health.reduce((a, b) => a + b, 0) / health.length : 0;
  const p10 = health.length ? health[Math.floor((health.length - 1) * 0.1)]! : 0;
  const distribution: Record<string, number> = {};
  for (const h of health) distribution[label(h)] = (distribution[label(h)] ?? 0) + 1;
  const meshLabel =
    health.length === 0 ? 'unavailable' : health.length < 3 ? 'insufficient_sample' : label(median);
  const r = (x: number): number => Math.round(x * 1000) / 1000;
  return {
    server: { active_nodes: active, version: ctx.version },
    totals: { nodes: active + dormant, active, dormant },
    per_intent: perIntent,
    per_region: perRegion,
    mesh_health: {
      score: r(median),
      label: meshLabel,
      mean: r(mean),
      p10: r(p10),
      distribution,
      sample: health.length,
      basis: '0.70*reachability+0.30*latency',
      window: '90s',
    },
    sdk_adoption: { total_active: active, by_language: byLanguage, by_version: byVersion },
  };
}

export function infoRoutes(app: FastifyInstance, ctx: DirectoryContext): void {
  app.get('/me', { onRequest: requireNode(ctx) }, (req, reply) => {
    void reply.header('cache-control', 'no-store');
    return me(req);
  });
  app.get<{ Params: { id: string } }>('/node/:id', (req) => nodeDetail(ctx, req.params.id));
  app.get('/bootstrap', (req) => bootstrap(ctx, req));
  app.get('/stats', () => stats(ctx));
}
