import { isIP } from 'node:net';
import { codecForMediaType, encodeCbor, encodeJson, MEDIA_TYPES } from '@iicp/codec';
import { IicpLocalError, IicpProtocolError } from '@iicp/wire';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import {
  createSsrfGuard,
  normalizeHost,
  splitHostPort,
  SsrfBlockedError,
  type ConnectToMap,
  type SsrfGuardOptions,
} from './ssrf.ts';

/** Default total deadline of one request (headers and body), ms. */
export const DEFAULT_CLIENT_TIMEOUT_MS = 30_000;
/** Default TCP/TLS connect deadline, ms. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Default response body cap: 16 MiB, the largest IICP message (iicp-framing.md §2). */
export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
const MAX_SAME_ORIGIN_REDIRECTS = 5;

export type HttpClientErrorCode =
  | 'timeout'
  | 'aborted'
  | 'connect_failed'
  | 'response_too_large'
  | 'redirect_refused'
  | 'decode_failed'
  | 'request_failed';

/** A failure of the outbound call itself (no usable HTTP answer). Never sent as is. */
export class HttpClientError extends IicpLocalError {
  declare readonly code: HttpClientErrorCode;

  constructor(code: HttpClientErrorCode, message: string, opts: { cause?: unknown } = {}) {
    super(code, message, opts);
  }

  /**
   * The wire error to answer a caller with when this call was made on its behalf
   * (e.g. a node calling its backend): a timeout is `task_timeout` (504, iicp-core.md
   * §7), anything else `backend_error` (502) whose message hides the details.
   */
  toProtocolError(): IicpProtocolError {
    if (this.code === 'timeout') return new IicpProtocolError('task_timeout', 'upstream timed out');
    return new IicpProtocolError('backend_error', 'upstream call failed');
  }
}

export interface HttpClientOptions {
  timeoutMs?: number;
  connectTimeoutMs?: number;
  maxResponseBytes?: number;
  /** Max sockets per origin (keep-alive pool). Default 64. */
  connections?: number;
  keepAliveTimeoutMs?: number;
  /**
   * Guard every connection against non-public targets (peer-supplied URLs). Omit
   * for operator-configured targets such as a local inference backend.
   */
  ssrf?: SsrfGuardOptions;
  /**
   * Test-only `host:port` → `address:port` overrides, like curl's `--connect-to`.
   * TLS still verifies the certificate against the original host name. Mapped
   * targets skip the address check (the operator chose them).
   */
  connectTo?: ConnectToMap;
  /** `none` (default): 3xx is returned or refused; `same-origin`: follow within the origin. */
  redirects?: 'none' | 'same-origin';
  /** Extra trusted CA certificates (PEM), e.g. a private CA or a test CA. */
  ca?: string | Buffer | (string | Buffer)[];
  /** Headers sent with every request (e.g. user-agent). */
  headers?: Record<string, string>;
}

export interface HttpRequestOptions {
  url: string | URL;
  method?: string;
  headers?: Record<string, string>;
  /** A value to encode as `encoding`; or raw bytes/string with your own content-type. */
  body?: unknown;
  /** Encoding of `body` when it is not bytes/string. Default json. */
  encoding?: 'json' | 'cbor';
  /** Preferred reply encoding (sets Accept unless given). Default json. */
  accept?: 'json' | 'cbor';
  /** Total deadline, e.g. a CALL's `constraints.timeout_ms`. */
  timeoutMs?: number;
  signal?: AbortSignal;
  maxResponseBytes?: number;
  /** Turn non-2xx answers into IicpProtocolError (from the peer's envelope). Default true. */
  throwOnHttpError?: boolean;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Essence of the reply's content type ('' when none). */
  contentType: string;
  bytes: Buffer;
  /** Decoded JSON or CBOR; the text for text/*; otherwise undefined. */
  body: unknown;
}

export interface HttpClient {
  request(opts: HttpRequestOptions): Promise<HttpResponse>;
  /** Close the pools (waits for in-flight requests). */
  close(): Promise<void>;
  /** The undici dispatcher, for callers that need streaming or an SDK (`fetch`). */
  readonly dispatcher: Dispatcher;
}

function buildAgent(opts: HttpClientOptions): Agent {
  const guard = opts.ssrf ? createSsrfGuard(opts.ssrf) : undefined;
  const connectTo = new Map<string, { host: string; port: number }>();
  for (const [from, to] of Object.entries(opts.connectTo ?? {})) {
    const f = splitHostPort(from);
    const t = splitHostPort(to);
    if (!f || !t) throw new IicpLocalError('invalid_config', `bad connect-to entry ${from}`);
    connectTo.set(`${f.host}:${f.port}`, t);
  }
  const base = buildConnector({
    timeout: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    ...(opts.ca ? { ca: opts.ca } : {}),
    ...(guard && !guard.allowPrivate ? { lookup: guard.lookup } : {}),
  });
  const connect: buildConnector.connector = (o, cb) => {
    const host = normalizeHost(o.hostname);
    const port = Number(o.port) || (o.protocol === 'https:' ? 443 : 80);
    const mapped = connectTo.get(`${host}:${port}`);
    if (mapped) {
      // TLS keeps verifying the original name: SNI and certificate check use it.
      const servername = o.servername ?? (isIP(host) ? undefined : host);
      base(
        {
          ...o,
          hostname: mapped.host,
          port: String(mapped.port),
          ...(servername ? { servername } : {}),
        },
        cb,
      );
      return;
    }
    if (guard && !guard.allowPrivate && isIP(host)) {
      // IP literals never reach `lookup`; names are checked (and dialled) there.
      guard.resolve(host).then(
        () => base(o, cb),
        (err: Error) => cb(err, null),
      );
      return;
    }
    base(o, cb);
  };
  return new Agent({
    connect,
    connections: opts.connections ?? 64,
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? 4_000,
  });
}

function encodeBody(
  body: unknown,
  encoding: 'json' | 'cbor',
): { bytes: Uint8Array | string; type?: string } {
  if (typeof body === 'string' || body instanceof Uint8Array) return { bytes: body };
  return encoding === 'cbor'
    ? { bytes: encodeCbor(body), type: MEDIA_TYPES.iicpCbor }
    : { bytes: encodeJson(body), type: MEDIA_TYPES.json };
}

function essenceOf(ct: string | string[] | undefined): string {
  const v = Array.isArray(ct) ? ct[0] : ct;
  return (v ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
}

function decodeBody(bytes: Buffer, contentType: string): unknown {
  if (bytes.length === 0) return undefined;
  const codec = contentType ? codecForMediaType(contentType) : undefined;
  if (codec) {
    try {
      return codec.decode(bytes, { maxBytes: bytes.length });
    } catch (cause) {
      throw new HttpClientError('decode_failed', `reply body is not valid ${codec.mediaType}`, {
        cause,
      });
    }
  }
  if (contentType.startsWith('text/')) return bytes.toString('utf8');
  return undefined;
}

const CONNECT_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'EPIPE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_HAS_EXPIRED',
]);

function mapError(
  err: unknown,
  deadline: { readonly aborted: boolean },
  user: AbortSignal | undefined,
): Error {
  if (err instanceof HttpClientError || err instanceof SsrfBlockedError) return err;
  if (err instanceof IicpProtocolError) return err;
  if (deadline.aborted && !user?.aborted) {
    return new HttpClientError('timeout', 'request exceeded its deadline', { cause: err });
  }
  if (user?.aborted)
    return new HttpClientError('aborted', 'request aborted by caller', { cause: err });
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && CONNECT_ERROR_CODES.has(code)) {
    return new HttpClientError('connect_failed', `connection failed (${code})`, { cause: err });
  }
  return new HttpClientError('request_failed', 'request failed', { cause: err });
}

/** Drop a reply body we will not read; undici reports the destroy as an error event. */
function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => undefined);
  body.destroy();
}

async function readCapped(body: Dispatcher.ResponseData['body'], cap: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    const c = chunk as Buffer;
    total += c.length;
    if (total > cap) {
      discard(body);
      throw new HttpClientError('response_too_large', `reply body exceeds ${cap} bytes`);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks, total);
}

/**
 * The one outbound HTTP client (directory, node and backend calls): undici keep-alive
 * pools, a total deadline per request, caller aborts, no redirects unless asked
 * (and then same-origin only), a response size cap, JSON/CBOR via @iicp/codec, and
 * failures as HttpClientError / SsrfBlockedError / IicpProtocolError.
 */
export function createHttpClient(opts: HttpClientOptions = {}): HttpClient {
  const agent = buildAgent(opts);

  async function request(r: HttpRequestOptions): Promise<HttpResponse> {
    const timeoutMs = r.timeoutMs ?? opts.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS;
    const cap = r.maxResponseBytes ?? opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    let url = typeof r.url === 'string' ? new URL(r.url) : r.url;
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new HttpClientError('request_failed', `unsupported scheme ${url.protocol}`);
    }
    let method = (r.method ?? (r.body === undefined ? 'GET' : 'POST')).toUpperCase();
    const headers: Record<string, string> = {
      accept:
        r.accept === 'cbor'
          ? `${MEDIA_TYPES.iicpCbor}, ${MEDIA_TYPES.json};q=0.9`
          : MEDIA_TYPES.json,
      ...opts.headers,
    };
    for (const [k, v] of Object.entries(r.headers ?? {})) headers[k.toLowerCase()] = v;
    let payload: Uint8Array | string | undefined;
    if (r.body !== undefined) {
      let enc: ReturnType<typeof encodeBody>;
      try {
        enc = encodeBody(r.body, r.encoding ?? 'json');
      } catch (cause) {
        throw new HttpClientError('request_failed', 'request body cannot be encoded', { cause });
      }
      payload = enc.bytes;
      if (enc.type && !headers['content-type']) headers['content-type'] = enc.type;
    }

    // One controller for the deadline and the caller's signal: `AbortSignal.timeout` +
    // `AbortSignal.any` cost more per call than the rest of a small request here.
    const ctl = new AbortController();
    const deadline = { aborted: false };
    const timer = setTimeout(() => {
      deadline.aborted = true;
      ctl.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
    }, timeoutMs);
    timer.unref?.();
    const user = r.signal;
    const onUserAbort = (): void => ctl.abort(user?.reason);
    if (user?.aborted) ctl.abort(user.reason);
    else user?.addEventListener('abort', onUserAbort, { once: true });
    const signal = ctl.signal;
    try {
      for (let hop = 0; ; hop++) {
        const res = await agent.request({
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method: method as Dispatcher.HttpMethod,
          headers,
          ...(payload !== undefined ? { body: payload } : {}),
          signal,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        });
        const location = res.headers.location;
        if (res.statusCode >= 300 && res.statusCode < 400 && location !== undefined) {
          discard(res.body);
          const next = new URL(Array.isArray(location) ? (location[0] ?? '') : location, url);
          if (opts.redirects !== 'same-origin' || next.origin !== url.origin) {
            throw new HttpClientError(
              'redirect_refused',
              `redirect (${res.statusCode}) not followed`,
            );
          }
          if (hop >= MAX_SAME_ORIGIN_REDIRECTS) {
            throw new HttpClientError('redirect_refused', 'too many redirects');
          }
          if (
            res.statusCode === 303 ||
            ((res.statusCode === 301 || res.statusCode === 302) && method === 'POST')
          ) {
            method = 'GET';
            payload = undefined;
            delete headers['content-type'];
          }
          url = next;
          continue;
        }
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > cap) {
          discard(res.body);
          throw new HttpClientError('response_too_large', `reply body exceeds ${cap} bytes`);
        }
        const bytes = await readCapped(res.body, cap);
        const contentType = essenceOf(res.headers['content-type']);
        const ok = res.statusCode >= 200 && res.statusCode < 300;
        let body: unknown;
        try {
          body = decodeBody(bytes, contentType);
        } catch (e) {
          if (ok || r.throwOnHttpError === false) throw e;
          body = undefined;
        }
        if (!ok && r.throwOnHttpError !== false)
          throw IicpProtocolError.fromWire(body, res.statusCode);
        return { status: res.statusCode, headers: res.headers, contentType, bytes, body };
      }
    } catch (err) {
      throw mapError(err, deadline, r.signal);
    } finally {
      clearTimeout(timer);
      user?.removeEventListener('abort', onUserAbort);
    }
  }

  return {
    request,
    close: () => agent.close(),
    dispatcher: agent,
  };
}
