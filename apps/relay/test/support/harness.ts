/**
 * Test harness: a relay on a real loopback listener, a directory key to sign bind
 * tickets with, and a scripted worker speaking the long-poll transport over real
 * sockets (global fetch).
 */
import { DirectoryKey, issueRelayBindTicket } from '@iicp/crypto';
import { buildApp, type RelayApp, type RelayAppOptions } from '../../src/app.ts';

export interface Harness {
  app: RelayApp;
  url: string;
  key: DirectoryKey;
  ticket(
    nodeId: string,
    opts?: { ttlSeconds?: number; clock?: () => number; key?: DirectoryKey },
  ): string;
  close(): Promise<void>;
}

export async function startRelay(opts: RelayAppOptions = {}): Promise<Harness> {
  const key = DirectoryKey.generate();
  const app = await buildApp({ directoryPublicKey: key.publicKeyHex, ...opts });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    app,
    url,
    key,
    ticket: (nodeId, o = {}) =>
      issueRelayBindTicket({
        signer: o.key ?? key,
        issuer: 'test-directory',
        nodeId,
        ...(o.ttlSeconds !== undefined ? { ttlSeconds: o.ttlSeconds } : {}),
        ...(o.clock ? { clock: o.clock } : {}),
      }).ticket,
    close: async () => {
      const closing = app.close();
      // fetch (undici) may hold a spare connection that never carried a request; the
      // server does not count it as idle, so it would linger until the client's 4 s
      // keep-alive timeout. Tests have nothing in flight by now: cut what is left.
      const t = setTimeout(() => app.server.closeAllConnections(), 50);
      await closing.finally(() => clearTimeout(t));
    },
  };
}

export interface PulledCall {
  request_id: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body_b64: string;
  timeout_ms: number;
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    text,
    json: text ? safeJson(text) : undefined,
  };
}

function safeJson(t: string): unknown {
  try {
    return JSON.parse(t);
  } catch {
    return undefined;
  }
}

/** A scripted worker: bind, pull, answer, unbind. */
export class ScriptedWorker {
  sessionId = '';
  constructor(
    readonly relayUrl: string,
    readonly workerId: string,
  ) {}

  async bind(ticket?: string) {
    const r = await postJson(`${this.relayUrl}/v1/relay/bind`, {
      worker_id: this.workerId,
      ...(ticket !== undefined ? { ticket } : {}),
    });
    if (r.status === 201) this.sessionId = (r.json as { session_id: string }).session_id;
    return r;
  }

  /** One long-poll; `undefined` on 204. */
  async pull(waitMs = 5_000, signal?: AbortSignal): Promise<PulledCall | undefined> {
    const res = await fetch(`${this.relayUrl}/v1/relay/pull?wait_ms=${waitMs}`, {
      headers: { authorization: `Bearer ${this.sessionId}` },
      ...(signal ? { signal } : {}),
    });
    if (res.status === 204) return undefined;
    const text = await res.text();
    if (res.status !== 200) throw new Error(`pull failed ${res.status} ${text}`);
    return JSON.parse(text) as PulledCall;
  }

  async pullStatus(waitMs = 0): Promise<{ status: number; json: unknown }> {
    const res = await fetch(
      `${this.relayUrl}/v1/relay/pull?wait_ms=${waitMs}&session_id=${this.sessionId}`,
    );
    const text = await res.text();
    return { status: res.status, json: text ? safeJson(text) : undefined };
  }

  result(
    requestId: string,
    status: number,
    body: string | Buffer,
    headers: Record<string, string> = { 'content-type': 'application/json' },
    extra: { more?: boolean; seq?: number } = {},
  ) {
    return postJson(`${this.relayUrl}/v1/relay/result`, {
      session_id: this.sessionId,
      request_id: requestId,
      ...(extra.seq ? {} : { status, headers }),
      body_b64: Buffer.from(body).toString('base64'),
      ...extra,
    });
  }

  /** Streamed upload of a result: returns the writer and the pending upload response. */
  streamResult(requestId: string, status: number, headers: Record<string, string>) {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        controller = c;
      },
    });
    const done = fetch(`${this.relayUrl}/v1/relay/result/stream`, {
      method: 'POST',
      headers: {
        'content-type': 'application/octet-stream',
        'x-iicp-relay-session': this.sessionId,
        'x-iicp-relay-request-id': requestId,
        'x-iicp-relay-status': String(status),
        'x-iicp-relay-headers': JSON.stringify(headers),
      },
      body,
      duplex: 'half',
    } as RequestInit);
    return {
      write: (s: string) => controller.enqueue(new TextEncoder().encode(s)),
      end: () => controller.close(),
      done,
    };
  }

  unbind() {
    return postJson(`${this.relayUrl}/v1/relay/unbind`, { session_id: this.sessionId });
  }
}

/** Poll until `fn` returns true (no timing assertion: the test timeout bounds it). */
export async function until(fn: () => boolean | Promise<boolean>, stepMs = 5): Promise<void> {
  while (!(await fn())) await new Promise((r) => setTimeout(r, stepMs));
}

export const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');
