/**
 * How a CALL (`POST {endpoint}/v1/task`, iicp-core.md §3.1) reaches a node. The default
 * runs on the platform's `fetch`, so the client works in browsers, Deno and Node alike.
 * A Node host can inject a leaner transport with the same behaviour: the consumer proxy
 * uses `createUndiciTransport` from @iicp/http (undici's `request` on a keep-alive pool:
 * no `Request`/`Response`/web-stream objects per call, which profiles showed as the
 * largest cost of the proxy → node hop).
 *
 * A transport's contract, which both implementations keep:
 * - connection failures reject with an error whose `cause.code` is the system or undici
 *   code (`ECONNREFUSED`, `UND_ERR_CONNECT_TIMEOUT`, ...), as `fetch` rejects;
 * - a redirect is refused (rejects), never followed;
 * - aborting `signal` stops the request and the body.
 */

/** One CALL as the client sends it: always a POST with a JSON text body. */
export interface TaskTransportRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly signal: AbortSignal;
}

/** A pull reader of a response body: `read()` until `done`; `cancel()` drops the rest. */
export interface BodyReader {
  read(): Promise<{ readonly done: boolean; readonly value?: Uint8Array | undefined }>;
  cancel(): Promise<void>;
}

/** The node's answer; the body is read once, either as text or through `reader()`. */
export interface TaskTransportResponse {
  readonly status: number;
  /** Whether the answer has a body at all (`fetch` has none for e.g. 204). */
  readonly hasBody: boolean;
  /** A response header by its lower-case name (the first value when repeated). */
  header(name: string): string | undefined;
  /** The whole body as UTF-8 text. */
  text(): Promise<string>;
  /** The body as chunks, for server-sent events. */
  reader(): BodyReader;
  /** Drops the body without reading it (closes the connection if it is still streaming). */
  cancel(): void;
  /**
   * The caller has what it needs (a stream's terminal event) and will read no more: a
   * transport may read the short rest of the body to keep the connection for the next
   * CALL, or simply {@link cancel}.
   */
  release(): void;
}

/** Sends CALLs; see the module comment for the behaviour every transport keeps. */
export interface TaskTransport {
  send(req: TaskTransportRequest): Promise<TaskTransportResponse>;
}

const emptyReader: BodyReader = {
  read: () => Promise.resolve({ done: true }),
  cancel: () => Promise.resolve(),
};

/** The default transport: the platform's `fetch` (redirects refused). */
export function fetchTransport(fetchFn: typeof fetch): TaskTransport {
  return {
    async send(req) {
      const res = await fetchFn(req.url, {
        method: 'POST',
        headers: req.headers,
        body: req.body,
        signal: req.signal,
        redirect: 'error',
      });
      let locked: ReadableStreamDefaultReader<Uint8Array> | undefined;
      const cancel = (): void => {
        // A body handed to a reader is locked: cancel through the reader then.
        (locked ?? res.body)?.cancel().catch(() => undefined);
      };
      return {
        status: res.status,
        hasBody: res.body !== null,
        header: (name) => res.headers.get(name) ?? undefined,
        text: () => res.text(),
        reader: () => {
          const body = res.body;
          if (!body) return emptyReader;
          const r = body.getReader();
          locked = r;
          return {
            read: () => r.read(),
            cancel: async () => {
              await r.cancel().catch(() => undefined);
              r.releaseLock();
              locked = undefined;
            },
          };
        },
        cancel,
        release: cancel,
      };
    },
  };
}
