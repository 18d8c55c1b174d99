/**
 * The relay's state: bound worker sessions (iicp-dir.md §7.2), their queues of
 * forwarded consumer calls, waiting long-polls, consumed bind-ticket `jti`s (§7.4)
 * and the bind rate limiter (§7.3). Transport-free: the HTTP routes hand it sinks and
 * waiters and turn its `IicpProtocolError`s into replies.
 */
import { randomBytes, randomFillSync } from 'node:crypto';
import type { Writable } from 'node:stream';
import { verifyRelayBindTicket } from '@iicp/crypto';
import { IicpProtocolError } from '@iicp/wire';
import {
  RELAY_BIND_RATE_LIMIT,
  RELAY_BIND_RATE_LIMITED_REASON,
  RELAY_BIND_RATE_WINDOW_MS,
  RELAY_MAX_PULLS_PER_SESSION,
  RELAY_MAX_QUEUED_BYTES,
  RELAY_MAX_QUEUED_BYTES_PER_SESSION,
  RELAY_MAX_QUEUED_CALLS,
  RELAY_MAX_QUEUED_CALLS_PER_SESSION,
  RELAY_MAX_SESSIONS,
  RELAY_QUEUE_FULL_REASON,
  RELAY_SESSION_CAP_REASON,
  RELAY_SESSION_LIVENESS_MS,
} from './constants.ts';
import type { RelayHeaders, RelayPulledCall } from './wire.ts';

export interface RelayLimits {
  maxSessions: number;
  bindRateLimit: number;
  bindRateWindowMs: number;
  livenessMs: number;
  maxQueuedCallsPerSession: number;
  maxQueuedBytesPerSession: number;
  maxQueuedCalls: number;
  maxQueuedBytes: number;
  maxPullsPerSession: number;
}

export const DEFAULT_RELAY_LIMITS: RelayLimits = {
  maxSessions: RELAY_MAX_SESSIONS,
  bindRateLimit: RELAY_BIND_RATE_LIMIT,
  bindRateWindowMs: RELAY_BIND_RATE_WINDOW_MS,
  livenessMs: RELAY_SESSION_LIVENESS_MS,
  maxQueuedCallsPerSession: RELAY_MAX_QUEUED_CALLS_PER_SESSION,
  maxQueuedBytesPerSession: RELAY_MAX_QUEUED_BYTES_PER_SESSION,
  maxQueuedCalls: RELAY_MAX_QUEUED_CALLS,
  maxQueuedBytes: RELAY_MAX_QUEUED_BYTES,
  maxPullsPerSession: RELAY_MAX_PULLS_PER_SESSION,
};

/** Where a call's answer goes: the waiting consumer. */
export interface CallSink {
  /** The whole response at once. */
  sendBuffered(status: number, headers: RelayHeaders, body: Buffer): void;
  /** Start a streamed response; the returned stream's bytes go to the consumer as written. */
  startStream(status: number, headers: RelayHeaders): Writable;
  /** Answer with an error envelope (only before anything was sent). */
  fail(err: IicpProtocolError): void;
}

/** A parked long-poll. `deliver` returns false when its connection is already gone. */
export interface PullWaiter {
  deliver(call: RelayPulledCall): boolean;
  /** No call came in time: answer 204 (or the error, when the session ended). */
  end(err?: IicpProtocolError): void;
}

export type CallOutcome = 'ok' | 'timeout' | 'worker_lost' | 'cancelled' | 'shutdown';

export interface HubEvents {
  callDone?(call: RelayCall, outcome: CallOutcome): void;
  delivered?(call: RelayCall): void;
}

export class Session {
  readonly queue: RelayCall[] = [];
  readonly waiters: PullWaiter[] = [];
  /** Delivered calls not yet answered, by request id. */
  readonly inflight = new Map<string, RelayCall>();
  queuedBytes = 0;
  activeUploads = 0;
  constructor(
    readonly workerId: string,
    readonly sessionId: string,
    public lastSeen: number,
  ) {}

  alive(now: number, livenessMs: number): boolean {
    return this.waiters.length > 0 || this.activeUploads > 0 || now - this.lastSeen < livenessMs;
  }
}

export type CallState = 'queued' | 'delivered' | 'streaming' | 'done';

export class RelayCall {
  state: CallState = 'queued';
  /** Request body until delivered; dropped then so the bytes can be collected. */
  body: Buffer | undefined;
  readonly bytes: number;
  stream: Writable | undefined;
  nextSeq = 0;
  timer: NodeJS.Timeout | undefined;
  /** High-resolution marks for the added-latency metric (ns). */
  readonly receivedAt = process.hrtime.bigint();
  deliveredAt = 0n;
  constructor(
    readonly id: string,
    readonly session: Session,
    readonly method: string,
    readonly path: string,
    readonly headers: RelayHeaders,
    body: Buffer | undefined,
    readonly timeoutMs: number,
    readonly sink: CallSink,
  ) {
    this.body = body;
    this.bytes = body?.length ?? 0;
  }

  toPulled(): RelayPulledCall {
    return {
      request_id: this.id,
      method: this.method,
      path: this.path,
      headers: this.headers,
      body_b64: this.body ? this.body.toString('base64') : '',
      timeout_ms: this.timeoutMs,
    };
  }
}

export interface BindInput {
  workerId: string;
  ticket: string | undefined;
  /** Source principal for the bind rate limit (§7.3: the source IP). Never logged. */
  principal: string;
}

export interface TicketPolicy {
  /** Refuse binds without a ticket (§7.4 "hard" stage). */
  required: boolean;
  /** The directory's Ed25519 key, once known. */
  directoryPublicKey(): Uint8Array | undefined;
  issuer?: string;
}

// Request ids: 128 random bits each, hex, cut from a pool refilled 256 ids at a time
// (one `randomBytes` call per relayed call was a visible share of the relay's CPU).
const idPool = Buffer.alloc(4096);
let idPos = idPool.length;

function requestId(): string {
  if (idPos + 16 > idPool.length) {
    randomFillSync(idPool);
    idPos = 0;
  }
  const id = idPool.toString('hex', idPos, idPos + 16);
  idPos += 16;
  return id;
}

const e039 = (status: number, message: string, reason: string) =>
  new IicpProtocolError('IICP-E039', message, { status, details: { reason } });

/** The relay's in-memory state. One per app. */
export class RelayHub {
  readonly limits: RelayLimits;
  readonly #sessions = new Map<string, Session>();
  readonly #bySessionId = new Map<string, Session>();
  readonly #calls = new Map<string, RelayCall>();
  /** Consumed bind-ticket jtis → their `exp` in ms (§7.4: refused until exp). */
  readonly #jtis = new Map<string, number>();
  readonly #bindLog = new Map<string, number[]>();
  #queuedCalls = 0;
  #queuedBytes = 0;
  #closed = false;

  constructor(
    readonly now: () => number,
    readonly tickets: TicketPolicy,
    limits: Partial<RelayLimits> = {},
    readonly events: HubEvents = {},
  ) {
    this.limits = { ...DEFAULT_RELAY_LIMITS, ...limits };
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }
  get queuedCalls(): number {
    return this.#queuedCalls;
  }
  get queuedBytes(): number {
    return this.#queuedBytes;
  }
  get inflightCalls(): number {
    return this.#calls.size - this.#queuedCalls;
  }
  /** Long-polls parked across all sessions. */
  get waitingPulls(): number {
    let n = 0;
    for (const s of this.#sessions.values()) n += s.waiters.length;
    return n;
  }
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Admit a bind (§7.2–§7.4). Order: rate limit (cheap, before any signature work),
   * ticket, replay, non-displacement, cap; the jti is consumed only when the bind
   * succeeds ("on the first successful bind").
   */
  bind(input: BindInput): Session {
    if (this.#closed) throw new IicpProtocolError('service_unavailable', 'relay is shutting down');
    const now = this.now();
    const existing = this.#sessions.get(input.workerId);
    // "Recovery of a dead previously-bound session is exempt" from the rate limit.
    const recovering = existing !== undefined && !existing.alive(now, this.limits.livenessMs);
    if (!recovering) this.#rateLimit(input.principal, now);

    let jti: { id: string; expMs: number } | undefined;
    if (input.ticket !== undefined) {
      const key = this.tickets.directoryPublicKey();
      if (!key) {
        throw new IicpProtocolError(
          'service_unavailable',
          'the directory key is not known yet; bind tickets cannot be verified',
        );
      }
      const r = verifyRelayBindTicket(input.ticket, {
        directoryPublicKey: key,
        workerId: input.workerId,
        clock: () => now / 1000,
        ...(this.tickets.issuer !== undefined ? { issuer: this.tickets.issuer } : {}),
      });
      if (!r.ok) {
        throw new IicpProtocolError('unauthorized', `bind ticket refused: ${r.reason}`, {
          details: { reason: `ticket_${r.reason}` },
        });
      }
      const spent = this.#jtis.get(r.claims.jti);
      if (spent !== undefined && spent > now) {
        throw new IicpProtocolError('unauthorized', 'bind ticket already used', {
          details: { reason: 'ticket_replayed' },
        });
      }
      jti = { id: r.claims.jti, expMs: r.claims.exp * 1000 };
    } else if (this.tickets.required) {
      throw new IicpProtocolError('unauthorized', 'a directory-signed bind ticket is required', {
        details: { reason: 'ticket_required' },
      });
    }

    if (existing && !recovering) {
      throw new IicpProtocolError('conflict', 'this worker_id is bound by a live session', {
        details: { reason: 'relay_session_alive' },
      });
    }
    if (!existing && this.#sessions.size >= this.limits.maxSessions) {
      this.sweep();
      if (this.#sessions.size >= this.limits.maxSessions) {
        throw e039(503, 'relay session cap reached', RELAY_SESSION_CAP_REASON);
      }
    }
    if (existing) this.#drop(existing, 'worker_lost');
    if (jti) this.#jtis.set(jti.id, jti.expMs);
    const session = new Session(input.workerId, randomBytes(16).toString('base64url'), now);
    this.#sessions.set(session.workerId, session);
    this.#bySessionId.set(session.sessionId, session);
    return session;
  }

  #rateLimit(principal: string, now: number): void {
    const floor = now - this.limits.bindRateWindowMs;
    const log = (this.#bindLog.get(principal) ?? []).filter((t) => t > floor);
    if (log.length >= this.limits.bindRateLimit) {
      this.#bindLog.set(principal, log);
      const retryAfter = Math.max(1, Math.ceil(((log[0] ?? now) - floor) / 1000));
      throw new IicpProtocolError('IICP-E039', 'too many relay binds from this source', {
        status: 429,
        details: { reason: RELAY_BIND_RATE_LIMITED_REASON, retry_after: retryAfter },
      });
    }
    log.push(now);
    this.#bindLog.set(principal, log);
  }

  /** The session a worker credential names; `not_found` when unknown (bind again). */
  sessionFor(sessionId: string | undefined): Session {
    const s = sessionId === undefined ? undefined : this.#bySessionId.get(sessionId);
    if (!s) {
      throw new IicpProtocolError('not_found', 'relay session unknown or expired; bind again');
    }
    s.lastSeen = Math.max(s.lastSeen, this.now());
    return s;
  }

  /** The live session bound to `workerId`, if any (consumer side). */
  liveSession(workerId: string): Session | undefined {
    const s = this.#sessions.get(workerId);
    if (!s) return undefined;
    if (!s.alive(this.now(), this.limits.livenessMs)) {
      this.#drop(s, 'worker_lost');
      return undefined;
    }
    return s;
  }

  /** Park a long-poll, or hand it the oldest queued call at once. */
  pull(session: Session, waiter: PullWaiter, waitMs: number): () => void {
    const next = session.queue[0];
    if (next) {
      this.#dequeue(next);
      if (waiter.deliver(next.toPulled())) this.#markDelivered(next);
      else this.#requeueFront(next);
      return () => {};
    }
    if (waitMs <= 0) {
      waiter.end();
      return () => {};
    }
    if (session.waiters.length >= this.limits.maxPullsPerSession) {
      throw new IicpProtocolError('rate_limited', 'too many concurrent pulls for this session', {
        details: { retry_after: 1 },
      });
    }
    // The parked entry clears its own timer however it ends (delivered, timed out, the
    // session dropped): a pending 25 s timer would otherwise keep a shutting-down relay
    // process alive until it fired.
    const entry: PullWaiter = {
      deliver: (call) => {
        const ok = waiter.deliver(call);
        if (ok) clearTimeout(timer);
        return ok;
      },
      end: (err) => {
        clearTimeout(timer);
        waiter.end(err);
      },
    };
    session.waiters.push(entry);
    const timer = setTimeout(() => {
      const i = session.waiters.indexOf(entry);
      if (i >= 0) session.waiters.splice(i, 1);
      session.lastSeen = Math.max(session.lastSeen, this.now());
      waiter.end();
    }, waitMs);
    // The cancel function: the worker's connection went away.
    return () => {
      clearTimeout(timer);
      const i = session.waiters.indexOf(entry);
      if (i >= 0) {
        session.waiters.splice(i, 1);
        session.lastSeen = Math.max(session.lastSeen, this.now());
      }
    };
  }

  /**
   * Queue a consumer request for `workerId`, or hand it straight to a parked pull.
   * Throws `IICP-E030` (404) when no live worker is bound and `IICP-E039` (503,
   * `relay_queue_full`) when a queue bound is reached.
   */
  enqueue(
    workerId: string,
    req: { method: string; path: string; headers: RelayHeaders; body: Buffer | undefined },
    timeoutMs: number,
    sink: CallSink,
  ): RelayCall {
    if (this.#closed) throw new IicpProtocolError('service_unavailable', 'relay is shutting down');
    const session = this.liveSession(workerId);
    if (!session) {
      throw new IicpProtocolError('IICP-E030', 'no live worker is bound to this relay for that id');
    }
    const bytes = req.body?.length ?? 0;
    const l = this.limits;
    if (
      session.queue.length >= l.maxQueuedCallsPerSession ||
      session.queuedBytes + bytes > l.maxQueuedBytesPerSession ||
      this.#queuedCalls >= l.maxQueuedCalls ||
      this.#queuedBytes + bytes > l.maxQueuedBytes
    ) {
      throw e039(503, 'relay queue for this worker is full', RELAY_QUEUE_FULL_REASON);
    }
    const call = new RelayCall(
      requestId(),
      session,
      req.method,
      req.path,
      req.headers,
      req.body,
      timeoutMs,
      sink,
    );
    this.#calls.set(call.id, call);
    call.timer = setTimeout(() => this.#timeout(call), timeoutMs);
    // Immediate wake-up: the newest parked pull takes the call without queueing. Newest,
    // not oldest: a worker that just answered parks again (often in its result post,
    // `next_wait_ms`), so its hot connection serves the next call while older pulls
    // keep waiting out their long poll.
    while (session.waiters.length > 0) {
      const w = session.waiters.pop()!;
      if (w.deliver(call.toPulled())) {
        this.#markDelivered(call);
        return call;
      }
    }
    session.queue.push(call);
    session.queuedBytes += call.bytes;
    this.#queuedCalls += 1;
    this.#queuedBytes += call.bytes;
    return call;
  }

  #dequeue(call: RelayCall): void {
    const q = call.session.queue;
    const i = q.indexOf(call);
    if (i < 0) return;
    q.splice(i, 1);
    call.session.queuedBytes -= call.bytes;
    this.#queuedCalls -= 1;
    this.#queuedBytes -= call.bytes;
  }

  #requeueFront(call: RelayCall): void {
    call.session.queue.unshift(call);
    call.session.queuedBytes += call.bytes;
    this.#queuedCalls += 1;
    this.#queuedBytes += call.bytes;
  }

  #markDelivered(call: RelayCall): void {
    call.state = 'delivered';
    call.body = undefined;
    call.deliveredAt = process.hrtime.bigint();
    call.session.inflight.set(call.id, call);
    this.events.delivered?.(call);
  }

  /** The delivered call a worker answers; `not_found` when unknown, finished or not its own. */
  callFor(session: Session, requestId: string): RelayCall {
    const call = session.inflight.get(requestId);
    if (!call || call.state === 'done') {
      throw new IicpProtocolError('not_found', 'no pending relayed call with that request_id');
    }
    return call;
  }

  /** The consumer went away: forget the call wherever it is. */
  cancel(call: RelayCall): void {
    if (call.state === 'done') return;
    this.#finish(call, 'cancelled');
    call.stream?.destroy();
  }

  /** The worker finished answering (buffered reply sent or stream ended). */
  complete(call: RelayCall): void {
    if (call.state !== 'done') this.#finish(call, 'ok');
  }

  #timeout(call: RelayCall): void {
    if (call.state === 'done') return;
    const wasQueued = call.state === 'queued';
    const started = call.state === 'streaming';
    this.#finish(call, 'timeout');
    if (started) call.stream?.destroy();
    else if (wasQueued) {
      call.sink.fail(
        new IicpProtocolError('IICP-E031', 'the relayed worker did not take the call in time'),
      );
    } else {
      call.sink.fail(
        new IicpProtocolError('task_timeout', 'the relayed worker did not answer in time'),
      );
    }
  }

  #finish(call: RelayCall, outcome: CallOutcome): void {
    if (call.state === 'queued') this.#dequeue(call);
    call.state = 'done';
    call.body = undefined;
    clearTimeout(call.timer);
    call.session.inflight.delete(call.id);
    this.#calls.delete(call.id);
    this.events.callDone?.(call, outcome);
  }

  /** Fail every call of a session and answer its parked pulls; forget the session. */
  #drop(
    session: Session,
    outcome: 'worker_lost' | 'shutdown',
    pullError?: IicpProtocolError,
  ): void {
    if (this.#sessions.get(session.workerId) === session) this.#sessions.delete(session.workerId);
    this.#bySessionId.delete(session.sessionId);
    const err =
      outcome === 'shutdown'
        ? new IicpProtocolError('service_unavailable', 'relay is shutting down')
        : new IicpProtocolError('IICP-E031', 'the relayed worker went away');
    for (const call of [...session.queue, ...session.inflight.values()]) {
      const started = call.state === 'streaming';
      this.#finish(call, outcome);
      if (started) call.stream?.destroy();
      else call.sink.fail(err);
    }
    for (const w of session.waiters.splice(0)) w.end(pullError);
  }

  /** `POST /v1/relay/unbind`: the worker leaves; its pending calls fail with `IICP-E031`. */
  unbind(session: Session): void {
    this.#drop(session, 'worker_lost', new IicpProtocolError('not_found', 'relay session unbound'));
  }

  /** Drop dead sessions, spent jtis and idle rate-limit buckets. */
  sweep(): void {
    const now = this.now();
    for (const s of [...this.#sessions.values()]) {
      if (!s.alive(now, this.limits.livenessMs)) this.#drop(s, 'worker_lost');
    }
    for (const [jti, exp] of this.#jtis) if (exp <= now) this.#jtis.delete(jti);
    const floor = now - this.limits.bindRateWindowMs;
    for (const [p, log] of this.#bindLog) {
      if ((log[log.length - 1] ?? 0) <= floor) this.#bindLog.delete(p);
    }
  }

  /** Shutdown: refuse new work, fail queued and unanswered calls, release every pull. */
  close(): number {
    this.#closed = true;
    const n = this.#sessions.size;
    const err = new IicpProtocolError('service_unavailable', 'relay is shutting down');
    for (const s of [...this.#sessions.values()]) this.#drop(s, 'shutdown', err);
    return n;
  }
}
