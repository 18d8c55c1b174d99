import { z } from 'zod';

/**
 * Where a code comes from. `slug` codes are the Phase 1 canonical names of
 * iicp-core.md §7 and the names the conformance suite pins; `numeric` codes are the
 * `IICP-Exxx` catalogue of iicp-core.md §7 and the sub-protocol documents.
 */
export type ErrorFamily = 'slug' | 'numeric';

/** Which side emits a code: anything that may cross the wire, or a client only. */
export type ErrorSide = 'wire' | 'client';

export interface ErrorCodeInfo {
  readonly code: string;
  /** Default HTTP status; `null` for codes that are never an HTTP response (client side). */
  readonly status: number | null;
  readonly family: ErrorFamily;
  readonly side: ErrorSide;
  /** Short meaning, in the project's words. docs/errors.md has the long form. */
  readonly meaning: string;
  /** Spec document and section that defines the code. */
  readonly source: string;
  /** Whether a client may retry the same request (on another node where it applies). */
  readonly retryable: boolean;
}

const e = (
  code: string,
  status: number | null,
  meaning: string,
  source: string,
  opts: { retryable?: boolean; side?: ErrorSide } = {},
): ErrorCodeInfo => ({
  code,
  status,
  family: code.startsWith('IICP-E') ? 'numeric' : 'slug',
  side: opts.side ?? 'wire',
  meaning,
  source,
  retryable: opts.retryable ?? false,
});

/**
 * The error table: every code the project emits or understands, as data. The HTTP
 * status mapping used by @iicp/http comes from here; a test fails when code in the
 * repository uses a code that is missing here, or when docs/errors.md misses one.
 */
export const ERROR_TABLE = [
  // iicp-core.md §7, IICP-core-phase1-profile.md §8: Phase 1 slug codes.
  e(
    'unauthorized',
    401,
    'Missing or invalid credential (node_token, consumer token).',
    'iicp-core.md §7',
  ),
  e('forbidden', 403, 'Credential is valid but does not grant this action.', 'iicp-core.md §7'),
  e('not_found', 404, 'The node_id (or other addressed resource) is unknown.', 'iicp-core.md §7'),
  e('conflict', 409, 'Duplicate task_id inside the idempotency window.', 'iicp-core.md §7'),
  e(
    'rate_limited',
    429,
    'Too many requests from this source; see retry_after.',
    'iicp-core.md §7',
    {
      retryable: true,
    },
  ),
  e(
    'capacity_exceeded',
    429,
    'The node has no free slot for this QoS class; the body carries qos_class and retry_after_ms. Switch node at once.',
    'iicp-core.md §7, §2.2',
    { retryable: true },
  ),
  e('task_timeout', 504, 'The task exceeded constraints.timeout_ms.', 'iicp-core.md §7', {
    retryable: true,
  }),
  e(
    'backend_error',
    502,
    'The inference backend failed; details are not exposed.',
    'iicp-core.md §7',
  ),
  e(
    'no_consensus',
    502,
    'Consensus was requested and no majority agreed.',
    'iicp-core.md §3.3, §7',
  ),
  e(
    'validation_error',
    422,
    'The input failed schema validation; the message names the field.',
    'iicp-core.md §7',
  ),
  // Other slugs the spec documents and the conformance suite pins.
  e(
    'liveness_failed',
    422,
    'The directory could not reach {endpoint}/iicp/health before issuing a token.',
    'iicp-dir.md §3.1',
  ),
  e(
    'unsupported_media_type',
    415,
    'The Content-Type or Accept names an encoding this endpoint does not speak.',
    'iicp-cbor-wire.md',
  ),
  e(
    'unknown_intent',
    422,
    'The node has no capability for the requested intent URN.',
    'conformance-test-suite.md §4.1',
  ),
  e(
    'overloaded',
    429,
    'Legacy name for capacity_exceeded; accepted from peers, never emitted by us.',
    'conformance-test-suite.md NODE-CONC-01',
    {
      retryable: true,
    },
  ),
  e(
    'no_available_node',
    503,
    'Every candidate node failed or none could be reached.',
    'conformance-test-suite.md §5.4',
    {
      retryable: true,
    },
  ),
  e(
    'timeout',
    504,
    'Every candidate node timed out (consumer side).',
    'conformance-test-suite.md §5.2',
    {
      retryable: true,
    },
  ),
  e(
    'private_address',
    422,
    'The target resolves to a private, loopback or otherwise non-public address.',
    'conformance-test-suite.md DIR-PROBE-01',
  ),
  e(
    'invalid_target',
    422,
    'The request names a target it may not (e.g. a node reporting on itself).',
    'iicp-dir.md §3.10',
  ),
  e(
    'tool_execution_denied',
    403,
    'The node policy forbids tool execution for remote callers.',
    'iicp-cooperative-inference.md §3.2',
  ),
  e(
    'reputation_too_low',
    403,
    'The caller reputation is below the node policy minimum.',
    'iicp-cooperative-inference.md §3.3',
  ),
  e(
    'insufficient_credits',
    402,
    'Slug form of IICP-E036: balance below the routing cost.',
    'iicp-billing-extension.md §6',
  ),
  e(
    'capacity_exhausted',
    503,
    'Slug form of IICP-E021: CIP worker at max_concurrent_remote.',
    'iicp-cooperative-inference.md §2.2',
    {
      retryable: true,
    },
  ),
  e(
    'invalid_config',
    null,
    'The SDK or app was configured with a value outside its bounds.',
    'conformance-test-suite.md §10',
    {
      side: 'client',
    },
  ),
  e(
    'aborted',
    null,
    'The caller cancelled the call through its AbortSignal; nothing is retried.',
    'project (spec/decisions.md)',
    {
      side: 'client',
    },
  ),
  e(
    'IICP-POLICY-001',
    null,
    'The client refuses a prohibited intent before discovery; terminal.',
    'iicp-semantics.md §1.3',
    {
      side: 'client',
    },
  ),
  // Generic HTTP conditions every app must answer in the envelope (project decisions).
  e(
    'payload_too_large',
    413,
    'The request body exceeds the configured limit.',
    'project (spec/decisions.md)',
  ),
  e(
    'method_not_allowed',
    405,
    'The route exists but not for this method.',
    'project (spec/decisions.md)',
  ),
  e(
    'not_implemented',
    501,
    'The feature is specified but not built in this implementation yet.',
    'project (spec/decisions.md)',
  ),
  e(
    'service_unavailable',
    503,
    'A dependency of this route is not ready (e.g. no directory key configured).',
    'project (spec/decisions.md)',
    {
      retryable: true,
    },
  ),
  e(
    'internal_error',
    500,
    'An unexpected fault; the message never carries internals.',
    'project (spec/decisions.md)',
  ),
  // iicp-core.md §1 and the SDK suite reference these numeric codes without defining them.
  e(
    'IICP-E004',
    null,
    'Referenced as retryable by SDK-ERR-02; not defined by the spec.',
    'conformance-test-suite.md SDK-ERR-02',
    {
      retryable: true,
      side: 'client',
    },
  ),
  e(
    'IICP-E005',
    null,
    'Referenced as retryable by SDK-ERR-02; not defined by the spec.',
    'conformance-test-suite.md SDK-ERR-02',
    {
      retryable: true,
      side: 'client',
    },
  ),
  e(
    'IICP-E006',
    504,
    'Timeout (named in iicp-core.md §1 as an example structured failure).',
    'iicp-core.md §1',
    {
      retryable: true,
    },
  ),
  e(
    'IICP-E008',
    null,
    'Referenced as retryable by SDK-ERR-02; not defined by the spec.',
    'conformance-test-suite.md SDK-ERR-02',
    {
      retryable: true,
      side: 'client',
    },
  ),
  e(
    'IICP-E013',
    null,
    'Replica: an event signature did not verify; the event is discarded.',
    'iicp-federated-directory.md §5',
    {
      side: 'client',
    },
  ),
  e(
    'IICP-E014',
    null,
    'Replica: event seq gap; sync halts and re-fetches.',
    'iicp-federated-directory.md §5',
    {
      side: 'client',
    },
  ),
  // iicp-core.md §7, Phase 5 cooperative inference.
  e(
    'IICP-E020',
    403,
    'CIP worker: coordinator reputation below minimum_reputation.',
    'iicp-core.md §7',
  ),
  e(
    'IICP-E021',
    503,
    'CIP worker at max_concurrent_remote; rejected without queueing.',
    'iicp-core.md §7',
    {
      retryable: true,
    },
  ),
  e('IICP-E022', 503, 'CIP coordinator: no eligible workers.', 'iicp-core.md §7', {
    retryable: true,
  }),
  e('IICP-E023', 429, 'CIP worker: policy evaluation rate limit.', 'iicp-core.md §7', {
    retryable: true,
  }),
  e('IICP-E024', 504, 'CIP coordinator: every worker timed out.', 'iicp-core.md §7', {
    retryable: true,
  }),
  e('IICP-E025', 422, 'majority_vote needs an odd replica count of at least 3.', 'iicp-core.md §7'),
  e('IICP-E026', 422, 'Map-reduce split leaves coverage gaps.', 'iicp-core.md §7'),
  e(
    'IICP-E027',
    422,
    'CIP receipt rejected: HMAC bad or missing, credit ceiling, nonce replay or award rate.',
    'iicp-core.md §7',
  ),
  e('IICP-E028', 422, 'Invalid CIP field value.', 'iicp-core.md §7'),
  // iicp-core.md §7, Phase 2/3.
  e('IICP-E029', 404, 'The requested model is not served by this node.', 'iicp-core.md §7'),
  e('IICP-E030', 404, 'Relay target peer unknown.', 'iicp-core.md §7'),
  e('IICP-E031', 502, 'Relay forwarding to the target peer failed.', 'iicp-core.md §7', {
    retryable: true,
  }),
  e('IICP-E032', 401, 'Telemetry needs the proxy_token, not the node_token.', 'iicp-core.md §7'),
  e(
    'IICP-E033',
    503,
    'The directory answered but no node serves this intent after filtering.',
    'iicp-core.md §7',
  ),
  e(
    'IICP-E034',
    429,
    'Registration rate limit for this source IP; see retry_after.',
    'iicp-core.md §7',
    {
      retryable: true,
    },
  ),
  e('IICP-E035', 422, 'The registered endpoint is not publicly routable.', 'iicp-core.md §7'),
  e(
    'IICP-E036',
    402,
    'Consumer credit balance below the computed routing cost.',
    'iicp-core.md §7',
  ),
  // iicp-dir.md relay and signalling.
  e(
    'IICP-E039',
    503,
    'Relay session cap reached (429 with reason relay_bind_rate_limited for bind rate).',
    'iicp-dir.md §3.13',
    {
      retryable: true,
    },
  ),
  // iicp-federated-directory.md.
  e(
    'IICP-E040',
    422,
    'Replica DID does not resolve to a DID document.',
    'iicp-federated-directory.md §7.1',
  ),
  e(
    'IICP-E041',
    422,
    'Replica DID document has no Ed25519 verification method.',
    'iicp-federated-directory.md §7.1',
  ),
  e(
    'IICP-E042',
    422,
    'Replica endpoint /iicp/health did not return 200.',
    'iicp-federated-directory.md §7.1',
  ),
  e(
    'IICP-E043',
    422,
    'Replica endpoint is not https or resolves to a private address.',
    'iicp-federated-directory.md §7.1',
  ),
  e(
    'IICP-E044',
    422,
    'trust_tier_request is not an allowed value.',
    'iicp-federated-directory.md §7.1',
  ),
  e(
    'IICP-E045',
    410,
    'since_seq is older than the retained event window; fetch a snapshot.',
    'iicp-federated-directory.md §5',
  ),
  e(
    'IICP-E046',
    503,
    'Snapshot generation timed out; retry after 30 s.',
    'iicp-federated-directory.md §5',
    {
      retryable: true,
    },
  ),
  e(
    'IICP-E047',
    503,
    'Replica mode without a usable seed URL; writes refused.',
    'iicp-federated-directory.md §6.2a',
  ),
  e(
    'IICP-E048',
    503,
    'Replica mode without a usable signing key.',
    'iicp-federated-directory.md §6.5',
  ),
  // Re-registration ownership (iicp-dir.md §5; CX §6).
  e(
    'IICP-E049',
    403,
    'Changing cx_public_key needs a current_node_token that matches.',
    'iicp-dir.md §5',
  ),
  e(
    'IICP-E050',
    403,
    'Changing a routing field needs ownership proof or a dead old endpoint.',
    'iicp-dir.md §5',
  ),
  e('IICP-E053', 413, 'Signalling message too large.', 'iicp-dir.md §3.14'),
  // iicp-confidentiality.md §6 (Tier-2 target model).
  e(
    'IICP-E060',
    422,
    'CX recipient key id or prekey id unknown for this node.',
    'iicp-confidentiality.md §6',
  ),
  e('IICP-E061', 422, 'CX iicp_conf.version not supported.', 'iicp-confidentiality.md §6'),
  e(
    'IICP-E062',
    400,
    'CX decryption failed (wrong key or tampered ciphertext).',
    'iicp-confidentiality.md §6',
  ),
  e('IICP-E063', 422, 'CX key advertised but expired.', 'iicp-confidentiality.md §6'),
  e(
    'IICP-E064',
    422,
    'The node does not support CX but received an encrypted request.',
    'iicp-confidentiality.md §6',
  ),
  e(
    'IICP-E065',
    null,
    'Client: operator key-binding signature missing or invalid; refuses to encrypt.',
    'iicp-confidentiality.md §6',
    {
      side: 'client',
    },
  ),
] as const satisfies readonly ErrorCodeInfo[];

/** Every code of the table, as a union type. */
export type ErrorCode = (typeof ERROR_TABLE)[number]['code'];

const BY_CODE: ReadonlyMap<string, ErrorCodeInfo> = new Map(ERROR_TABLE.map((x) => [x.code, x]));

export function errorInfo(code: string): ErrorCodeInfo | undefined {
  return BY_CODE.get(code);
}

export function isKnownErrorCode(code: string): code is ErrorCode {
  return BY_CODE.has(code);
}

/**
 * The error body every IICP endpoint answers with (iicp-core.md §7):
 * `{"error":{"code","message",...}}`. Extra members (qos_class, retry_after_ms,
 * retry_after, iicp_code, field) are allowed and kept.
 */
export const ErrorBodySchema = z.object({
  error: z.looseObject({
    code: z.string().min(1),
    message: z.string(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

/** Members that a code may carry next to code and message (all optional). */
export type ErrorDetails = Record<string, unknown>;

const RESERVED_DETAIL_KEYS = new Set(['code', 'message']);

/**
 * An error that crosses the wire: it has a spec code, an HTTP status and an optional
 * set of detail members that are sent inside `error`. Never put payloads, stack
 * traces, paths or SQL into `message` or `details`.
 */
export class IicpProtocolError extends Error {
  override readonly name = 'IicpProtocolError';
  readonly code: string;
  readonly status: number;
  readonly details: ErrorDetails;

  constructor(
    code: ErrorCode | string,
    message: string,
    opts: { status?: number; details?: ErrorDetails } = {},
  ) {
    super(message);
    this.code = code;
    this.status = opts.status ?? errorInfo(code)?.status ?? 500;
    this.details = opts.details ?? {};
  }

  get retryable(): boolean {
    return errorInfo(this.code)?.retryable ?? false;
  }

  toWire(): ErrorBody {
    const extra: ErrorDetails = {};
    for (const [k, v] of Object.entries(this.details)) {
      if (!RESERVED_DETAIL_KEYS.has(k) && v !== undefined) extra[k] = v;
    }
    return { error: { code: this.code, message: this.message, ...extra } };
  }

  /**
   * Rebuild a protocol error from a peer's response body. A body that is not an error
   * envelope becomes `backend_error` (peer spoke something else); unknown codes are
   * kept as they are, so a newer peer's code is not lost.
   */
  static fromWire(body: unknown, status?: number): IicpProtocolError {
    const parsed = ErrorBodySchema.safeParse(body);
    if (!parsed.success) {
      return new IicpProtocolError(
        'backend_error',
        'peer answered without an IICP error envelope',
        {
          status: status ?? 502,
        },
      );
    }
    const { code, message, ...details } = parsed.data.error;
    return new IicpProtocolError(code, message, {
      status: status ?? errorInfo(code)?.status ?? 502,
      details,
    });
  }
}

export function isIicpProtocolError(x: unknown): x is IicpProtocolError {
  return x instanceof IicpProtocolError;
}

/**
 * An error that stays inside the process: configuration, programming and local I/O
 * faults. The HTTP layer never sends its message; it answers `internal_error`.
 */
export class IicpLocalError extends Error {
  override readonly name = 'IicpLocalError';
  readonly code: string;

  constructor(code: string, message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
  }
}
