/** The harness's HTTP: real requests with the global fetch (undici), JSON in and out. */
import { CheckFailure, type Exchange, type RequestInit } from './types.ts';

/** Per-request budget; a conformance request never waits for long work. */
export const REQUEST_TIMEOUT_MS = 30_000;

export async function send(base: string, path: string, init: RequestInit = {}): Promise<Exchange> {
  const url = new URL(base.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(init.query ?? {})) url.searchParams.set(k, v);
  const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
  let body: string | undefined;
  if (init.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.json);
  }
  let res: Response;
  try {
    res = await fetch(url, {
      method: init.method ?? (body === undefined ? 'GET' : 'POST'),
      headers,
      ...(body !== undefined ? { body } : {}),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    // The cause names the failure class only; the URL is not repeated (bundles are endpoint-free).
    throw new CheckFailure('request_failed', `request failed: ${(err as Error).name}`);
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, text, body: parsed };
}
