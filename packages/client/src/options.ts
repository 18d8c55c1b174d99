import type { CircuitBreakerOptions, QosLevel } from '@iicp/scoring';
import { QOS_VALUES, REGION_MAX_LENGTH, TIMEOUT_MS_MIN } from '@iicp/wire';
import { invalidConfig } from './errors.ts';
import { fetchTransport, type TaskTransport } from './transport.ts';

/**
 * SDK cap on `constraints.timeout_ms`: "timeout_ms > 120000 is rejected at IicpClient
 * construction time with IicpError(code="invalid_config")" (conformance-test-suite.md
 * SDK-04; spec/decisions.md D-002). The node itself accepts up to 300000.
 */
export const SDK_TIMEOUT_MS_MAX = 120_000;

/** Default per-attempt budget when neither the client nor the call names one. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * How long the client waits past `timeout_ms` for the node's own 504 before it gives
 * up on the attempt itself: the node measures its budget from receipt (iicp-core.md §3.1).
 */
export const DEFAULT_ATTEMPT_GRACE_MS = 2_000;

/**
 * Client remote-routing policy profiles (iicp-dir.md §3.4.1). See README.md for what
 * each does here; `strict_policy` and `operator_bound_policy` are not offered yet.
 */
export const ROUTING_PROFILES = [
  'standard',
  'sensitive',
  'eu_restricted',
  'allowed_regions_strict',
  'debug_override',
] as const;
export type RoutingProfile = (typeof ROUTING_PROFILES)[number];

/** The client's own node identity: used only to obtain consumer tokens (iicp-dir.md §3.12). */
export interface NodeIdentity {
  readonly nodeId: string;
  /** Sent only to the directory as `Authorization: Bearer`, never to another node. */
  readonly nodeToken: string;
}

/** A configured local node tried after the remote ones (iicp-semantics.md §8 step 4). */
export interface LocalFallback {
  readonly endpoint: string;
  readonly nodeId?: string;
  /** Operator credential for that node, sent as `auth.node_token`. */
  readonly nodeToken?: string;
}

export interface ClientOptions {
  /** Directory base URL, e.g. `http://127.0.0.1:8090`. */
  readonly directoryUrl: string;
  /** Default `constraints.timeout_ms` per attempt, in [100, 120000] (SDK-04). */
  readonly timeoutMs?: number;
  /** Default QoS class for discovery and CALL (iicp-semantics.md §2). */
  readonly qos?: QosLevel;
  /** Region preference for discovery (never an exclusion, iicp-core.md §5). */
  readonly region?: string;
  /** Discover `limit`, 1–50 (iicp-core.md §5). */
  readonly discoverLimit?: number;
  /**
   * Phase 1 operator credential for the nodes this client may call, sent as
   * `auth.node_token` when no consumer token is used (iicp-core.md §3.1, D-015).
   */
  readonly nodeToken?: string;
  /** With an identity, every CALL carries an `X-IICP-Consumer-Token` (iicp-dir.md §3.12). */
  readonly identity?: NodeIdentity;
  /** `ticket`: ask `POST /v1/dispatch/ticket` for each route (iicp-dir.md §3.4). */
  readonly dispatch?: 'discover' | 'ticket';
  readonly routingProfile?: RoutingProfile;
  /** Region allowlist for `eu_restricted` / `allowed_regions_strict` (iicp-dir.md §3.4.1). */
  readonly allowedRegions?: readonly string[];
  /** Keep only key-ready nodes (`key_ready`/`cx_public_key`); see README (routing profiles). */
  readonly requireKeyReady?: boolean;
  /** Opt-in for `high_risk` intents under a private compliance profile (iicp-dir.md §3.4.1). */
  readonly allowHighRisk?: boolean;
  /**
   * IICP-CX: payloads are encrypted to every node that advertises a `cx_public_key`, and
   * keyless nodes are refused (iicp-confidentiality.md §1). `true` lets the client send
   * plaintext to keyless remote nodes (a transitional escape hatch); nodes with a key
   * are still always encrypted to. The configured local fallback is never refused.
   */
  readonly allowPlaintext?: boolean;
  readonly localFallback?: LocalFallback;
  /** Budget past `timeout_ms` before the client abandons an attempt itself. */
  readonly attemptGraceMs?: number;
  /** Extra headers for every request (never task content). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly breaker?: Omit<CircuitBreakerOptions, 'now'>;
  /**
   * Turning TLS verification off is not offered (SDK-05): passing `false` fails with
   * `invalid_config`. Certificates are always verified by the platform's fetch.
   */
  readonly tlsVerify?: boolean;
  /** Injected for tests and other runtimes; defaults to the global `fetch`. */
  readonly fetch?: typeof fetch;
  /**
   * How CALLs reach nodes; defaults to one on `fetch` (the option above). A Node host
   * may pass `createUndiciTransport()` from @iicp/http (the consumer proxy does).
   * Directory requests always use `fetch`.
   */
  readonly transport?: TaskTransport;
  /** Injected wait used for retry backoff; resolves early never, rejects on abort. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Epoch milliseconds. */
  readonly now?: () => number;
  /** Uniform in [0, 1): jitter source. */
  readonly random?: () => number;
}

export interface ResolvedOptions {
  readonly directoryUrl: string;
  readonly timeoutMs: number;
  readonly qos: QosLevel | undefined;
  readonly region: string | undefined;
  readonly discoverLimit: number | undefined;
  readonly nodeToken: string | undefined;
  readonly identity: NodeIdentity | undefined;
  readonly dispatch: 'discover' | 'ticket';
  readonly routingProfile: RoutingProfile;
  readonly allowedRegions: readonly string[];
  readonly requireKeyReady: boolean;
  readonly allowHighRisk: boolean;
  readonly allowPlaintext: boolean;
  readonly localFallback: LocalFallback | undefined;
  readonly attemptGraceMs: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly breaker: Omit<CircuitBreakerOptions, 'now'>;
  readonly fetch: typeof fetch;
  readonly transport: TaskTransport;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly now: () => number;
  readonly random: () => number;
}

/** `timeout_ms` must be an integer in [100, 120000] (SDK-04, D-002). */
export function checkTimeoutMs(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw invalidConfig(`${field} must be an integer number of milliseconds`);
  }
  if (value < TIMEOUT_MS_MIN || value > SDK_TIMEOUT_MS_MAX) {
    throw invalidConfig(`${field} must be between ${TIMEOUT_MS_MIN} and ${SDK_TIMEOUT_MS_MAX}`);
  }
  return value;
}

export function checkQos(value: unknown, field: string): QosLevel | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(QOS_VALUES as readonly string[]).includes(value)) {
    throw invalidConfig(`${field} must be one of ${QOS_VALUES.join(', ')}`);
  }
  return value as QosLevel;
}

export function checkRegion(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '' || value.length > REGION_MAX_LENGTH) {
    throw invalidConfig(`${field} must be a non-empty string of at most ${REGION_MAX_LENGTH}`);
  }
  return value;
}

/** Discover `limit`: "Default 10, max 50" (iicp-core.md §5). */
export function checkLimit(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 50) {
    throw invalidConfig(`${field} must be an integer between 1 and 50`);
  }
  return value;
}

function checkHttpUrl(value: unknown, field: string): string {
  if (typeof value !== 'string') throw invalidConfig(`${field} must be a URL string`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalidConfig(`${field} is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalidConfig(`${field} must use http or https`);
  }
  if (url.username || url.password) throw invalidConfig(`${field} must not carry credentials`);
  return url.href.replace(/\/+$/, '');
}

function checkToken(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw invalidConfig(`${field} must be a non-empty string`);
  }
  return value;
}

const defaultSleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** Validates options once, at construction (SDK-04/SDK-05): every fault is `invalid_config`. */
export function resolveOptions(input: ClientOptions): ResolvedOptions {
  if (input === null || typeof input !== 'object') {
    throw invalidConfig('createClient needs an options object with directoryUrl');
  }
  const o = input as ClientOptions & { tls_verify?: unknown; timeout_ms?: unknown };
  if (o.tlsVerify === false || o.tls_verify === false) {
    throw invalidConfig('TLS verification cannot be turned off (SDK-05)');
  }
  const timeoutRaw = o.timeoutMs !== undefined ? o.timeoutMs : o.timeout_ms;
  const routingProfile = o.routingProfile ?? 'standard';
  if (!(ROUTING_PROFILES as readonly string[]).includes(routingProfile)) {
    throw invalidConfig(`routingProfile must be one of ${ROUTING_PROFILES.join(', ')}`);
  }
  const allowedRegions = o.allowedRegions ?? [];
  if (!Array.isArray(allowedRegions) || allowedRegions.some((r) => typeof r !== 'string')) {
    throw invalidConfig('allowedRegions must be a list of region strings');
  }
  if (
    (routingProfile === 'eu_restricted' || routingProfile === 'allowed_regions_strict') &&
    allowedRegions.length === 0
  ) {
    throw invalidConfig(`routingProfile ${routingProfile} needs a non-empty allowedRegions`);
  }
  const dispatch = o.dispatch ?? 'discover';
  if (dispatch !== 'discover' && dispatch !== 'ticket') {
    throw invalidConfig('dispatch must be "discover" or "ticket"');
  }
  let identity: NodeIdentity | undefined;
  if (o.identity !== undefined) {
    if (o.identity === null || typeof o.identity !== 'object') {
      throw invalidConfig('identity must be {nodeId, nodeToken}');
    }
    const nodeId = checkToken(o.identity.nodeId, 'identity.nodeId');
    identity = { nodeId, nodeToken: checkToken(o.identity.nodeToken, 'identity.nodeToken') };
  }
  let localFallback: LocalFallback | undefined;
  if (o.localFallback !== undefined) {
    const lf = o.localFallback;
    if (lf === null || typeof lf !== 'object') {
      throw invalidConfig('localFallback must be {endpoint, nodeToken?}');
    }
    if (lf.nodeId !== undefined && typeof lf.nodeId !== 'string') {
      throw invalidConfig('localFallback.nodeId must be a string');
    }
    localFallback = {
      endpoint: checkHttpUrl(lf.endpoint, 'localFallback.endpoint'),
      ...(lf.nodeId !== undefined ? { nodeId: lf.nodeId } : {}),
      ...(lf.nodeToken !== undefined
        ? { nodeToken: checkToken(lf.nodeToken, 'localFallback.nodeToken') }
        : {}),
    };
  }
  const grace = o.attemptGraceMs ?? DEFAULT_ATTEMPT_GRACE_MS;
  if (typeof grace !== 'number' || !Number.isInteger(grace) || grace < 0 || grace > 60_000) {
    throw invalidConfig('attemptGraceMs must be an integer between 0 and 60000');
  }
  const f = o.fetch ?? globalThis.fetch;
  if (typeof f !== 'function') throw invalidConfig('no fetch implementation is available');
  if (o.transport !== undefined && typeof o.transport?.send !== 'function') {
    throw invalidConfig('transport must be an object with a send(request) method');
  }
  const fetchFn: typeof fetch = (input, init) => f(input, init);
  return {
    directoryUrl: checkHttpUrl(o.directoryUrl, 'directoryUrl'),
    timeoutMs:
      timeoutRaw === undefined ? DEFAULT_TIMEOUT_MS : checkTimeoutMs(timeoutRaw, 'timeoutMs'),
    qos: checkQos(o.qos, 'qos'),
    region: checkRegion(o.region, 'region'),
    discoverLimit: checkLimit(o.discoverLimit, 'discoverLimit'),
    nodeToken: o.nodeToken === undefined ? undefined : checkToken(o.nodeToken, 'nodeToken'),
    identity,
    dispatch,
    routingProfile,
    allowedRegions: [...allowedRegions],
    requireKeyReady: o.requireKeyReady === true,
    allowHighRisk: o.allowHighRisk === true,
    allowPlaintext: o.allowPlaintext === true,
    localFallback,
    attemptGraceMs: grace,
    headers: { ...(o.headers ?? {}) },
    breaker: { ...(o.breaker ?? {}) },
    fetch: fetchFn,
    transport: o.transport ?? fetchTransport(fetchFn),
    sleep: o.sleep ?? defaultSleep,
    now: o.now ?? Date.now,
    random: o.random ?? Math.random,
  };
}
