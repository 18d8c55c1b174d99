/**
 * What every route shares: the store, this instance's in-memory discover index (kept
 * current by its own writes and refreshed from the database so that instances sharing
 * one PostgreSQL agree within seconds), the verified-token cache, the liveness prober,
 * and the mapping from stored rows to wire views.
 */
import type { DirectoryKey, NodeTokenCache } from '@iicp/crypto';
import { createHash } from 'node:crypto';
import { verifyNodeToken } from '@iicp/crypto';
import type { HttpClient, SsrfGuard } from '@iicp/http';
import type { DiscoverIndex } from '@iicp/scoring';
import { type ScoringNode } from '@iicp/scoring';
import { IicpProtocolError, LIVENESS_WINDOW_MS } from '@iicp/wire';
import type { FastifyRequest } from '@iicp/http';
import type { Accounting } from './accounting.ts';
import type { EventLog } from './storage/event-log.ts';
import type { HeartbeatWriter } from './heartbeat-writer.ts';
import type { NodeStore, StoredNode } from './storage/node-store.ts';

export interface ResolvedConfig {
  readonly publicUrl: string;
  readonly registerRateLimit: number;
  readonly allowPrivateEndpoints: boolean;
  readonly probeConnectTo: Readonly<Record<string, string>>;
  readonly bcryptCost: number;
  readonly trustProxy: boolean;
  readonly storage: string;
  /** SHA-256 hex of each accepted `GET /v1/snapshot` bearer (D-041; never the tokens). */
  readonly replicaTokenHashes: readonly string[];
}

export interface DirectoryContext {
  readonly store: NodeStore;
  readonly index: DiscoverIndex;
  /** Current non-deregistered nodes by id, as last written or refreshed. */
  readonly nodes: NodeMap;
  readonly tokens: NodeTokenCache;
  readonly prober: HttpClient;
  readonly guard: SsrfGuard;
  readonly config: ResolvedConfig;
  readonly now: () => number;
  readonly version: string;
  /** The directory signing key: events, consumer tokens, relay and dispatch tickets. */
  readonly key: DirectoryKey;
  /** did:web of `publicUrl`, the `signer_did` of every event. */
  readonly did: string;
  /** The signed, hash-chained event log (issue 6). */
  readonly events: EventLog;
  /** Credentials, reputation, telemetry, audit, credits and probe state (0003_accounting). */
  readonly accounting: Accounting;
  /** Group commit of heartbeats (one transaction per tick of concurrent heartbeats). */
  readonly heartbeats: HeartbeatWriter;
}

/**
 * The node map with a second key: the token lookup key (first 16 hex of SHA-256 of the
 * token), so a heartbeat finds the node a Bearer token claims to be without a query.
 * A lookup key shared by two nodes (64 bits: not expected) answers for the last one
 * set; the other then authenticates through the database as before.
 */
export class NodeMap extends Map<string, StoredNode> {
  // Built empty only: Map's constructor would call set() before this field exists.
  constructor() {
    super();
  }

  readonly #byLookup = new Map<string, string>();

  override set(nodeId: string, n: StoredNode): this {
    const old = super.get(nodeId);
    if (old && old.tokenLookup !== n.tokenLookup) this.#unlink(old);
    super.set(nodeId, n);
    this.#byLookup.set(n.tokenLookup, nodeId);
    return this;
  }

  override delete(nodeId: string): boolean {
    const old = super.get(nodeId);
    if (old) this.#unlink(old);
    return super.delete(nodeId);
  }

  override clear(): void {
    this.#byLookup.clear();
    super.clear();
  }

  /** The held node whose token lookup key is `lookup`, if any. */
  byTokenLookup(lookup: string): StoredNode | undefined {
    const id = this.#byLookup.get(lookup);
    const n = id === undefined ? undefined : super.get(id);
    return n?.tokenLookup === lookup ? n : undefined;
  }

  #unlink(n: StoredNode): void {
    if (this.#byLookup.get(n.tokenLookup) === n.nodeId) this.#byLookup.delete(n.tokenLookup);
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The node authenticated by {@link requireNode}. */
    iicpNode?: StoredNode;
  }
}

export interface AuthOptions {
  /**
   * Try the node this instance holds in memory first (a verified-token cache hit
   * against its stored hash), then the database. Only for routes whose write guards
   * itself with the authenticated token version, so that a token rotated or revoked
   * by another instance is still refused at once (the heartbeat).
   */
  readonly fromMemory?: boolean;
}

/**
 * An `onRequest` hook: authenticates before the body is even parsed, so a missing or
 * wrong token is 401 whatever the body or its media type.
 */
export function requireNode(ctx: DirectoryContext, opts: AuthOptions = {}) {
  return async (req: FastifyRequest): Promise<void> => {
    req.iicpNode = await authenticate(ctx, req, opts);
  };
}

/** The node {@link requireNode} authenticated. */
export function authedNode(req: FastifyRequest): StoredNode {
  if (!req.iicpNode) throw new IicpProtocolError('unauthorized', 'missing or invalid node token');
  return req.iicpNode;
}

/** First 16 hex digits of SHA-256(token): the stored, non-secret lookup key. */
export function tokenLookupKey(token: string): string {
  // node:crypto, not the portable hash: this runs on every authenticated request.
  return createHash('sha256').update(token, 'utf8').digest('hex').slice(0, 16);
}

/** Bearer token from the Authorization header, or undefined. */
export function bearerToken(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer\s+(\S{1,256})\s*$/i.exec(h);
  return m?.[1];
}

const UNAUTHORIZED = 'missing or invalid node token';

/**
 * The node a Bearer node_token belongs to (iicp-dir.md §3.2: validated on every call),
 * or 401 `unauthorized`. Runs before any body validation.
 */
export async function authenticate(
  ctx: DirectoryContext,
  req: FastifyRequest,
  opts: AuthOptions = {},
): Promise<StoredNode> {
  const token = bearerToken(req);
  if (!token) throw new IicpProtocolError('unauthorized', UNAUTHORIZED);
  const lookup = tokenLookupKey(token);
  if (opts.fromMemory) {
    // Cache only: a miss (or a hash this instance has not caught up with) goes to the
    // database, so bcrypt never runs against a possibly stale hash.
    const held = ctx.nodes.byTokenLookup(lookup);
    if (held && ctx.tokens.has(token, held.nodeId, held.tokenHash)) return held;
  }
  const candidates = await ctx.store.findByTokenLookup(lookup);
  for (const n of candidates) {
    if (await verifyNodeToken(token, n.nodeId, n.tokenHash, ctx.tokens)) return n;
  }
  throw new IicpProtocolError('unauthorized', UNAUTHORIZED);
}

function stripV4Mapped(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/**
 * The client IP (iicp-core.md §11 DIR-ADDR-05): `CF-Connecting-IP`, then the first
 * `X-Forwarded-For` entry, then the TCP peer. The headers are honoured only when the
 * operator says a proxy sets them (`--trust-proxy`); the value is informational.
 */
export function clientIp(ctx: DirectoryContext, req: FastifyRequest): string {
  if (ctx.config.trustProxy) {
    const cf = req.headers['cf-connecting-ip'];
    if (typeof cf === 'string' && cf.trim() !== '') return stripV4Mapped(cf.trim());
    const xff = req.headers['x-forwarded-for'];
    const first = (Array.isArray(xff) ? xff[0] : xff)?.split(',')[0]?.trim();
    if (first) return stripV4Mapped(first);
  }
  return stripV4Mapped(req.socket.remoteAddress ?? 'unknown');
}

interface CapabilityRecord {
  intent: string;
  models?: string[];
  input_modalities?: string[];
}

export function capabilitiesOf(n: StoredNode): CapabilityRecord[] {
  const caps = n.record['capabilities'];
  return Array.isArray(caps) ? (caps as CapabilityRecord[]) : [];
}

function recordObject(n: StoredNode, key: string): Record<string, unknown> | undefined {
  const v = n.record[key];
  return v !== null && typeof v === 'object' && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

export function maxConcurrentOf(n: StoredNode): number {
  const mc = recordObject(n, 'limits')?.['max_concurrent'];
  return typeof mc === 'number' ? mc : 1;
}

/** Stored row → the flat shape @iicp/scoring ranks. */
export function toScoringNode(n: StoredNode): ScoringNode {
  const mult = recordObject(n, 'pricing')?.['credit_cost_multiplier'];
  const remote = recordObject(n, 'cip_policy')?.['allow_remote_inference'];
  const availability = n.record['availability'];
  return {
    nodeId: n.nodeId,
    region: n.region,
    capabilities: capabilitiesOf(n).map((c) => ({
      intent: c.intent,
      models: c.models,
      inputModalities: c.input_modalities,
    })),
    maxConcurrent: maxConcurrentOf(n),
    // A route active probing confirmed dead is not dispatchable (iicp-dir.md §3.9c).
    available: n.available && n.status === 'active' && n.routeDead !== true,
    lastSeenMs: n.lastSeen,
    load: n.load,
    activeJobs: n.activeJobs,
    reputation: n.reputation,
    completedTasks: n.completedTasksCount,
    availability: Array.isArray(availability)
      ? (availability as ScoringNode['availability'])
      : null,
    creditCostMultiplier: typeof mult === 'number' ? mult : null,
    allowRemoteInference: remote === true,
  };
}

/** What {@link indexNode} and {@link dropNode} touch. */
export type IndexView = Pick<DirectoryContext, 'nodes' | 'index' | 'tokens'>;

/** Put a node's latest state into this instance's index and view map. */
export function indexNode(ctx: IndexView, n: StoredNode): void {
  if (n.status === 'active') {
    ctx.nodes.set(n.nodeId, n);
    ctx.index.upsert(toScoringNode(n));
  } else {
    dropNode(ctx, n.nodeId, n.status === 'deregistered');
    if (n.status === 'dormant') ctx.nodes.set(n.nodeId, n);
  }
}

export function dropNode(ctx: IndexView, nodeId: string, forget: boolean): void {
  ctx.index.remove(nodeId);
  if (forget) {
    ctx.nodes.delete(nodeId);
    ctx.tokens.invalidateNode(nodeId);
  }
}

/** Whether a node counts as live now (last heartbeat within 90 s, iicp-core.md §4). */
export function isLive(n: StoredNode, now: number): boolean {
  return n.status === 'active' && now - n.lastSeen <= LIVENESS_WINDOW_MS;
}
