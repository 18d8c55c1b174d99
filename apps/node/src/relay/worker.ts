/**
 * One relay session of the node (iicp-dir.md §7.1, HTTP long-poll; wire format
 * spec/decisions.md D-044): bind, then keep long-polls parked, serve each pulled call
 * through the node's own app in process (no second HTTP hop) and post the result —
 * whole for buffered replies, as a streamed upload for event streams, so the consumer
 * sees each token when the backend produces it.
 */
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { codecForMediaType } from '@iicp/codec';
import type { HttpClient, IicpFastifyInstance } from '@iicp/http';
import { IicpProtocolError, safeParseWire } from '@iicp/wire';
import {
  RELAY_PULL_MAX_WAIT_MS,
  RELAY_SESSION_LIVENESS_MS,
  RESULT_STREAM_HEADERS,
  RelayBindResponseSchema,
  RelayPulledCallSchema,
  type RelayPulledCall,
} from './wire.ts';

export interface RelayLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** A bound session: where, as whom, and the secret that proves it. */
export interface RelaySession {
  /** Base URL of the relay (its public endpoint). */
  readonly relayUrl: string;
  readonly workerId: string;
  /** Secret: never logged. */
  readonly sessionId: string;
  /** `{relay}/v1/relay-for/{worker_id}`: the node's endpoint while bound. */
  readonly endpoint: string;
  readonly pullMaxWaitMs: number;
  readonly livenessMs: number;
}

/** Largest pulled call accepted: the relay forwards ≤ 4 MiB bodies, base64 adds a third. */
const MAX_PULL_BYTES = 8 * 1024 * 1024;
/** Grace added to a pull's own wait before the HTTP request gives up. */
const PULL_GRACE_MS = 15_000;
/**
 * How long a result post may wait for the next call (`next_wait_ms`). Busy sessions get
 * their next call within it; an idle one falls back to a plain long-poll, and a
 * draining worker waits at most this long for a loop to finish.
 */
const NEXT_CALL_WAIT_MS = 500;
/** Request headers of a whole-result post (as `HttpClient.request` sends a JSON body). */
const RESULT_HEADERS = { accept: 'application/json', 'content-type': 'application/json' } as const;
/** Headers that describe one hop, never forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'trailer',
  'upgrade',
  'te',
]);

/**
 * `POST {relay}/v1/relay/bind {worker_id, ticket?}`. A refusal throws the relay's
 * IicpProtocolError (`details.reason` says why: `ticket_required`, `relay_session_alive`, …).
 */
export async function bindRelay(
  http: HttpClient,
  relayUrl: string,
  workerId: string,
  ticket: string | undefined,
): Promise<RelaySession> {
  const base = relayUrl.replace(/\/+$/, '');
  const res = await http.request({
    url: `${base}/v1/relay/bind`,
    method: 'POST',
    body: { worker_id: workerId, ...(ticket ? { ticket } : {}) },
    timeoutMs: 10_000,
  });
  const parsed = safeParseWire(RelayBindResponseSchema, res.body);
  if (!parsed.ok) throw parsed.error;
  const b = parsed.value;
  return {
    relayUrl: base,
    workerId,
    sessionId: b.session_id,
    endpoint: b.relay_endpoint.replace(/\/+$/, ''),
    pullMaxWaitMs: Math.min(b.pull_max_wait_ms ?? RELAY_PULL_MAX_WAIT_MS, RELAY_PULL_MAX_WAIT_MS),
    livenessMs: b.liveness_ms ?? RELAY_SESSION_LIVENESS_MS,
  };
}

/** Response headers as the relay carries them: lowercase names, string values. */
function relayHeaders(h: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    const name = k.toLowerCase();
    if (v === undefined || HOP_BY_HOP.has(name)) continue;
    out[name] = Array.isArray(v) ? v.map(String).join(', ') : String(v);
  }
  return out;
}

/** Replies that must reach the consumer as they are produced. */
function isStreamed(contentType: string): boolean {
  return /^(text\/event-stream|application\/x-ndjson)/i.test(contentType);
}

/** The whole body. Events rather than `for await`: no async iterator per relayed call. */
function collect(stream: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let ended = false;
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('end', () => {
      ended = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    });
    stream.once('error', reject);
    stream.once('close', () => {
      if (!ended) reject(new Error('the reply stream closed before its end'));
    });
  });
}

/** A JSON exchange with the relay: status and decoded body (undefined when empty). */
interface Exchanged {
  status: number;
  body: unknown;
}

/** An undici reply from the client's pool. */
type RelayReply = Awaited<ReturnType<HttpClient['dispatcher']['request']>>;

/** Request headers of every pull and whole-result exchange (as `HttpClient.request` sends). */
const PULL_HEADERS = { accept: 'application/json' } as const;

/**
 * Read a reply body up to `cap` bytes and decode it by its content type (JSON from our
 * relay; CBOR or text decode as `HttpClient.request` would). Events rather than
 * `for await`, and no per-request abort controller or timer: this runs twice per call.
 */
function readReply(res: RelayReply, cap: number): Promise<Exchanged> {
  const status = res.statusCode;
  const body = res.body;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    body.on('data', (c: Buffer) => {
      total += c.length;
      if (total > cap) {
        body.destroy(new Error(`relay reply exceeds ${cap} bytes`));
        return;
      }
      chunks.push(c);
    });
    body.once('error', reject);
    body.once('end', () => {
      if (total === 0) return resolve({ status, body: undefined });
      const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
      const ct = res.headers['content-type'];
      const type = (Array.isArray(ct) ? ct[0] : ct) ?? '';
      try {
        const codec = type ? codecForMediaType(type) : undefined;
        resolve({
          status,
          body: codec
            ? codec.decode(bytes, { maxBytes: total })
            : type.toLowerCase().startsWith('text/')
              ? bytes.toString('utf8')
              : undefined,
        });
      } catch (err) {
        reject(err as Error);
      }
    });
  });
}

export type RelayWorkerEvents = {
  /** The session is gone (relay down, unbound, expired): bind again. Emitted once. */
  lost: [Error];
};

export interface RelayWorkerOptions {
  http: HttpClient;
  /** The node's app; pulled calls are injected into it. */
  app: IicpFastifyInstance;
  session: RelaySession;
  /** Long-polls kept parked: the number of calls served at once. */
  concurrency: number;
  log: RelayLog;
}

/**
 * Pull loops over one session. Each loop parks a pull, serves the call it gets, posts
 * the result and parks again, so `concurrency` calls run at once and a parked pull
 * keeps the session alive (§7.2) while the others serve long tasks.
 */
export class RelayWorker extends EventEmitter<RelayWorkerEvents> {
  readonly session: RelaySession;
  readonly #o: RelayWorkerOptions;
  readonly #pulls = new AbortController();
  readonly #inflight = new Set<Promise<void>>();
  #loops: Promise<void>[] = [];
  #stopped = false;
  #lost = false;
  /** The relay's origin and its base path (a relay may live under a path prefix). */
  readonly #origin: string;
  readonly #base: string;
  readonly #resultPath: string;
  readonly #resultNextPath: string;
  /** Calls served (tests and status). */
  served = 0;

  constructor(o: RelayWorkerOptions) {
    super();
    this.#o = o;
    this.session = o.session;
    const u = new URL(o.session.relayUrl);
    this.#origin = u.origin;
    this.#base = u.pathname.replace(/\/+$/, '');
    this.#resultPath = `${this.#base}/v1/relay/result`;
    this.#resultNextPath = `${this.#resultPath}?next_wait_ms=${NEXT_CALL_WAIT_MS}`;
  }

  get active(): boolean {
    return !this.#stopped && !this.#lost;
  }

  start(): void {
    for (let i = 0; i < Math.max(1, this.#o.concurrency); i++) this.#loops.push(this.#loop());
  }

  /** Stop pulling new calls at once; calls being served finish (see {@link stop}). */
  halt(): void {
    this.#stopped = true;
    this.#pulls.abort();
  }

  /**
   * Stop pulling. With `drain`, wait for the calls being served to post their results
   * first (graceful shutdown); with `unbind`, release the session at the relay so a
   * new bind is not refused as displacing a live one (§7.2).
   */
  async stop(opts: { drain?: boolean; unbind?: boolean } = {}): Promise<void> {
    this.halt();
    // Loops end once their call is served: waiting for them is the drain.
    if (opts.drain) await Promise.allSettled([...this.#loops, ...this.#inflight]);
    if (opts.unbind !== false) {
      await this.#o.http
        .request({
          url: `${this.session.relayUrl}/v1/relay/unbind`,
          method: 'POST',
          body: { session_id: this.session.sessionId },
          timeoutMs: 5_000,
          throwOnHttpError: false,
        })
        .catch(() => undefined);
    }
  }

  #lose(err: Error): void {
    if (this.#lost || this.#stopped) return;
    this.#lost = true;
    this.#pulls.abort();
    this.emit('lost', err);
  }

  async #loop(): Promise<void> {
    const s = this.session;
    const wait = s.pullMaxWaitMs;
    const pullPath = `${this.#base}/v1/relay/pull?wait_ms=${wait}`;
    const pullHeaders = { ...PULL_HEADERS, authorization: `Bearer ${s.sessionId}` };
    /** A call the relay handed over in the reply to our last result. */
    let next: RelayPulledCall | undefined;
    // A handed-over call is already ours at the relay: serve it even when halted.
    while (this.active || next !== undefined) {
      let call = next;
      next = undefined;
      if (call === undefined) {
        let res;
        try {
          res = await readReply(
            await this.#o.http.dispatcher.request({
              origin: this.#origin,
              path: pullPath,
              method: 'GET',
              headers: pullHeaders,
              signal: this.#pulls.signal,
              headersTimeout: wait + PULL_GRACE_MS,
              bodyTimeout: wait + PULL_GRACE_MS,
            }),
            MAX_PULL_BYTES,
          );
        } catch (err) {
          this.#lose(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        if (res.status === 204) continue;
        if (res.status === 429) {
          // Too many parked pulls (another loop of ours raced): back off briefly.
          await sleep(250, undefined, { signal: this.#pulls.signal }).catch(() => undefined);
          continue;
        }
        if (res.status !== 200) {
          // 404: the relay no longer knows the session; 503: it is shutting down.
          this.#lose(IicpProtocolError.fromWire(res.body, res.status));
          return;
        }
        call = this.#parseCall(res.body);
        if (call === undefined) continue;
      }
      const p = this.#serve(call).then(
        (n) => {
          next = n;
        },
        (err: unknown) => {
          this.#o.log.warn({ err: { message: (err as Error).message } }, 'relay call failed');
        },
      );
      this.#inflight.add(p);
      await p;
      this.#inflight.delete(p);
    }
  }

  #parseCall(body: unknown): RelayPulledCall | undefined {
    const call = safeParseWire(RelayPulledCallSchema, body);
    if (call.ok) return call.value;
    this.#o.log.warn({ field: call.error.details['field'] }, 'relay sent a malformed call');
    return undefined;
  }

  /**
   * Serve one pulled call through the node's app and post its result. Returns the next
   * call when the relay handed one over in the reply to a whole result.
   */
  async #serve(call: RelayPulledCall): Promise<RelayPulledCall | undefined> {
    const body = Buffer.from(call.body_b64, 'base64');
    let res;
    try {
      res = await this.#o.app.inject({
        method: call.method,
        url: call.path,
        headers: call.headers,
        ...(body.length > 0 ? { payload: body } : {}),
        payloadAsStream: true,
      });
    } catch {
      const err = new IicpProtocolError('backend_error', 'the node could not serve the call');
      return this.#postWhole(
        call,
        err.status,
        { 'content-type': 'application/json; charset=utf-8' },
        Buffer.from(JSON.stringify(err.toWire())),
      );
    }
    this.served += 1;
    const headers = relayHeaders(res.headers);
    const stream = res.stream();
    if (isStreamed(headers['content-type'] ?? '')) {
      await this.#postStreamed(call, res.statusCode, headers, stream, () => {
        // The consumer left (or the relay lost it): cancel the task in the node, which
        // aborts the backend request (the app listens for the reply's `close`).
        (res.raw.res as unknown as { destroy(): void }).destroy();
      });
      return undefined;
    }
    return this.#postWhole(call, res.statusCode, headers, await collect(stream));
  }

  /**
   * `POST /v1/relay/result` with the whole reply. While the worker is active it asks
   * for its next call in the same exchange (`next_wait_ms`, issue 11): the relay then
   * answers 200 with a call, or 204 after that short wait (an older relay: 204 at once)
   * and the loop goes back to a plain pull. The wait is short because a draining worker
   * waits for it; a pull parked the usual way keeps the session alive meanwhile.
   */
  async #postWhole(
    call: RelayPulledCall,
    status: number,
    headers: Record<string, string>,
    body: Buffer,
  ): Promise<RelayPulledCall | undefined> {
    const wantNext = this.active;
    const timeoutMs = 30_000 + (wantNext ? NEXT_CALL_WAIT_MS : 0);
    let res: Exchanged;
    try {
      res = await readReply(
        await this.#o.http.dispatcher.request({
          origin: this.#origin,
          path: wantNext ? this.#resultNextPath : this.#resultPath,
          method: 'POST',
          headers: RESULT_HEADERS,
          body: JSON.stringify({
            session_id: this.session.sessionId,
            request_id: call.request_id,
            status,
            headers,
            body_b64: body.toString('base64'),
          }),
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        }),
        MAX_PULL_BYTES,
      );
    } catch {
      return undefined; // the consumer or the session went away; nothing to answer
    }
    return res.status === 200 ? this.#parseCall(res.body) : undefined;
  }

  /** `POST /v1/relay/result/stream`: the reply body is piped as the request body. */
  async #postStreamed(
    call: RelayPulledCall,
    status: number,
    headers: Record<string, string>,
    stream: Readable,
    cancel: () => void,
  ): Promise<void> {
    const url = new URL(`${this.session.relayUrl}/v1/relay/result/stream`);
    let ok = false;
    try {
      const r = await this.#o.http.dispatcher.request({
        origin: url.origin,
        path: url.pathname,
        method: 'POST',
        headers: {
          'content-type': 'application/octet-stream',
          [RESULT_STREAM_HEADERS.session]: this.session.sessionId,
          [RESULT_STREAM_HEADERS.requestId]: call.request_id,
          [RESULT_STREAM_HEADERS.status]: String(status),
          [RESULT_STREAM_HEADERS.headers]: JSON.stringify(headers),
        },
        body: stream,
        // A stream lasts as long as the task (≤ 300 s) and may pause between tokens.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      await r.body.dump();
      ok = r.statusCode === 204;
    } catch {
      ok = false;
    }
    if (!ok || !stream.readableEnded) {
      cancel();
      stream.destroy();
    }
  }
}
