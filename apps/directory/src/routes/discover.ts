/** DISCOVER `GET /discover` → NODELIST (iicp-core.md §5; iicp-dir.md §3.3–§3.4). */
import {
  clampDiscoverLimit,
  DISCOVER_CACHE_CONTROL,
  DiscoverQuerySchema,
  parseWire,
  type DiscoverQuery,
} from '@iicp/wire';
import type { FastifyInstance, FastifyReply, FastifyRequest } from '@iicp/http';
import type { DirectoryContext } from '../context.ts';
import { dispatchView, dispatchViewJson, publicView, publicViewJson } from '../views.ts';

/** What fastify sends for a serialised object; the pre-serialised reply says the same. */
const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/** NODELIST members after `nodes`, `count` and `query_ms`, per view. */
const DISPATCH_META = {
  view: 'dispatch',
  data_class: 'route_dispatch',
  route_fields_present: true,
  relay_available: false,
  ticketed_dispatch_available: true,
} as const;
const PUBLIC_META = {
  view: 'public',
  data_class: 'public_presentation',
  route_fields_present: false,
  redaction: {
    node_id: 'prefix_only',
    endpoints: 'omitted',
    transport_metadata: 'omitted',
    keys: 'omitted',
  },
} as const;

/**
 * Parsed queries by request URL. Parsing is a pure function of the URL, so a
 * hit is exactly what zod would return; only successes are kept (a failure re-parses
 * and throws the same error), and the map is emptied when full, so it stays small
 * whatever clients send.
 */
const parsedQueries = new Map<string, DiscoverQuery>();
const PARSED_QUERIES_MAX = 512;

function parseQuery(req: FastifyRequest): DiscoverQuery {
  // The whole URL: `req.query` is parsed from it, whichever prefix it came under.
  const key = req.url;
  const hit = parsedQueries.get(key);
  if (hit !== undefined) return hit;
  const q = parseWire(DiscoverQuerySchema, req.query);
  if (parsedQueries.size >= PARSED_QUERIES_MAX) parsedQueries.clear();
  parsedQueries.set(key, q);
  return q;
}

/**
 * The NODELIST's JSON from the nodes' JSON texts and the members after `nodes`:
 * byte for byte `JSON.stringify({ nodes, ...rest })` of the parsed nodes.
 */
export function nodeListJson(nodes: readonly string[], rest: Record<string, unknown>): string {
  const envelope = JSON.stringify({ nodes: [], ...rest });
  // `nodes` is normally the first member, so the envelope starts `{"nodes":[]`; only
  // integer-like keys in `rest` (which JSON orders first) take the slow path.
  if (!envelope.startsWith('{"nodes":[]'))
    return JSON.stringify({ nodes: nodes.map((t) => JSON.parse(t) as unknown), ...rest });
  return `{"nodes":[${nodes.join(',')}${envelope.slice('{"nodes":['.length)}`;
}

function discover(
  ctx: DirectoryContext,
  req: FastifyRequest,
  reply: FastifyReply,
): Record<string, unknown> | string {
  const t0 = performance.now();
  const q = parseQuery(req);
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
  void reply.header('cache-control', DISCOVER_CACHE_CONTROL);
  const meta = view === 'public' ? PUBLIC_META : DISPATCH_META;
  if (req.server.iicp.repliesWithJson(req)) {
    // JSON: splice each node's cached JSON fragment instead of building and serialising
    // the view objects (the same bytes; views.ts).
    const nodes: string[] = [];
    for (const r of ranked) {
      const n = ctx.nodes.get(r.nodeId);
      if (!n) continue;
      nodes.push(
        view === 'public' ? publicViewJson(n, r.score, now) : dispatchViewJson(n, r.score, now),
      );
    }
    const queryMs = Math.round(performance.now() - t0);
    void reply.type(JSON_CONTENT_TYPE);
    return nodeListJson(nodes, { count: nodes.length, query_ms: queryMs, ...meta });
  }
  const nodes: Record<string, unknown>[] = [];
  for (const r of ranked) {
    const n = ctx.nodes.get(r.nodeId);
    if (!n) continue;
    nodes.push(view === 'public' ? publicView(n, r.score, now) : dispatchView(n, r.score, now));
  }
  const queryMs = Math.round(performance.now() - t0);
  return { nodes, count: nodes.length, query_ms: queryMs, ...meta };
}

export function discoverRoutes(app: FastifyInstance, ctx: DirectoryContext): void {
  app.get('/discover', (req, reply) => discover(ctx, req, reply));
}
