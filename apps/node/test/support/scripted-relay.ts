import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small scripted relay over real HTTP speaking the worker side of D-044: bind
 * (optionally requiring a ticket, refusing a live worker id), long-poll pull, whole
 * result, streamed upload and unbind. Consumers are simulated with {@link ScriptedRelay.call}.
 * The real relay is apps/relay; the two meet in tools/e2e.
 */
export interface BindRecord {
  worker_id: string;
  ticket?: string;
}

export interface RelayedResult {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface StreamedResult extends EventEmitter<{ chunk: [Buffer]; end: [] }> {
  status: number;
  headers: Record<string, string>;
  chunks: Buffer[];
  ended: Promise<void>;
  /** The consumer leaves: the relay cuts the worker's upload. */
  abort(): void;
}

export interface ScriptedRelay {
  url: string;
  binds: BindRecord[];
  /** Bound worker id → session id. */
  sessions: Map<string, string>;
  /** Require a ticket at bind (401 `ticket_required` without one). */
  requireTicket: boolean;
  unbinds: number;
  /** Calls handed over in the reply to a result (`nextCall` relays only). */
  readonly nextCallReplies: number;
  /** The query string of every whole result posted. */
  readonly resultQueries: string[];
  /** Queue a consumer call and resolve with the whole result, or the streamed one. */
  call(
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<RelayedResult | StreamedResult>;
  /** Die: close the listener and cut every connection (parked pulls included). */
  kill(): Promise<void>;
}

interface Pending {
  call: Record<string, unknown>;
  resolve: (r: RelayedResult | StreamedResult) => void;
}

export async function startScriptedRelay(
  opts: { requireTicket?: boolean; nextCall?: boolean } = {},
): Promise<ScriptedRelay> {
  const binds: BindRecord[] = [];
  const sessions = new Map<string, string>();
  const queue: Pending[] = [];
  const parked: ((p: Pending) => void)[] = [];
  const waiting = new Map<string, Pending>();
  let url = '';
  const self = {
    requireTicket: opts.requireTicket ?? false,
    unbinds: 0,
    nextCall: opts.nextCall ?? false,
    nextCallReplies: 0,
    resultQueries: [] as string[],
  };

  const send = (res: ServerResponse, status: number, body?: unknown): void => {
    if (body === undefined) {
      res.writeHead(status).end();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const err = (res: ServerResponse, status: number, code: string, reason?: string): void =>
    send(res, status, { error: { code, message: code, ...(reason ? { reason } : {}) } });
  const sessionOf = (id: string | undefined): string | undefined =>
    [...sessions].find(([, s]) => s === id)?.[0];

  async function readBody(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  /** Answer with the next call (200), or 204 after `wait` ms. */
  async function park(res: ServerResponse, wait: number, afterResult: boolean): Promise<void> {
    const deliver = (p: Pending): void => {
      waiting.set(String(p.call.request_id), p);
      if (afterResult) self.nextCallReplies += 1;
      send(res, 200, p.call);
    };
    const next = queue.shift();
    if (next) return deliver(next);
    await new Promise<void>((done) => {
      const taker = (p: Pending): void => {
        clearTimeout(timer);
        deliver(p);
        done();
      };
      const timer = setTimeout(() => {
        parked.splice(parked.indexOf(taker), 1);
        send(res, 204);
        done();
      }, wait);
      // A worker waiting in its result reply is served first (as apps/relay does).
      if (afterResult) parked.unshift(taker);
      else parked.push(taker);
      res.once('close', () => {
        const i = parked.indexOf(taker);
        if (i >= 0) parked.splice(i, 1);
        clearTimeout(timer);
        done();
      });
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && u.pathname === '/v1/relay/bind') {
      const b = JSON.parse((await readBody(req)).toString()) as BindRecord;
      binds.push(b);
      if (self.requireTicket && !b.ticket) return err(res, 401, 'unauthorized', 'ticket_required');
      if (sessions.has(b.worker_id)) return err(res, 409, 'conflict', 'relay_session_alive');
      const sid = randomBytes(16).toString('base64url');
      sessions.set(b.worker_id, sid);
      return send(res, 201, {
        session_id: sid,
        worker_id: b.worker_id,
        relay_endpoint: `${url}/v1/relay-for/${b.worker_id}`,
        liveness_ms: 90_000,
        pull_max_wait_ms: 25_000,
      });
    }
    if (req.method === 'GET' && u.pathname === '/v1/relay/pull') {
      const sid = req.headers.authorization?.replace(/^Bearer /, '');
      if (!sessionOf(sid)) return err(res, 404, 'not_found');
      return park(res, Number(u.searchParams.get('wait_ms') ?? 25_000), false);
    }
    if (req.method === 'POST' && u.pathname === '/v1/relay/result') {
      const b = JSON.parse((await readBody(req)).toString()) as {
        request_id: string;
        status: number;
        headers: Record<string, string>;
        body_b64: string;
      };
      const p = waiting.get(b.request_id);
      if (!p) return err(res, 404, 'not_found');
      waiting.delete(b.request_id);
      p.resolve({ status: b.status, headers: b.headers, body: Buffer.from(b.body_b64, 'base64') });
      const nextWait = u.searchParams.get('next_wait_ms');
      self.resultQueries.push(u.search);
      // The next call in the reply (apps/relay's `next_wait_ms`), when enabled.
      if (self.nextCall && nextWait !== null) return park(res, Number(nextWait), true);
      return send(res, 204);
    }
    if (req.method === 'POST' && u.pathname === '/v1/relay/result/stream') {
      const id = String(req.headers['x-iicp-relay-request-id']);
      const p = waiting.get(id);
      if (!p || !sessionOf(String(req.headers['x-iicp-relay-session'])))
        return err(res, 404, 'not_found');
      waiting.delete(id);
      const out = new EventEmitter() as StreamedResult;
      out.status = Number(req.headers['x-iicp-relay-status']);
      out.headers = JSON.parse(String(req.headers['x-iicp-relay-headers'])) as Record<
        string,
        string
      >;
      out.chunks = [];
      out.ended = new Promise((r) => out.once('end', () => r()));
      out.abort = () => {
        req.destroy();
        out.emit('end');
      };
      p.resolve(out);
      try {
        for await (const c of req) {
          out.chunks.push(c as Buffer);
          out.emit('chunk', c as Buffer);
        }
      } catch {
        return; // aborted
      }
      out.emit('end');
      return send(res, 204);
    }
    if (req.method === 'POST' && u.pathname === '/v1/relay/unbind') {
      const b = JSON.parse((await readBody(req)).toString()) as { session_id: string };
      const w = sessionOf(b.session_id);
      if (!w) return err(res, 404, 'not_found');
      sessions.delete(w);
      self.unbinds += 1;
      return send(res, 200, { unbound: true });
    }
    return err(res, 404, 'not_found');
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) err(res, 500, 'internal_error');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    binds,
    sessions,
    get requireTicket() {
      return self.requireTicket;
    },
    set requireTicket(v: boolean) {
      self.requireTicket = v;
    },
    get unbinds() {
      return self.unbinds;
    },
    get nextCallReplies() {
      return self.nextCallReplies;
    },
    resultQueries: self.resultQueries,
    call(path, body, headers = {}) {
      return new Promise((resolve) => {
        const bytes = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
        const p: Pending = {
          call: {
            request_id: randomBytes(16).toString('hex'),
            method: body === undefined ? 'GET' : 'POST',
            path,
            headers: {
              ...(body === undefined ? {} : { 'content-type': 'application/json' }),
              ...headers,
            },
            body_b64: bytes.toString('base64'),
            timeout_ms: 30_000,
          },
          resolve,
        };
        const taker = parked.shift();
        if (taker) taker(p);
        else queue.push(p);
      });
    },
    kill: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
