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

/** An answer; call its functions as methods (`res.text()`): they are not bound. */
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

/** Body bytes held for a caller that has not asked for them yet before the socket is paused. */
const HIGH_WATER_BYTES = 64 * 1024;

type Waiter = {
  resolve(r: { readonly done: boolean; readonly value?: Uint8Array | undefined }): void;
  reject(err: unknown): void;
};

/**
 * One CALL as an undici dispatch handler (its core handler interface, which the
 * dispatcher calls directly). `request()` would wrap each answer in an async resource,
 * a full header object and a `Readable` read through its async iterator; this keeps the
 * raw header list (looked up when asked), the body chunks in an array, and hands them to
 * `text()` or `reader()`. Behaviour is `request()`'s: the signal aborts the request or
 * the body, the socket pauses while more than {@link HIGH_WATER_BYTES} wait unread.
 */
class CallHandler implements Dispatcher.DispatchHandler {
  private abortFn: ((err: Error) => void) | undefined;
  private resumeFn: (() => void) | undefined;
  private paused = false;
  private rawHeaders: Buffer[] = [];
  private readonly chunks: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private failure: unknown;
  private failed = false;
  private waiter: Waiter | undefined;
  /** `cancel`, or `release` past its bound: the rest is not wanted. */
  private dropped = false;
  releasing: { bytes: number; timer: ReturnType<typeof setTimeout> } | undefined;

  // Per CALL this allocates the handler and its answer object only: the handler is its
  // own abort listener (`handleEvent`) and the answer's methods live on a prototype, so
  // no closures are made per call.
  constructor(
    private readonly signal: AbortSignal,
    private readonly started: (res: UndiciTaskTransportResponse) => void,
    private readonly rejectSend: (err: unknown) => void,
  ) {
    signal.addEventListener('abort', this, ONCE);
  }

  /** The signal's `abort` event. */
  handleEvent(): void {
    this.onAbort();
  }

  private onAbort(): void {
    const reason = this.signal.reason as unknown;
    this.abort(reason instanceof Error ? reason : new Error(String(reason)));
  }

  /** `send` rejects as fetch does: a `TypeError`, with anything else as its cause. */
  private refused(err: unknown): void {
    this.rejectSend(err instanceof TypeError ? err : fetchLikeError(err));
  }

  private abort(err: Error): void {
    if (this.abortFn) this.abortFn(err);
    else if (!this.ended && !this.failed) this.onError(err);
  }

  private settle(): void {
    this.signal.removeEventListener('abort', this);
    if (this.releasing) clearTimeout(this.releasing.timer);
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abortFn = abort;
    if (this.signal.aborted) this.onAbort();
  }

  onHeaders(
    statusCode: number,
    rawHeaders: Buffer[],
    resume: () => void,
    _statusText: string,
  ): boolean {
    if (statusCode < 200) return true;
    this.resumeFn = resume;
    this.rawHeaders = rawHeaders;
    if (statusCode >= 300 && statusCode < 400 && this.header('location') !== undefined) {
      // `fetch(..., {redirect: 'error'})`: a redirect is a failed request.
      this.settle();
      this.dropped = true;
      this.abortFn?.(new Error('redirect refused'));
      this.refused(fetchLikeError(new Error(`redirect (${statusCode}) refused`)));
      return false;
    }
    this.started(new CallResponse(this, statusCode));
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.dropped) {
      const r = this.releasing;
      if (r && (r.bytes += chunk.length) > RELEASE_MAX_BYTES) this.cancel();
      return true;
    }
    const w = this.waiter;
    if (w && this.chunks.length === 0) {
      this.waiter = undefined;
      w.resolve({ done: false, value: chunk });
      return true;
    }
    this.chunks.push(chunk);
    this.queued += chunk.length;
    if (this.queued > HIGH_WATER_BYTES && this.reading) {
      this.paused = true;
      return false;
    }
    return true;
  }

  onComplete(): void {
    this.ended = true;
    this.settle();
    const w = this.waiter;
    this.waiter = undefined;
    w?.resolve(this.next());
  }

  onError(err: Error): void {
    if (this.ended || this.failed) return;
    this.failed = true;
    this.failure = err;
    this.settle();
    if (!this.resumeFn) {
      this.refused(err);
      return;
    }
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(fetchLikeError(err));
  }

  /** Whether the caller reads chunk by chunk (only then is the socket paused for it). */
  reading = false;

  header(name: string): string | undefined {
    const raw = this.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const k = raw[i]!;
      if (k.length === name.length && k.toString('latin1').toLowerCase() === name) {
        return raw[i + 1]!.toString('latin1');
      }
    }
    return undefined;
  }

  /** The next chunk in hand, or the end; `undefined` when the caller must wait. */
  private next(): { readonly done: boolean; readonly value?: Uint8Array } {
    const c = this.chunks.shift();
    if (c) {
      this.queued -= c.length;
      if (this.paused && this.queued <= HIGH_WATER_BYTES) {
        this.paused = false;
        this.resumeFn?.();
      }
      return { done: false, value: c };
    }
    return { done: true };
  }

  read(): Promise<{ readonly done: boolean; readonly value?: Uint8Array | undefined }> {
    if (this.chunks.length > 0 || this.ended) return Promise.resolve(this.next());
    if (this.failed) return Promise.reject(fetchLikeError(this.failure));
    if (this.dropped) return Promise.resolve({ done: true });
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  async text(): Promise<string> {
    const parts: Buffer[] = [];
    for (;;) {
      const r = await this.read();
      if (r.done) break;
      parts.push(r.value as Buffer);
    }
    return parts.length === 1 ? parts[0]!.toString('utf8') : Buffer.concat(parts).toString('utf8');
  }

  cancel(): void {
    if (this.ended || this.failed) return;
    this.drop();
    this.abort(new Error('body dropped'));
  }

  private drop(): void {
    this.dropped = true;
    this.chunks.length = 0;
    this.queued = 0;
    const w = this.waiter;
    this.waiter = undefined;
    w?.resolve({ done: true });
    if (this.paused) {
      this.paused = false;
      this.resumeFn?.();
    }
  }

  // After a stream's terminal event the node ends the body at once: reading those
  // last bytes keeps the keep-alive connection for the next CALL, where dropping the
  // body would close it (and cost a new connection per stream). Bounded in bytes and
  // time; past either, the body is dropped as by `cancel`.
  release(): void {
    if (this.ended || this.failed || this.releasing) return;
    const bytes = this.queued;
    this.drop();
    if (bytes > RELEASE_MAX_BYTES) return this.cancel();
    const timer = setTimeout(() => this.cancel(), RELEASE_MAX_MS);
    timer.unref?.();
    this.releasing = { bytes, timer };
  }
}

const ONCE = { once: true } as const;

/**
 * The answer of one CALL. Its methods are on the prototype (none are made per call),
 * so call them on the answer (`res.text()`), not detached.
 */
class CallResponse implements UndiciTaskTransportResponse {
  readonly hasBody = true;

  constructor(
    private readonly call: CallHandler,
    readonly status: number,
  ) {}

  header(name: string): string | undefined {
    return this.call.header(name);
  }

  text(): Promise<string> {
    return this.call.text();
  }

  reader(): UndiciBodyReader {
    const call = this.call;
    call.reading = true;
    return { read: () => call.read(), cancel: async () => call.cancel() };
  }

  cancel(): void {
    this.call.cancel();
  }

  release(): void {
    this.call.release();
  }
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

  function send(req: UndiciTaskTransportRequest): Promise<UndiciTaskTransportResponse> {
    return new Promise((resolve, reject) => {
      try {
        const t = target(req.url);
        const handler = new CallHandler(req.signal, resolve, reject);
        agent.dispatch(
          { origin: t.origin, path: t.path, method: 'POST', headers: req.headers, body: req.body },
          handler,
        );
      } catch (err) {
        reject(err instanceof TypeError ? err : fetchLikeError(err));
      }
    });
  }

  return { send, close: () => agent.close(), dispatcher: agent };
}
