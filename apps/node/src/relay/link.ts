/**
 * Relay-worker mode (iicp-dir.md §7): keep the node bound to a relay. Each attempt
 * picks the relay (the operator's, or auto-elected from the directory: §7.6 floor,
 * lowest load, never the node itself), gets a bind ticket from the directory when it
 * can (§7.4), binds, starts the pull loops and lets the caller re-register the
 * relay-for endpoint. A lost session is rebound after a capped exponential backoff
 * with jitter; with auto-election the failed relay is skipped for a while, so the
 * node moves to another one.
 */
import { EventEmitter } from 'node:events';
import type { HttpClient, IicpFastifyInstance } from '@iicp/http';
import { IicpProtocolError } from '@iicp/wire';
import { DEFAULT_RECONNECT_BACKOFF, reconnectDelayMs, type ReconnectBackoff } from './backoff.ts';
import type { TicketOutcome } from './directory.ts';
import { electRelay, relayBase } from './election.ts';
import type { RelayCandidate } from './wire.ts';
import { bindRelay, RelayWorker, type RelayLog, type RelaySession } from './worker.ts';

/** The directory as relay-worker mode needs it. */
export interface RelayDirectory {
  relayTicket(nodeId: string, nodeToken: string): Promise<TicketOutcome>;
  discoverRelays(): Promise<RelayCandidate[]>;
}

/** Injectable clock for the backoff timers (tests drive them by hand). */
export interface RelayTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: RelayTimers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** A bind that cannot succeed by retrying the same way (e.g. a ticket is required and none can be had). */
export class RelayBindRefused extends Error {
  override readonly name = 'RelayBindRefused';
}

export interface RelayLinkOptions {
  /** `auto` (elect from the directory) or the relay's base URL. */
  relay: string;
  http: HttpClient;
  app: IicpFastifyInstance;
  /** Pull loops per session. */
  concurrency: number;
  /** The node id to bind as (the relay's `worker_id`). */
  workerId: () => string;
  /** The current node token, for bind tickets; undefined before the first registration. */
  nodeToken: () => string | undefined;
  directory?: RelayDirectory;
  /** The node's own direct endpoints, never elected. */
  selfEndpoints?: readonly string[];
  /** After each bind: re-register the relay-for endpoint. A throw fails the attempt. */
  onBound?: (session: RelaySession) => Promise<void>;
  log: RelayLog;
  timers?: RelayTimers;
  random?: () => number;
  backoff?: ReconnectBackoff;
  /** How long a relay that failed is skipped by the election. Default 5 min. */
  excludeMs?: number;
  now?: () => number;
  /** Attempts {@link RelayLink.connect} makes before it gives up. Default 5. */
  startupAttempts?: number;
}

export type RelayLinkEvents = {
  bound: [RelaySession];
  lost: [Error, RelaySession];
  /** A reconnect is scheduled in `delayMs`. */
  retry: [{ attempt: number; delayMs: number; error: Error }];
};

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

function reasonOf(e: unknown): string | undefined {
  if (!(e instanceof IicpProtocolError)) return undefined;
  const r = e.details['reason'];
  return typeof r === 'string' ? r : undefined;
}

export class RelayLink extends EventEmitter<RelayLinkEvents> {
  readonly #o: RelayLinkOptions;
  readonly #timers: RelayTimers;
  readonly #excluded = new Map<string, number>();
  #worker: RelayWorker | undefined;
  #releasing: Promise<void> = Promise.resolve();
  #timer: unknown;
  #stopped = false;
  #warnedNoTickets = false;
  /** Reconnect attempts since the last successful bind. */
  attempts = 0;

  constructor(o: RelayLinkOptions) {
    super();
    this.#o = o;
    this.#timers = o.timers ?? realTimers;
  }

  get auto(): boolean {
    return this.#o.relay === 'auto';
  }

  get session(): RelaySession | undefined {
    return this.#worker?.active ? this.#worker.session : undefined;
  }

  get worker(): RelayWorker | undefined {
    return this.#worker;
  }

  /**
   * First bind (start-up): up to `startupAttempts`, with the backoff between them.
   * Rejects with the last failure; a {@link RelayBindRefused} on a fixed relay at once.
   */
  async connect(): Promise<RelaySession> {
    const max = this.#o.startupAttempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#attempt();
      } catch (e) {
        const err = asError(e);
        if (this.#stopped || attempt >= max || (err instanceof RelayBindRefused && !this.auto))
          throw err;
        const delayMs = this.#delay(attempt);
        this.#o.log.warn(
          { attempt, delay_ms: Math.round(delayMs), err: { message: err.message } },
          'relay bind failed; retrying',
        );
        this.emit('retry', { attempt, delayMs, error: err });
        await new Promise<void>((r) => {
          this.#timer = this.#timers.setTimeout(r, delayMs);
        });
      }
    }
  }

  /** Stop pulling new calls now (graceful shutdown begins). */
  halt(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#worker?.halt();
  }

  /** Stop reconnecting, let calls being served finish, unbind. */
  async stop(): Promise<void> {
    this.halt();
    await this.#worker?.stop({ drain: true, unbind: true });
    await this.#releasing;
  }

  /** Rebind now (e.g. the directory gave the node another id). */
  rebind(reason: Error): void {
    const w = this.#worker;
    if (w?.active) this.#onLost(w, reason);
  }

  #delay(attempt: number): number {
    return reconnectDelayMs(
      attempt,
      (this.#o.random ?? Math.random)(),
      this.#o.backoff ?? DEFAULT_RECONNECT_BACKOFF,
    );
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  #exclude(url: string): void {
    if (this.auto) this.#excluded.set(relayBase(url), this.#now() + (this.#o.excludeMs ?? 300_000));
  }

  async #pickRelay(): Promise<string> {
    if (!this.auto) return relayBase(this.#o.relay);
    const dir = this.#o.directory;
    if (!dir) throw new RelayBindRefused('--relay auto needs a directory to discover relays');
    const now = this.#now();
    for (const [u, until] of this.#excluded) if (until <= now) this.#excluded.delete(u);
    const candidates = await dir.discoverRelays();
    const base = { selfNodeId: this.#o.workerId(), selfEndpoints: this.#o.selfEndpoints ?? [] };
    // Every listed relay failed recently: try them again rather than none.
    const chosen =
      electRelay(candidates, { ...base, exclude: new Set(this.#excluded.keys()) }) ??
      electRelay(candidates, base);
    if (!chosen) throw new Error('the directory lists no relay this node can use');
    this.#o.log.info(
      { relay_node_id: chosen.node_id, reputation: chosen.reputation_score ?? null },
      `elected relay ${relayBase(chosen.endpoint)}`,
    );
    return relayBase(chosen.endpoint);
  }

  async #ticket(): Promise<string | undefined> {
    const dir = this.#o.directory;
    const token = this.#o.nodeToken();
    if (!dir || !token) return undefined;
    const out = await dir.relayTicket(this.#o.workerId(), token);
    if (!('reason' in out)) return out.ticket;
    if (out.reason === 'unsupported' && !this.#warnedNoTickets) {
      this.#warnedNoTickets = true;
      this.#o.log.warn(
        {},
        'the directory issues no relay bind tickets (POST /api/v1/relay/ticket is missing): binding without a ticket, which only relays that do not require one accept',
      );
    } else if (out.reason !== 'unsupported') {
      this.#o.log.warn({ reason: out.reason }, 'no bind ticket from the directory');
    }
    return undefined;
  }

  /** One bind attempt, start to finish. */
  async #attempt(): Promise<RelaySession> {
    await this.#releasing;
    const url = await this.#pickRelay();
    const ticket = await this.#ticket();
    const workerId = this.#o.workerId();
    let session: RelaySession;
    try {
      session = await bindRelay(this.#o.http, url, workerId, ticket);
    } catch (e) {
      this.#exclude(url);
      const reason = reasonOf(e);
      if (e instanceof IicpProtocolError && e.status === 401 && !ticket) {
        throw new RelayBindRefused(
          `relay ${url} requires a bind ticket (${reason ?? e.code}) and this node has none: ` +
            (this.#o.nodeToken()
              ? 'the directory issued none'
              : 'it is not registered yet, so it has no node token to ask the directory for one'),
        );
      }
      if (reason === 'relay_session_alive') {
        throw new Error(
          `relay ${url} still holds a live session for ${workerId} (a previous run?); it expires after the relay's liveness window`,
        );
      }
      throw new Error(`bind at relay ${url} failed: ${asError(e).message}`);
    }
    if (this.#stopped) {
      await this.#release(session);
      throw new Error('stopped');
    }
    const worker = new RelayWorker({
      http: this.#o.http,
      app: this.#o.app,
      session,
      concurrency: this.#o.concurrency,
      log: this.#o.log,
    });
    let early: Error | undefined;
    worker.once('lost', (err) => {
      if (this.#worker === worker) this.#onLost(worker, err);
      else early = err;
    });
    worker.start();
    try {
      await this.#o.onBound?.(session);
      if (early) throw early;
    } catch (e) {
      this.#exclude(url);
      await worker.stop({ unbind: true });
      throw new Error(`bound at relay ${url} but could not use it: ${asError(e).message}`);
    }
    this.#worker = worker;
    this.attempts = 0;
    this.#o.log.info({ endpoint: session.endpoint }, `bound to relay ${url}`);
    this.emit('bound', session);
    return session;
  }

  #release(session: RelaySession): Promise<void> {
    return this.#o.http
      .request({
        url: `${session.relayUrl}/v1/relay/unbind`,
        method: 'POST',
        body: { session_id: session.sessionId },
        timeoutMs: 5_000,
        throwOnHttpError: false,
      })
      .then(
        () => undefined,
        () => undefined,
      );
  }

  #onLost(worker: RelayWorker, err: Error): void {
    if (this.#stopped) return;
    const s = worker.session;
    this.#o.log.warn(
      { err: { message: err.message } },
      `relay session at ${s.relayUrl} lost; binding again`,
    );
    this.#exclude(s.relayUrl);
    // Release the session so a rebind at the same relay is not refused as displacing it.
    this.#releasing = worker.stop({ unbind: true });
    this.emit('lost', err, s);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.attempts += 1;
    const attempt = this.attempts;
    const delayMs = this.#delay(attempt);
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = undefined;
      this.#attempt().catch((e: unknown) => {
        if (this.#stopped) return;
        const error = asError(e);
        this.#o.log.warn({ attempt, err: { message: error.message } }, 'relay rebind failed');
        this.#schedule();
      });
    }, delayMs);
    this.#o.log.info(
      { attempt, delay_ms: Math.round(delayMs) },
      `rebinding to a relay in ${Math.round(delayMs)} ms`,
    );
    this.emit('retry', { attempt, delayMs, error: new Error('session lost') });
  }
}
