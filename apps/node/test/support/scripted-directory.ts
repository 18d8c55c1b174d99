import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DirectoryKey } from '@iicp/crypto';

/**
 * A small scripted directory over real HTTP: register (with token rotation on
 * `current_node_token`), heartbeat (401 on a bad token, 404 for a forgotten node),
 * deregister and the directory key. Enough to drive the node's lifecycle; the real
 * directory lives in apps/directory and is exercised from tools/e2e.
 */
export interface ScriptedDirectory {
  url: string;
  key: DirectoryKey;
  nodes: Map<string, { token: string; body: Record<string, unknown> }>;
  calls: {
    method: string;
    path: string;
    body: Record<string, unknown> | undefined;
    authorization?: string;
  }[];
  nextHeartbeatMs: number;
  /** Forget a node: its next heartbeat gets 404. */
  forget(nodeId: string): void;
  /** Resolve after `n` more calls to `path`. */
  waitFor(path: string, n?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startScriptedDirectory(): Promise<ScriptedDirectory> {
  const key = DirectoryKey.generate();
  const nodes = new Map<string, { token: string; body: Record<string, unknown> }>();
  const calls: ScriptedDirectory['calls'] = [];
  let waiters: { path: string; left: number; resolve: () => void }[] = [];
  const self = { nextHeartbeatMs: 30_000 };

  const send = (res: ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json' }).end(text);
  };
  const err = (res: ServerResponse, status: number, code: string): void =>
    send(res, status, { error: { code, message: code } });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
    const path = (req.url ?? '/').split('?')[0]!.replace(/^\/api/, '');
    const authorization = req.headers.authorization;
    calls.push({
      method: req.method ?? '',
      path,
      body,
      ...(authorization ? { authorization } : {}),
    });
    const bearer = authorization?.replace(/^Bearer /, '');
    try {
      if (req.method === 'GET' && path === '/v1/directory-key') {
        return send(res, 200, { public_key: key.publicKeyHex, algorithm: 'ed25519' });
      }
      if (req.method === 'POST' && path === '/v1/register') {
        let id = typeof body?.node_id === 'string' ? body.node_id : randomUUID();
        const known = nodes.get(id);
        if (known) {
          if (body?.current_node_token !== known.token) return err(res, 401, 'unauthorized');
        } else if (body?.current_node_token !== undefined) {
          id = randomUUID();
        }
        const token = randomBytes(32).toString('hex');
        nodes.set(id, { token, body: body ?? {} });
        return send(res, 201, {
          message_type: 'ACK',
          node_id: id,
          node_token: token,
          expires_at: null,
          directory: 'scripted',
          observed_source_ip: '127.0.0.1',
          node_hmac_key: 'k'.repeat(64),
        });
      }
      if (req.method === 'POST' && path === '/v1/heartbeat') {
        const n = nodes.get(String(body?.node_id));
        if (!n) return err(res, 404, 'not_found');
        if (bearer !== n.token) return err(res, 401, 'unauthorized');
        return send(res, 200, {
          ok: true,
          next_heartbeat_ms: self.nextHeartbeatMs,
          challenge: randomBytes(8).toString('hex'),
        });
      }
      if (req.method === 'DELETE' && path === '/v1/register') {
        const n = nodes.get(String(body?.node_id));
        if (!n) return err(res, 404, 'not_found');
        if (bearer !== n.token) return err(res, 401, 'unauthorized');
        nodes.delete(String(body?.node_id));
        return send(res, 200, { deregistered: true });
      }
      return err(res, 404, 'not_found');
    } finally {
      const done: (() => void)[] = [];
      waiters = waiters.filter((w) => {
        if (w.path !== path) return true;
        w.left -= 1;
        if (w.left > 0) return true;
        done.push(w.resolve);
        return false;
      });
      for (const f of done) f();
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => err(res, 500, 'internal_error'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    key,
    nodes,
    calls,
    get nextHeartbeatMs() {
      return self.nextHeartbeatMs;
    },
    set nextHeartbeatMs(v: number) {
      self.nextHeartbeatMs = v;
    },
    forget: (id) => void nodes.delete(id),
    waitFor: (path, n = 1) =>
      new Promise<void>((resolve) => waiters.push({ path, left: n, resolve })),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
