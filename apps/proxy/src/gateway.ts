import type { AttemptInfo, IicpClient, IicpResponse, StreamDelta } from '@iicp/client';
import type { ClientProtocol } from './errors.ts';
import { toProxyFailure } from './errors.ts';
import { codeLabel, type ProxyMetrics } from './metrics.ts';

/** What the last routed request did, for `/status` (never payloads). */
export interface RouteRecord {
  readonly at: string;
  readonly intent: string;
  readonly ok: boolean;
  readonly code?: string;
  readonly node_id?: string;
  readonly attempts: number;
}

/** What the last discovery did, for `/status`. */
export interface DiscoverRecord {
  readonly at: string;
  readonly intent: string;
  readonly ok: boolean;
  readonly nodes?: number;
  readonly code?: string;
}

/** One client request routed over the mesh. */
export interface RouteRequest {
  readonly intent: string;
  readonly protocol: ClientProtocol;
  /** Aborted when the HTTP client goes away: the node sees its connection close. */
  readonly signal: AbortSignal;
  readonly model?: string | undefined;
  readonly traceparent?: string | undefined;
  /** Request logger: one line per routed request (ids, node, outcome; never payloads). */
  readonly log?:
    { info(obj: object, msg: string): void; isLevelEnabled?(level: string): boolean } | undefined;
}

/** A started stream: the first delta is in hand, so the HTTP status can still be chosen. */
export interface StartedStream {
  readonly first: StreamDelta | undefined;
  readonly rest: AsyncIterator<StreamDelta>;
  readonly nodeId: string | undefined;
  readonly taskId: string | undefined;
  /** Call once the answer is complete (or broken) to record latency and outcome. */
  finish(outcome: 'ok' | string): void;
}

interface LastRoute {
  readonly atMs: number;
  readonly intent: string;
  readonly ok: boolean;
  readonly attempts: number;
  readonly code: string | undefined;
  readonly nodeId: string | undefined;
}

const ATTEMPT = 0;
const ROUTED = 1;
const DONE = 2;
const LAST = 3;

/** One observation waiting to be applied (values as measured when it happened). */
type Deferred =
  | {
      readonly kind: typeof ATTEMPT;
      readonly intent: string;
      /** The failed attempt's error code (labelled through {@link codeLabel}); undefined: ok. */
      readonly outcome: string | undefined;
      readonly retry: boolean;
      readonly local: boolean;
      readonly immediate: boolean;
    }
  | { readonly kind: typeof ROUTED; readonly intent: string; readonly seconds: number }
  | {
      readonly kind: typeof DONE;
      readonly intent: string;
      readonly protocol: ClientProtocol;
      readonly outcome: string;
      readonly seconds: number;
    }
  | { readonly kind: typeof LAST; readonly last: LastRoute };

/** Longest a finished call's observations wait when no further call comes. */
export const IDLE_FLUSH_MS = 10;

/** What one routed request's attempts reported: how many, and the node that answered. */
class Seen {
  nodeId: string | undefined = undefined;
  attempts = 0;

  constructor(
    private readonly gateway: Gateway,
    private readonly intent: string,
  ) {}

  onAttempt(info: AttemptInfo): void {
    this.attempts = info.attempt;
    if (info.ok) this.nodeId = info.nodeId;
    this.gateway.attempted(this.intent, info);
  }
}

/**
 * Every call of the proxy goes through @iicp/client (discover, selection, retry,
 * breaker, fallback live there); this wrapper only observes: it feeds `onAttempt`
 * reports into the metrics and `/status`, and remembers which node answered.
 */
export class Gateway {
  lastDiscover: DiscoverRecord | undefined;
  private readonly openBreakers = new Set<string>();
  /** What the last routed request did, kept raw: the record is built when `/status` asks. */
  private last: LastRoute | undefined;
  /** Observations not applied yet (see {@link defer}). */
  private pending: Deferred[] = [];
  private flushScheduled = false;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly client: IicpClient,
    private readonly metrics: ProxyMetrics,
    private readonly now: () => number = Date.now,
  ) {}

  private observer(intent: string): { seen: Seen; onAttempt: (info: AttemptInfo) => void } {
    const seen = new Seen(this, intent);
    // A bound method rather than a closure per call.
    return { seen, onAttempt: seen.onAttempt.bind(seen) };
  }

  /** What one attempt report changes (called through {@link Seen.onAttempt}). */
  attempted(intent: string, info: AttemptInfo): void {
    this.defer({
      kind: ATTEMPT,
      intent,
      outcome: info.ok ? undefined : (info.errorCode ?? 'other'),
      retry: info.attempt > 1,
      local: info.local,
      immediate: !info.ok && info.nextDelayMs === 0,
    });
    if (info.nodeId !== undefined && !info.local) {
      if (this.client.breakerState(info.nodeId) === 'open') {
        if (!this.openBreakers.has(info.nodeId)) {
          this.openBreakers.add(info.nodeId);
          this.metrics.breakerOpens.inc();
        }
      } else {
        this.openBreakers.delete(info.nodeId);
      }
    }
  }

  /**
   * Per-call bookkeeping (attempt, routing and request metrics, the `/status` record) is
   * queued and applied later, off the critical path: once the next call's CALL has been
   * written (two setImmediate turns after it starts, as the CX key refill does), or after
   * {@link IDLE_FLUSH_MS} when no call follows. Every reader flushes first (the metrics'
   * `collect`, {@link lastRoute}), so a scrape right after a call sees every finished call
   * with exactly the values observed at the time.
   */
  private defer(op: Deferred): void {
    this.pending.push(op);
    if (this.idleTimer === undefined) {
      this.idleTimer = setTimeout(this.idleFlush, IDLE_FLUSH_MS);
      this.idleTimer.unref();
    }
  }

  private readonly idleFlush = (): void => {
    this.idleTimer = undefined;
    this.flush();
  };

  private readonly afterWrite = (): void => {
    setImmediate(this.scheduledFlush);
  };

  private readonly scheduledFlush = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  /** A call starts: apply what earlier calls left once its CALL is on the wire. */
  private flushAfterNextWrite(): void {
    if (this.pending.length === 0 || this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.afterWrite);
  }

  /** Applies every queued observation, in order. */
  flush(): void {
    const ops = this.pending;
    if (ops.length === 0) return;
    this.pending = [];
    const m = this.metrics;
    for (const op of ops) {
      switch (op.kind) {
        case ATTEMPT:
          m.attempts.inc({
            intent: op.intent,
            outcome: op.outcome === undefined ? 'ok' : codeLabel(op.outcome),
          });
          if (op.retry) m.retries.inc({ intent: op.intent });
          if (op.local) m.fallbacks.inc({ intent: op.intent });
          if (op.immediate) m.immediateSwitches.inc({ intent: op.intent });
          break;
        case ROUTED:
          m.routing.observe({ intent: op.intent }, op.seconds);
          break;
        case DONE: {
          const label = op.outcome === 'ok' ? 'ok' : codeLabel(op.outcome);
          m.latency.observe({ intent: op.intent, outcome: label }, op.seconds);
          m.requests.inc({ intent: op.intent, protocol: op.protocol, outcome: label });
          break;
        }
        case LAST:
          this.last = op.last;
          break;
      }
    }
  }

  /** The last routed request, for `/status`. */
  get lastRoute(): RouteRecord | undefined {
    this.flush();
    const l = this.last;
    if (!l) return undefined;
    return {
      at: new Date(l.atMs).toISOString(),
      intent: l.intent,
      ok: l.ok,
      attempts: l.attempts,
      ...(l.code !== undefined ? { code: l.code } : {}),
      ...(l.nodeId !== undefined ? { node_id: l.nodeId } : {}),
    };
  }

  private record(
    req: RouteRequest,
    ok: boolean,
    seen: { nodeId?: string | undefined; attempts: number },
    code?: string,
    taskId?: string,
  ) {
    const intent = req.intent;
    const log = req.log;
    // The line's object is only built when it will be written (a request logger at
    // `warn`, the usual production level, drops it).
    if (log && (log.isLevelEnabled === undefined || log.isLevelEnabled('info'))) {
      log.info(
        {
          intent,
          outcome: ok ? 'ok' : code,
          attempts: seen.attempts,
          ...(seen.nodeId !== undefined ? { node_id: seen.nodeId } : {}),
          ...(taskId !== undefined ? { task_id: taskId } : {}),
        },
        ok ? 'routed' : 'routing failed',
      );
    }
    this.defer({
      kind: LAST,
      last: { atMs: this.now(), intent, ok, attempts: seen.attempts, code, nodeId: seen.nodeId },
    });
  }

  private opts(req: RouteRequest, onAttempt: (i: AttemptInfo) => void) {
    return {
      signal: req.signal,
      onAttempt,
      ...(req.model !== undefined ? { model: req.model } : {}),
      ...(req.traceparent !== undefined ? { traceparent: req.traceparent } : {}),
    };
  }

  private done(req: RouteRequest, started: number, outcome: string): void {
    this.defer({
      kind: DONE,
      intent: req.intent,
      protocol: req.protocol,
      outcome,
      seconds: (this.now() - started) / 1000,
    });
  }

  private routed(intent: string, started: number): void {
    this.defer({ kind: ROUTED, intent, seconds: (this.now() - started) / 1000 });
  }

  /** One buffered task; resolves with the RESPONSE and the node that produced it. */
  async call<R>(
    req: RouteRequest,
    payload: Record<string, unknown>,
  ): Promise<{ response: IicpResponse<R>; nodeId: string | undefined }> {
    const started = this.now();
    this.flushAfterNextWrite();
    const { seen, onAttempt } = this.observer(req.intent);
    try {
      const response = await this.client.call<R>(
        req.intent,
        payload,
        {},
        this.opts(req, onAttempt),
      );
      this.routed(req.intent, started);
      this.record(req, true, seen, undefined, response.task_id);
      this.done(req, started, 'ok');
      return { response, nodeId: seen.nodeId };
    } catch (err) {
      const code = toProxyFailure(err).code;
      this.record(req, false, seen, code);
      this.done(req, started, code);
      throw err;
    }
  }

  /**
   * Opens a streamed task and waits for its first delta, so that routing failures
   * (IICP-E033, no_available_node, a failure before the first chunk) still become a
   * proper HTTP error instead of a broken 200 stream.
   */
  async stream(req: RouteRequest, payload: Record<string, unknown>): Promise<StartedStream> {
    const started = this.now();
    this.flushAfterNextWrite();
    const { seen, onAttempt } = this.observer(req.intent);
    const it = this.client
      .stream(req.intent, payload, {}, this.opts(req, onAttempt))
      [Symbol.asyncIterator]();
    let first: IteratorResult<StreamDelta>;
    try {
      first = await it.next();
    } catch (err) {
      const code = toProxyFailure(err).code;
      this.record(req, false, seen, code);
      this.done(req, started, code);
      throw err;
    }
    this.routed(req.intent, started);
    const delta = first.done ? undefined : first.value;
    let finished = false;
    return {
      first: delta,
      rest: it,
      nodeId: delta?.node_id ?? seen.nodeId,
      taskId: delta?.task_id,
      finish: (outcome) => {
        if (finished) return;
        finished = true;
        this.record(
          req,
          outcome === 'ok',
          { attempts: seen.attempts, nodeId: delta?.node_id ?? seen.nodeId },
          outcome === 'ok' ? undefined : outcome,
          delta?.task_id,
        );
        this.done(req, started, outcome);
      },
    };
  }

  /** Discovery for `/v1/models`, `/api/tags` and `/status`, remembered for `/status`. */
  async discover(intent: string) {
    try {
      const list = await this.client.discover(intent);
      this.lastDiscover = {
        at: new Date(this.now()).toISOString(),
        intent,
        ok: true,
        nodes: list.nodes.length,
      };
      return list;
    } catch (err) {
      this.lastDiscover = {
        at: new Date(this.now()).toISOString(),
        intent,
        ok: false,
        code: toProxyFailure(err).code,
      };
      throw err;
    }
  }
}
