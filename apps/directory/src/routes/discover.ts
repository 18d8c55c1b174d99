/** DISCOVER `GET /discover` → NODELIST (iicp-core.md §5; iicp-dir.md §3.3–§3.4). */
import {
  clampDiscoverLimit,
  DISCOVER_CACHE_CONTROL,
  DiscoverQuerySchema,
  parseWire,
} from '@iicp/wire';
import type { FastifyInstance, FastifyReply, FastifyRequest } from '@iicp/http';
import type { DirectoryContext } from '../context.ts';
import { dispatchView, publicView } from '../views.ts';

function discover(
  ctx: DirectoryContext,
  req: FastifyRequest,
  reply: FastifyReply,
): Record<string, unknown> {
  const t0 = performance.now();
  const q = parseWire(DiscoverQuerySchema, req.query);
  const view = q.view ?? 'dispatch';
  const now = ctx.now();
  const ranked = ctx.index.query({
    intent: q.intent,
    qos: q.qos ?? null,
    region: q.region ?? null,
    limit: clampDiscoverLimit(q.limit),
    model: q.model ?? null,
    minReputation: q.min_reputation ?? null,
    minScore: q.min_quality_score ?? null,
    maxMultiplier: q.max_multiplier ?? null,
    modality: q.modality ?? null,
    cipCapable: q.cip_capable ?? null,
    now,
  });
  const nodes: Record<string, unknown>[] = [];
  for (const r of ranked) {
    const n = ctx.nodes.get(r.nodeId);
    if (!n) continue;
    nodes.push(view === 'public' ? publicView(n, r.score, now) : dispatchView(n, r.score, now));
  }
  void reply.header('cache-control', DISCOVER_CACHE_CONTROL);
  const queryMs = Math.round(performance.now() - t0);
  if (view === 'public') {
    return {
      nodes,
      count: nodes.length,
      query_ms: queryMs,
      view: 'public',
      data_class: 'public_presentation',
      route_fields_present: false,
      redaction: {
        node_id: 'prefix_only',
        endpoints: 'omitted',
        transport_metadata: 'omitted',
        keys: 'omitted',
      },
    };
  }
  return {
    nodes,
    count: nodes.length,
    query_ms: queryMs,
    view: 'dispatch',
    data_class: 'route_dispatch',
    route_fields_present: true,
    relay_available: false,
    ticketed_dispatch_available: true,
  };
}

export function discoverRoutes(app: FastifyInstance, ctx: DirectoryContext): void {
  app.get('/discover', (req, reply) => discover(ctx, req, reply));
}
