import { Agent, type Dispatcher } from 'undici';

/**
 * A CALL transport for `@iicp/client` in Node (its `transport` option): undici's
 * `request` on a keep-alive pool instead of the global `fetch`. It keeps `fetch`'s
 * observable behaviour (connection errors reject with the code on `cause`, redirects
 * are refused, aborting the signal stops request and body, TLS is always verified) and
 * drops its per-call cost: no `Request`/`Response`/`Headers` objects and no web streams,
 * which CPU profiles of the consumer proxy showed as the largest part of the proxy →
 * node hop (docs/benchmarks.md). The request and response types mirror the client's
 * `TaskTransport` structurally; this package does not depend on the client.
 */

export interface UndiciTaskTransportOptions {
  /** Max sockets per node origin; default unlimited, as the global `fetch`. */
  readonly connections?: number;
  /** Idle keep-alive sockets close after this long, ms; default 4000, as `fetch`. */
  readonly keepAliveTimeoutMs?: number;
  /** Extra trusted CA certificates (PEM), e.g. a private CA or a test CA. */
  readonly ca?: string | Buffer | (string | Buffer)[];
}

export interface UndiciTaskTransportRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly signal: AbortSignal;
}

export interface UndiciBodyReader {
  read(): Promise<{ readonly done: boolean; readonly value?: Uint8Array | undefined }>;
  cancel(): Promise<void>;
}

export interface UndiciTaskTransportResponse {
  readonly status: number;
  readonly hasBody: boolean;
  header(name: string): string | undefined;
  text(): Promise<string>;
  reader(): UndiciBodyReader;
  cancel(): void;
  /** Reads the rest in the background (bounded) so the connection can be reused. */
  release(): void;
}

/** What `release` reads at most after the caller is done, and for how long. */
const RELEASE_MAX_BYTES = 64 * 1024;
const RELEASE_MAX_MS = 1_000;

export interface UndiciTaskTransport {
  send(req: UndiciTaskTransportRequest): Promise<UndiciTaskTransportResponse>;
  /** Closes the pool (in-flight requests finish first). */
  close(): Promise<void>;
  readonly dispatcher: Dispatcher;
}

/** Rejects as `fetch` does: a `TypeError` with the underlying error (and its code) as `cause`. */
function fetchLikeError(cause: unknown): TypeError {
  return new TypeError('fetch failed', { cause });
}

type Body = Dispatcher.ResponseData['body'];

/** Drop a body we will not read; undici reports the destroy as an error event. */
function discard(body: Body): void {
  body.on('error', () => undefined);
  body.destroy();
}

export function createUndiciTaskTransport(
  opts: UndiciTaskTransportOptions = {},
): UndiciTaskTransport {
  const agent = new Agent({
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? 4_000,
    ...(opts.connections !== undefined ? { connections: opts.connections } : {}),
    ...(opts.ca ? { connect: { ca: opts.ca } } : {}),
  });
  /** `origin` and `path` per endpoint URL: a consumer calls the same few nodes. */
  const targets = new Map<string, { origin: string; path: string }>();

  function target(url: string): { origin: string; path: string } {
    let t = targets.get(url);
    if (!t) {
      const u = new URL(url);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') {
        throw fetchLikeError(new Error(`unsupported scheme ${u.protocol}`));
      }
      t = { origin: u.origin, path: `${u.pathname}${u.search}` };
      if (targets.size >= 1024) targets.clear();
      targets.set(url, t);
    }
    return t;
  }

  async function send(req: UndiciTaskTransportRequest): Promise<UndiciTaskTransportResponse> {
    let res: Dispatcher.ResponseData;
    try {
      const t = target(req.url);
      res = await agent.request({
        origin: t.origin,
        path: t.path,
        method: 'POST',
        headers: req.headers,
        body: req.body,
        signal: req.signal,
      });
    } catch (err) {
      throw err instanceof TypeError ? err : fetchLikeError(err);
    }
    const body = res.body;
    const location = res.headers.location;
    if (res.statusCode >= 300 && res.statusCode < 400 && location !== undefined) {
      // `fetch(..., {redirect: 'error'})`: a redirect is a failed request.
      discard(body);
      throw fetchLikeError(new Error(`redirect (${res.statusCode}) refused`));
    }
    const headers = res.headers;
    let it: AsyncIterator<Buffer> | undefined;
    const iterator = (): AsyncIterator<Buffer> =>
      (it ??= body[Symbol.asyncIterator]() as AsyncIterator<Buffer>);
    const cancel = (): void => {
      if (!body.destroyed) discard(body);
    };
    return {
      status: res.statusCode,
      hasBody: true,
      header: (name) => {
        const v = headers[name];
        return Array.isArray(v) ? v[0] : v;
      },
      text: async () => {
        try {
          return await body.text();
        } catch (err) {
          throw fetchLikeError(err);
        }
      },
      reader: () => {
        const it = iterator();
        return {
          read: async () => {
            try {
              const r = await it.next();
              return r.done ? { done: true } : { done: false, value: r.value };
            } catch (err) {
              throw fetchLikeError(err);
            }
          },
          cancel: async () => cancel(),
        };
      },
      cancel,
      // After a stream's terminal event the node ends the body at once: reading those
      // last bytes keeps the keep-alive connection for the next CALL, where dropping the
      // body would close it (and cost a new connection per stream). Bounded in bytes and
      // time; past either, the body is dropped as by `cancel`.
      release: () => {
        if (body.destroyed) return;
        const it = iterator();
        const stop = setTimeout(cancel, RELEASE_MAX_MS);
        stop.unref?.();
        void (async () => {
          let n = 0;
          try {
            for (;;) {
              const r = await it.next();
              if (r.done) return;
              n += r.value.length;
              if (n > RELEASE_MAX_BYTES) return cancel();
            }
          } catch {
            return; // dropped meanwhile
          } finally {
            clearTimeout(stop);
          }
        })();
      },
    };
  }

  return { send, close: () => agent.close(), dispatcher: agent };
}
