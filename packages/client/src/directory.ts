import {
  ConsumerTokenResponseSchema,
  DISCOVER_DEFAULT_LIMIT,
  DispatchTicketResponseSchema,
  IicpProtocolError,
  NodeListSchema,
  safeParseWire,
} from '@iicp/wire';
import type { DispatchTicketResponse, NodeList } from '@iicp/wire';
import type { QosLevel } from '@iicp/scoring';
import { IICP_VERSION_HEADER_VALUE, directoryRequest, withTimeout } from './http.ts';
import type { ResolvedOptions } from './options.ts';

/**
 * Discover answers may be reused for at most this long: the directory sends
 * `Cache-Control: public, max-age=5, …` (conformance-test-suite.md DIR-DISC-08) and
 * the spec tolerates 5 s of staleness. A shorter `max-age` or `no-store` wins.
 */
export const DISCOVER_MAX_CACHE_MS = 5_000;

/** A consumer token is refreshed this long before its `expires_at` (iicp-dir.md §3.12: 300 s TTL). */
export const CONSUMER_TOKEN_REFRESH_MARGIN_MS = 30_000;

/** Most intents (and models per intent) whose discover keys are remembered. */
const PLAIN_KEYS_MAX = 256;

/** Control-plane requests never wait longer than this. */
const DIRECTORY_TIMEOUT_MS = 10_000;

/** QUERY parameters (iicp-core.md §5; iicp-dir.md §3.3), camel-cased. */
export interface DiscoverOptions {
  readonly qos?: QosLevel;
  readonly region?: string;
  readonly limit?: number;
  readonly model?: string;
  readonly minReputation?: number;
  readonly maxMultiplier?: number;
  readonly minQualityScore?: number;
  readonly modality?: 'text' | 'image' | 'audio' | 'video';
  readonly cipCapable?: boolean;
  /** Skip the 5 s cache and ask the directory again. */
  readonly fresh?: boolean;
  readonly signal?: AbortSignal;
}

/** Parses `max-age` (capped at 5 s); `no-store`/`no-cache` mean no reuse. */
export function discoverCacheMs(cacheControl: string | null): number {
  if (cacheControl === null) return DISCOVER_MAX_CACHE_MS;
  const cc = cacheControl.toLowerCase();
  if (/(?:^|[,\s])no-(?:store|cache)\b/.test(cc)) return 0;
  const m = /(?:^|[,\s])max-age\s*=\s*"?(\d+)/.exec(cc);
  if (!m) return DISCOVER_MAX_CACHE_MS;
  return Math.min(Number(m[1]) * 1000, DISCOVER_MAX_CACHE_MS);
}

interface CachedList {
  readonly list: NodeList;
  readonly expiresAt: number;
}

interface CachedToken {
  readonly token: string;
  readonly refreshAt: number;
}

/** The directory side of the client: discover (cached), consumer tokens, dispatch tickets. */
export class DirectoryClient {
  private readonly lists = new Map<string, CachedList>();
  private readonly tokens = new Map<string, CachedToken>();
  /** Remembered discover keys of plain requests: intent → model ('' for none) → key. */
  private readonly plainKeys = new Map<string, Map<string, string>>();
  /** How many discover requests actually went to the directory (for /status and tests). */
  discoverRequests = 0;
  consumerTokenRequests = 0;

  constructor(
    private readonly o: ResolvedOptions,
    private readonly secrets: readonly string[],
  ) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return {
      ...this.o.headers,
      accept: 'application/json',
      'x-iicp-version': IICP_VERSION_HEADER_VALUE,
      ...extra,
    };
  }

  /**
   * The QUERY string of a discover request, also its cache key. The usual request
   * (intent, perhaps a model, nothing else) reuses a remembered key instead of building
   * the URLSearchParams again (same string, pinned by a test).
   */
  private discoverKey(intent: string, q: DiscoverOptions): string {
    const plain =
      q.qos === undefined &&
      q.region === undefined &&
      q.limit === undefined &&
      q.minReputation === undefined &&
      q.maxMultiplier === undefined &&
      q.minQualityScore === undefined &&
      q.modality === undefined &&
      q.cipCapable === undefined;
    if (!plain) return this.buildDiscoverKey(intent, q);
    const model = q.model || '';
    let byModel = this.plainKeys.get(intent);
    if (!byModel) {
      if (this.plainKeys.size >= PLAIN_KEYS_MAX) this.plainKeys.clear();
      byModel = new Map();
      this.plainKeys.set(intent, byModel);
    }
    let key = byModel.get(model);
    if (key === undefined) {
      key = this.buildDiscoverKey(intent, q);
      if (byModel.size >= PLAIN_KEYS_MAX) byModel.clear();
      byModel.set(model, key);
    }
    return key;
  }

  private buildDiscoverKey(intent: string, q: DiscoverOptions): string {
    const params = new URLSearchParams({ intent });
    const qos = q.qos ?? this.o.qos;
    const region = q.region ?? this.o.region;
    const limit = q.limit ?? this.o.discoverLimit;
    if (qos) params.set('qos', qos);
    if (region) params.set('region', region);
    if (limit !== undefined) params.set('limit', String(limit));
    if (q.model) params.set('model', q.model);
    if (q.minReputation !== undefined) params.set('min_reputation', String(q.minReputation));
    if (q.maxMultiplier !== undefined) params.set('max_multiplier', String(q.maxMultiplier));
    if (q.minQualityScore !== undefined) {
      params.set('min_quality_score', String(q.minQualityScore));
    }
    if (q.modality) params.set('modality', q.modality);
    if (q.cipCapable !== undefined) params.set('cip_capable', String(q.cipCapable));
    return params.toString();
  }

  /** The cached answer {@link discover} would give without asking, if there is one. */
  peek(intent: string, q: DiscoverOptions = {}): NodeList | undefined {
    if (q.fresh) return undefined;
    const hit = this.lists.get(this.discoverKey(intent, q));
    return hit && hit.expiresAt > this.o.now() ? hit.list : undefined;
  }

  async discover(intent: string, q: DiscoverOptions = {}): Promise<NodeList> {
    const key = this.discoverKey(intent, q);
    const limit = q.limit ?? this.o.discoverLimit;
    const now = this.o.now();
    const hit = this.lists.get(key);
    if (!q.fresh && hit && hit.expiresAt > now) return hit.list;

    this.discoverRequests++;
    const t = withTimeout(q.signal, DIRECTORY_TIMEOUT_MS);
    try {
      const res = await directoryRequest(
        this.o.fetch,
        `${this.o.directoryUrl}/v1/discover?${key}`,
        { method: 'GET', headers: this.headers(), signal: t.signal, callerSignal: q.signal },
        this.secrets,
      );
      const parsed = safeParseWire(NodeListSchema, res.body);
      if (!parsed.ok) {
        throw new IicpProtocolError(
          'service_unavailable',
          `the directory answered with an invalid node list (${parsed.error.message})`,
          { details: { field: parsed.error.details.field } },
        );
      }
      // SDK-DISC-02: never more than asked for, whatever the directory sent.
      const max = limit ?? DISCOVER_DEFAULT_LIMIT;
      const list: NodeList =
        parsed.value.nodes.length > max
          ? { ...parsed.value, nodes: parsed.value.nodes.slice(0, max), count: max }
          : parsed.value;
      const ttl = discoverCacheMs(res.headers.get('cache-control'));
      if (ttl > 0) this.lists.set(key, { list, expiresAt: now + ttl });
      else this.lists.delete(key);
      return list;
    } finally {
      t.cancel();
    }
  }

  /**
   * A consumer token for (target, intent) (iicp-dir.md §3.12), from the cache until
   * {@link CONSUMER_TOKEN_REFRESH_MARGIN_MS} before it expires.
   */
  async consumerToken(targetNodeId: string, intent: string, signal?: AbortSignal): Promise<string> {
    const identity = this.o.identity;
    if (!identity) throw new IicpProtocolError('unauthorized', 'the client has no node identity');
    const key = `${targetNodeId}\n${intent}`;
    const now = this.o.now();
    const hit = this.tokens.get(key);
    if (hit && hit.refreshAt > now) return hit.token;

    this.consumerTokenRequests++;
    const t = withTimeout(signal, DIRECTORY_TIMEOUT_MS);
    try {
      const res = await directoryRequest(
        this.o.fetch,
        `${this.o.directoryUrl}/api/v1/consumer-token`,
        {
          method: 'POST',
          headers: this.headers({
            'content-type': 'application/json',
            authorization: `Bearer ${identity.nodeToken}`,
          }),
          body: JSON.stringify({ target_node_id: targetNodeId, intent }),
          signal: t.signal,
          callerSignal: signal,
        },
        this.secrets,
      );
      const parsed = safeParseWire(ConsumerTokenResponseSchema, res.body);
      if (!parsed.ok) {
        throw new IicpProtocolError(
          'service_unavailable',
          'the directory answered with an invalid consumer token response',
        );
      }
      const refreshAt = parsed.value.expires_at * 1000 - CONSUMER_TOKEN_REFRESH_MARGIN_MS;
      if (refreshAt > now) this.tokens.set(key, { token: parsed.value.token, refreshAt });
      return parsed.value.token;
    } finally {
      t.cancel();
    }
  }

  /** `POST /v1/dispatch/ticket` (iicp-dir.md §3.4, ticketed dispatch): prompt-free. */
  async dispatchTicket(
    intent: string,
    qos: QosLevel | undefined,
    excludePrefixes: readonly string[],
    signal?: AbortSignal,
  ): Promise<DispatchTicketResponse> {
    const body: Record<string, unknown> = { intent };
    if (qos) body.qos = qos;
    // "up to ten exclude_node_id_prefixes after failed direct attempts".
    if (excludePrefixes.length > 0) body.exclude_node_id_prefixes = excludePrefixes.slice(-10);
    const t = withTimeout(signal, DIRECTORY_TIMEOUT_MS);
    try {
      const res = await directoryRequest(
        this.o.fetch,
        `${this.o.directoryUrl}/v1/dispatch/ticket`,
        {
          method: 'POST',
          headers: this.headers({ 'content-type': 'application/json' }),
          body: JSON.stringify(body),
          signal: t.signal,
          callerSignal: signal,
        },
        this.secrets,
      );
      const parsed = safeParseWire(DispatchTicketResponseSchema, res.body);
      if (!parsed.ok) {
        throw new IicpProtocolError(
          'service_unavailable',
          'the directory answered with an invalid dispatch ticket',
        );
      }
      return parsed.value;
    } finally {
      t.cancel();
    }
  }
}
