import { codecForMediaType } from '@iicp/codec';
import {
  DEFAULT_MAX_RESPONSE_BYTES,
  HttpClientError,
  type HttpClient,
  type HttpResponse,
} from '@iicp/http';
import { BackendError } from './types.ts';
import { LineSplitter, SseParser, type SseEvent } from './sse.ts';

/** A line longer than this in a streamed reply is a broken backend, not a token. */
export const MAX_STREAM_LINE_CHARS = 4 * 1024 * 1024;

export interface BackendRequest {
  url: string;
  method?: 'GET' | 'POST';
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** Default total deadline of a buffered call, as `createHttpClient` has it. */
const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * Clients whose configuration the direct path below knows: made by
 * `createBackendHttpClient` (no default headers, the default reply cap, no redirects
 * followed). Buffered JSON calls on them skip `HttpClient.request`; any other client
 * takes the general path.
 */
const directClients = new WeakSet<HttpClient>();

/** Let buffered JSON calls on `http` use the direct path (see {@link callJson}). */
export function allowDirectCalls(http: HttpClient): HttpClient {
  directClients.add(http);
  return http;
}

/** `origin` and `path` of each backend URL (a handful per node: base + operation path). */
const targets = new Map<string, { origin: string; path: string }>();

function targetOf(url: string): { origin: string; path: string } {
  let t = targets.get(url);
  if (t) return t;
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new HttpClientError('request_failed', `unsupported scheme ${u.protocol}`);
  }
  t = { origin: u.origin, path: `${u.pathname}${u.search}` };
  if (targets.size >= 256) targets.clear();
  targets.set(url, t);
  return t;
}

function aborted(signal: AbortSignal | undefined, cause?: unknown): BackendError {
  return new BackendError('backend_aborted', 'backend call aborted', {
    cause: cause ?? signal?.reason,
  });
}

function isUndiciTimeout(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
}

/** undici's dispatch handler and controller, by way of the client's dispatcher type. */
type DispatchHandler = Parameters<HttpClient['dispatcher']['dispatch']>[1];
type DispatchController = Parameters<NonNullable<DispatchHandler['onRequestStart']>>[0];

/** What one exchange does with the reply; a throw fails the call and drops the connection. */
interface ReplySink {
  start(status: number, headers: Record<string, string | string[] | undefined>): void;
  data(chunk: Buffer): void;
  end(): void;
}

/**
 * One HTTP exchange on the client's undici dispatcher (its keep-alive pool) through
 * `dispatch` and a handler object: the reply's bytes reach `sink` as the socket
 * delivers them, with no response stream, async iterator or promise per chunk.
 * Settles once: `sink.end()` resolves; a sink throw, the caller's abort, the total
 * deadline or a transport error rejects (as {@link BackendError}) and aborts the
 * request, which tears its connection down.
 */
function exchange(
  http: HttpClient,
  r: {
    url: string;
    method: 'GET' | 'POST';
    headers: Record<string, string>;
    body: string | Uint8Array | undefined;
    signal: AbortSignal | undefined;
    timeoutMs: number;
  },
  sink: ReplySink,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const signal = r.signal;
    if (signal?.aborted) {
      reject(aborted(signal));
      return;
    }
    let target: { origin: string; path: string };
    try {
      target = targetOf(r.url);
    } catch (err) {
      reject(mapClientError(err, signal));
      return;
    }
    let controller: DispatchController | undefined;
    let settled = false;
    let failure: BackendError | undefined;
    const settle = (err?: BackendError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (err) {
        failure = err;
        reject(err);
        if (controller && !controller.aborted) controller.abort(err);
      } else {
        resolve();
      }
    };
    const fail = (err: unknown): void => {
      settle(err instanceof BackendError ? err : mapClientError(err, signal));
    };
    const onAbort = (): void => settle(aborted(signal));
    const timer = setTimeout(() => {
      settle(
        signal?.aborted
          ? aborted(signal)
          : new BackendError('backend_timeout', 'backend call timed out'),
      );
    }, r.timeoutMs);
    timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
    const handler: DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        // Settled while queued for a connection: drop it before anything is written.
        if (failure) {
          c.abort(failure);
        }
      },
      onResponseStart(_c, status, headers) {
        if (settled || status < 200) return;
        try {
          sink.start(status, headers);
        } catch (err) {
          fail(err);
        }
      },
      onResponseData(_c, chunk) {
        if (settled) return;
        try {
          sink.data(chunk);
        } catch (err) {
          fail(err);
        }
      },
      onResponseEnd() {
        if (settled) return;
        try {
          sink.end();
          settle();
        } catch (err) {
          fail(err);
        }
      },
      onResponseError(_c, err) {
        if (settled) return;
        if (!signal?.aborted && isUndiciTimeout(err)) {
          settle(new BackendError('backend_timeout', 'backend call timed out', { cause: err }));
          return;
        }
        fail(err);
      },
    };
    http.dispatcher.dispatch(
      {
        origin: target.origin,
        path: target.path,
        method: r.method,
        headers: r.headers,
        body: r.body ?? null,
        headersTimeout: r.timeoutMs,
        bodyTimeout: r.timeoutMs,
      },
      handler,
    );
  });
}

function essenceOf(ct: string | string[] | undefined): string {
  const v = Array.isArray(ct) ? ct[0] : ct;
  return (v ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
}

/**
 * {@link callJson} on a client from `createBackendHttpClient`, through {@link exchange}:
 * the same request bytes, reply decoding and errors as `HttpClient.request` with
 * `throwOnHttpError: false` (pinned by test/backend-transport.test.ts), without its
 * response stream, second abort controller and URL parse per call.
 */
function callJsonDirect(http: HttpClient, r: BackendRequest): Promise<unknown> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (r.headers) for (const k of Object.keys(r.headers)) headers[k.toLowerCase()] = r.headers[k]!;
  let body: string | Uint8Array | undefined;
  if (r.body !== undefined) {
    if (typeof r.body === 'string' || r.body instanceof Uint8Array) body = r.body;
    else {
      let text: string | undefined;
      try {
        text = JSON.stringify(r.body);
      } catch (cause) {
        return Promise.reject(
          new BackendError('backend_transport', 'backend call failed', { cause }),
        );
      }
      if (text === undefined)
        return Promise.reject(new BackendError('backend_transport', 'backend call failed'));
      body = text;
      if (!headers['content-type']) headers['content-type'] = 'application/json';
    }
  }
  const cap = DEFAULT_MAX_RESPONSE_BYTES;
  let status = 0;
  let contentType = '';
  const chunks: Buffer[] = [];
  let total = 0;
  let value: unknown;
  const tooLarge = (): BackendError =>
    mapClientError(
      new HttpClientError('response_too_large', `reply body exceeds ${cap} bytes`),
      undefined,
    );
  return exchange(
    http,
    {
      url: r.url,
      method: r.method ?? (r.body === undefined ? 'GET' : 'POST'),
      headers,
      body,
      signal: r.signal,
      timeoutMs: r.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    },
    {
      start(s, h) {
        if (s >= 300 && s < 400 && h.location !== undefined) {
          throw mapClientError(
            new HttpClientError('redirect_refused', `redirect (${s}) not followed`),
            undefined,
          );
        }
        const declared = Number(h['content-length']);
        if (Number.isFinite(declared) && declared > cap) throw tooLarge();
        status = s;
        contentType = essenceOf(h['content-type']);
      },
      data(chunk) {
        total += chunk.length;
        if (total > cap) throw tooLarge();
        chunks.push(chunk);
      },
      end() {
        const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
        const codec = bytes.length > 0 && contentType ? codecForMediaType(contentType) : undefined;
        if (codec) {
          try {
            value = codec.decode(bytes, { maxBytes: bytes.length });
          } catch (cause) {
            throw mapClientError(
              new HttpClientError('decode_failed', `reply body is not valid ${codec.mediaType}`, {
                cause,
              }),
              undefined,
            );
          }
        } else if (bytes.length > 0 && contentType.startsWith('text/')) {
          value = bytes.toString('utf8');
        }
        if (status < 200 || status >= 300) {
          throw new BackendError('backend_status', `backend answered ${status}`, { status });
        }
      },
    },
  ).then(() => {
    if (value === undefined || value === null || typeof value !== 'object') {
      throw new BackendError('backend_bad_reply', 'backend reply is not a JSON object');
    }
    return value;
  });
}

function mapClientError(err: unknown, signal: AbortSignal | undefined): BackendError {
  if (err instanceof BackendError) return err;
  if (signal?.aborted)
    return new BackendError('backend_aborted', 'backend call aborted', { cause: err });
  if (err instanceof HttpClientError) {
    if (err.code === 'timeout')
      return new BackendError('backend_timeout', 'backend call timed out', { cause: err });
    if (err.code === 'aborted')
      return new BackendError('backend_aborted', 'backend call aborted', { cause: err });
  }
  return new BackendError('backend_transport', 'backend call failed', { cause: err });
}

/**
 * One buffered call through the shared undici client (keep-alive pool); the reply's
 * bytes, content type and decoded body (JSON or text). Non-2xx is `backend_status`;
 * the backend's error body is dropped here so it can never reach a caller or a log
 * (it may quote the prompt). `body` as bytes or a string goes out as is, with the
 * `content-type` header the caller sets (multipart uploads).
 */
export async function callHttp(http: HttpClient, r: BackendRequest): Promise<HttpResponse> {
  let res;
  try {
    res = await http.request({
      url: r.url,
      method: r.method ?? (r.body === undefined ? 'GET' : 'POST'),
      ...(r.body !== undefined ? { body: r.body } : {}),
      ...(r.headers ? { headers: r.headers } : {}),
      ...(r.signal ? { signal: r.signal } : {}),
      ...(r.timeoutMs !== undefined ? { timeoutMs: r.timeoutMs } : {}),
      throwOnHttpError: false,
    });
  } catch (err) {
    throw mapClientError(err, r.signal);
  }
  if (res.status < 200 || res.status >= 300) {
    throw new BackendError('backend_status', `backend answered ${res.status}`, {
      status: res.status,
    });
  }
  return res;
}

/**
 * One buffered JSON call (see {@link callHttp}); the reply must be a JSON object or
 * array. On a client from `createBackendHttpClient` it takes the direct path
 * ({@link callJsonDirect}), which answers and fails the same way.
 */
export function callJson(http: HttpClient, r: BackendRequest): Promise<unknown> {
  return directClients.has(http) ? callJsonDirect(http, r) : callJsonGeneral(http, r);
}

/** {@link callJson} through `HttpClient.request` (any client; the reference path). */
export async function callJsonGeneral(http: HttpClient, r: BackendRequest): Promise<unknown> {
  const res = await callHttp(http, r);
  if (res.body === undefined || res.body === null || typeof res.body !== 'object') {
    throw new BackendError('backend_bad_reply', 'backend reply is not a JSON object');
  }
  return res.body;
}

/**
 * Open a streamed POST on the client's undici dispatcher (same keep-alive pool as
 * {@link callJson}) and hand every chunk to `onChunk` as the socket delivers it, inside
 * undici's data callback (no response stream or `for await`). Abort through `signal`
 * tears the backend connection down; so does a throw from `onChunk`.
 */
function openStream(
  http: HttpClient,
  r: BackendRequest,
  onChunk: (chunk: Buffer) => void,
): Promise<void> {
  let body: string;
  try {
    body = JSON.stringify(r.body);
  } catch (cause) {
    return Promise.reject(new BackendError('backend_transport', 'backend call failed', { cause }));
  }
  return exchange(
    http,
    {
      url: r.url,
      method: 'POST',
      headers: { 'content-type': 'application/json', ...r.headers },
      body,
      signal: r.signal,
      timeoutMs: r.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    },
    {
      start(status) {
        if (status < 200 || status >= 300) {
          throw new BackendError('backend_status', `backend answered ${status}`, { status });
        }
      },
      data: onChunk,
      end() {},
    },
  );
}

/** Stream a server-sent-events reply, one parsed event at a time. */
export async function streamSse(
  http: HttpClient,
  r: BackendRequest,
  onEvent: (ev: SseEvent) => void,
): Promise<void> {
  const parser = new SseParser();
  await openStream(http, r, (chunk) => {
    for (const ev of parser.push(chunk)) onEvent(ev);
    if (parser.pending > MAX_STREAM_LINE_CHARS) {
      throw new BackendError('backend_bad_reply', 'backend stream line too long');
    }
  });
  for (const ev of parser.end()) onEvent(ev);
}

/** Stream a newline-delimited JSON reply (Ollama), one line at a time. */
export async function streamNdjson(
  http: HttpClient,
  r: BackendRequest,
  onLine: (value: unknown) => void,
): Promise<void> {
  const lines = new LineSplitter();
  const emit = (line: string): void => {
    if (line.trim() === '') return;
    onLine(parseJsonLine(line));
  };
  await openStream(http, r, (chunk) => {
    for (const line of lines.push(chunk)) emit(line);
    if (lines.pending > MAX_STREAM_LINE_CHARS) {
      throw new BackendError('backend_bad_reply', 'backend stream line too long');
    }
  });
  for (const line of lines.end()) emit(line);
}

/** Parse one streamed JSON record; a broken record is a broken backend. */
export function parseJsonLine(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new BackendError('backend_bad_reply', 'backend stream record is not JSON', { cause });
  }
}

/** Strip trailing slashes; append `suffix` (e.g. `/v1`) unless the URL already ends with it. */
export function apiBase(baseUrl: string, suffix: string): string {
  const trimmed = baseUrl.replace(/\/+$/, '');
  return suffix && trimmed.endsWith(suffix) ? trimmed : `${trimmed}${suffix}`;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function numberOr(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
}

/** tokens_used from an OpenAI-style `usage` block. */
export function tokensFromUsage(usage: unknown): number | undefined {
  if (!isRecord(usage)) return undefined;
  const total = numberOr(usage.total_tokens);
  if (total !== undefined) return Math.round(total);
  const p = numberOr(usage.prompt_tokens) ?? numberOr(usage.input_tokens);
  const c = numberOr(usage.completion_tokens) ?? numberOr(usage.output_tokens);
  if (p === undefined && c === undefined) return undefined;
  return Math.round((p ?? 0) + (c ?? 0));
}
