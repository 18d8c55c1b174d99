import { HttpClientError, type HttpClient, type HttpResponse } from '@iicp/http';
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

/** One buffered JSON call (see {@link callHttp}); the reply must be a JSON object or array. */
export async function callJson(http: HttpClient, r: BackendRequest): Promise<unknown> {
  const res = await callHttp(http, r);
  if (res.body === undefined || res.body === null || typeof res.body !== 'object') {
    throw new BackendError('backend_bad_reply', 'backend reply is not a JSON object');
  }
  return res.body;
}

type StreamBody = AsyncIterable<Buffer> & {
  destroy(err?: Error): unknown;
  on(ev: 'error', fn: () => void): unknown;
};

/**
 * Open a streamed POST on the client's undici dispatcher (same keep-alive pool as
 * {@link callJson}) and hand every chunk to `onChunk` as it arrives. Abort through
 * `signal` tears the backend connection down.
 */
async function openStream(
  http: HttpClient,
  r: BackendRequest,
  onChunk: (chunk: Buffer) => void,
): Promise<void> {
  const url = new URL(r.url);
  let body: StreamBody | undefined;
  try {
    const res = await http.dispatcher.request({
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: 'POST',
      headers: { 'content-type': 'application/json', ...r.headers },
      body: JSON.stringify(r.body),
      ...(r.signal ? { signal: r.signal } : {}),
      ...(r.timeoutMs !== undefined
        ? { headersTimeout: r.timeoutMs, bodyTimeout: r.timeoutMs }
        : {}),
    });
    body = res.body as unknown as StreamBody;
    if (res.statusCode < 200 || res.statusCode >= 300) {
      body.on('error', () => undefined);
      body.destroy();
      throw new BackendError('backend_status', `backend answered ${res.statusCode}`, {
        status: res.statusCode,
      });
    }
    for await (const chunk of body) onChunk(chunk);
  } catch (err) {
    if (body) {
      body.on('error', () => undefined);
      body.destroy();
    }
    const code = (err as { code?: unknown } | null)?.code;
    if (
      !r.signal?.aborted &&
      (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')
    ) {
      throw new BackendError('backend_timeout', 'backend call timed out', { cause: err });
    }
    throw mapClientError(err, r.signal);
  }
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
