/**
 * REGISTER `POST /register` and deregistration (iicp-core.md §2; iicp-dir.md §3.1).
 * Admission order (digest-directory.md §1.1): rate limit → schema → intent risk →
 * routability (IICP-E035) → ownership (IICP-E049/E050) → liveness probe → persist.
 */
import { randomUUID } from 'node:crypto';
import { generateNodeToken, hashNodeToken, verifyNodeToken } from '@iicp/crypto';
import { SsrfBlockedError, splitHostPort } from '@iicp/http';
import { intentRiskDecision } from '@iicp/scoring';
import {
  DeregisterRequestSchema,
  IicpProtocolError,
  parseWire,
  RegisterRequestSchema,
  type RegisterAck,
  type RegisterRequest,
} from '@iicp/wire';
import type { FastifyInstance, FastifyReply, FastifyRequest } from '@iicp/http';
import { REGISTER_RATE_WINDOW_MS, LIVENESS_PROBE_TIMEOUT_MS } from '../config.ts';
import {
  authedNode,
  clientIp,
  dropNode,
  indexNode,
  requireNode,
  tokenLookupKey,
  type DirectoryContext,
} from '../context.ts';
import { issueRegisterCredentials } from '../accounting.ts';
import type { StoredNode } from '../storage/node-store.ts';

/** Atomic per-IP limit in the database, so instances sharing it share the limit. */
async function enforceRateLimit(
  ctx: DirectoryContext,
  ip: string,
  reply: FastifyReply,
): Promise<void> {
  const r = await ctx.store.hitRateLimit(
    `register:${ip}`,
    ctx.config.registerRateLimit,
    REGISTER_RATE_WINDOW_MS,
    ctx.now(),
  );
  if (!r.allowed) {
    void reply.header('retry-after', String(r.retryAfterS));
    throw new IicpProtocolError('rate_limited', 'too many registrations from this address', {
      status: 429,
      details: { iicp_code: 'IICP-E034', retry_after: r.retryAfterS },
    });
  }
}

/** Refuse prohibited and (unless configured) high-risk intents (intent-risk taxonomy). */
function enforceIntentRisk(reg: RegisterRequest): void {
  for (const [i, cap] of reg.capabilities.entries()) {
    const d = intentRiskDecision(cap.intent);
    if (d.action === 'refuse') {
      throw new IicpProtocolError(
        'IICP-POLICY-001',
        'intent refused by the directory risk policy',
        {
          status: 422,
          details: { field: `capabilities[${i}].intent`, risk_category: d.category },
        },
      );
    }
  }
}

function hostPortOf(url: URL): string {
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return `${url.hostname.replace(/^\[|\]$/g, '')}:${port}`;
}

function isConnectMapped(ctx: DirectoryContext, url: URL): boolean {
  const hp = splitHostPort(hostPortOf(url));
  if (!hp) return false;
  return Object.keys(ctx.config.probeConnectTo).some((k) => {
    const f = splitHostPort(k);
    return f !== undefined && f.host === hp.host && f.port === hp.port;
  });
}

/** IICP-E035: the endpoint must be publicly routable (skipped in private mode). */
async function enforceRoutable(ctx: DirectoryContext, endpoint: string): Promise<void> {
  if (ctx.config.allowPrivateEndpoints) return;
  const url = new URL(endpoint);
  if (isConnectMapped(ctx, url)) return;
  try {
    await ctx.guard.assertUrl(url);
  } catch (e) {
    if (e instanceof SsrfBlockedError) {
      const err = e.toProtocolError('IICP-E035');
      throw new IicpProtocolError(err.code, err.message, {
        status: err.status,
        details: { field: 'endpoint' },
      });
    }
    throw e;
  }
}

/**
 * `GET {endpoint}/iicp/health` through the SSRF-guarded client; 2xx within 5 s.
 * Returns the round-trip time in ms (kept as latency evidence) or undefined.
 */
export async function probeHealth(
  ctx: DirectoryContext,
  endpoint: string,
): Promise<number | undefined> {
  const base = endpoint.replace(/\/+$/, '');
  const t0 = performance.now();
  try {
    const res = await ctx.prober.request({
      url: `${base}/iicp/health`,
      timeoutMs: LIVENESS_PROBE_TIMEOUT_MS,
      throwOnHttpError: false,
      maxResponseBytes: 64 * 1024,
    });
    if (res.status >= 200 && res.status < 300) return performance.now() - t0;
    return undefined;
  } catch {
    return undefined;
  }
}

const ROUTE_FIELDS = ['endpoint', 'transport_endpoint', 'relay_endpoint'] as const;

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/**
 * Ownership of an existing node id (iicp-dir.md §3.1, §6): a `cx_public_key` change
 * needs the current token (else 403 IICP-E049); anything else needs the token too,
 * unless the route changes and the old endpoint is provably dead (else 403 IICP-E050).
 * Decision: the strict form (E′) applies from the start, because every node this
 * directory knows was issued a token, so there is no legacy token-less population.
 */
async function enforceOwnership(
  ctx: DirectoryContext,
  existing: StoredNode,
  reg: RegisterRequest,
): Promise<void> {
  const presented = reg.current_node_token;
  const tokenOk =
    presented !== undefined &&
    (await verifyNodeToken(presented, existing.nodeId, existing.tokenHash, ctx.tokens));
  if (tokenOk) return;
  if (!sameJson(existing.record['cx_public_key'], reg.cx_public_key)) {
    throw new IicpProtocolError('IICP-E049', 'changing cx_public_key requires current_node_token', {
      status: 403,
    });
  }
  const routeChanged = ROUTE_FIELDS.some((f) =>
    f === 'endpoint' ? existing.endpoint !== reg.endpoint : !sameJson(existing.record[f], reg[f]),
  );
  if (routeChanged && (await probeHealth(ctx, existing.endpoint)) === undefined) return;
  throw new IicpProtocolError(
    'IICP-E050',
    'refreshing an existing node requires current_node_token',
    { status: 403 },
  );
}

function storedRecord(reg: RegisterRequest, nodeId: string): Record<string, unknown> {
  // The operator key is directory-private (DIR-OPID-01): only its fingerprint is kept.
  const { current_node_token: _t, operator_delegation: _d, ...rest } = reg;
  return { ...rest, node_id: nodeId };
}

async function register(
  ctx: DirectoryContext,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<RegisterAck> {
  const ip = clientIp(ctx, req);
  await enforceRateLimit(ctx, ip, reply);
  const reg = parseWire(RegisterRequestSchema, req.body);
  enforceIntentRisk(reg);
  await enforceRoutable(ctx, reg.endpoint);
  const existing = reg.node_id !== undefined ? await ctx.store.get(reg.node_id) : undefined;
  if (existing) await enforceOwnership(ctx, existing, reg);
  const rtt = await probeHealth(ctx, reg.endpoint);
  if (rtt === undefined) {
    throw new IicpProtocolError(
      'liveness_failed',
      'endpoint did not answer GET /iicp/health with 2xx',
      {
        details: { field: 'endpoint' },
      },
    );
  }
  const nodeId = reg.node_id ?? randomUUID();
  const token = generateNodeToken();
  const tokenHash = await hashNodeToken(token, ctx.config.bcryptCost);
  const now = ctx.now();
  const row = {
    nodeId,
    tokenHash,
    tokenLookup: tokenLookupKey(token),
    endpoint: reg.endpoint,
    region: reg.region,
    record: storedRecord(reg, nodeId),
    observedIp: ip,
    livenessRttMs: Math.round(rtt * 100) / 100,
    now,
  };
  const ok = existing
    ? await ctx.store.refresh({
        ...row,
        expectedTokenVersion: existing.tokenVersion,
        previousRecord: existing.record,
      })
    : await ctx.store.insert(row);
  if (!ok) {
    throw new IicpProtocolError(
      'conflict',
      'the node changed concurrently; retry the registration',
    );
  }
  // The old token must be refused from now on: drop any cached verification of it.
  ctx.tokens.invalidateNode(nodeId);
  const credentials = await issueRegisterCredentials(ctx.accounting, {
    nodeId,
    reg,
    ip,
    fresh: !existing,
    now,
  });
  await ctx.store.recordAddress(nodeId, ip, 'register', now);
  const stored = await ctx.store.get(nodeId);
  if (stored) indexNode(ctx, stored);
  void reply.code(201).header('cache-control', 'no-store');
  return {
    message_type: 'ACK',
    node_id: nodeId,
    node_token: token,
    expires_at: null,
    directory: ctx.config.publicUrl,
    observed_source_ip: ip,
    ...credentials,
  };
}

async function deregister(
  ctx: DirectoryContext,
  req: FastifyRequest,
): Promise<{ deregistered: true }> {
  const node = authedNode(req);
  const body = parseWire(DeregisterRequestSchema, req.body);
  if (body.node_id !== node.nodeId) {
    throw new IicpProtocolError('forbidden', 'the token does not belong to this node_id');
  }
  const ok = await ctx.store.deregister(node.nodeId, node.tokenVersion, ctx.now());
  if (!ok) throw new IicpProtocolError('unauthorized', 'missing or invalid node token');
  dropNode(ctx, node.nodeId, true);
  return { deregistered: true };
}

export function registerRoutes(app: FastifyInstance, ctx: DirectoryContext): void {
  app.post('/register', (req, reply) => register(ctx, req, reply));
  const auth = { onRequest: requireNode(ctx) };
  app.delete('/register', auth, (req) => deregister(ctx, req));
  // The telemetry spec names POST /v1/deregister (digest C4): same handler.
  app.post('/deregister', auth, (req) => deregister(ctx, req));
}
