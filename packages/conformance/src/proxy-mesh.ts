/**
 * The proxy suite's scripted mesh: a directory and provider nodes on loopback whose
 * behaviour each check chooses, so the routing MUSTs of conformance-test-suite.md §5
 * (PROXY-ROUTE/TIMEOUT/ERR) can be observed from outside the proxy. The proxy under
 * test is configured with `directoryUrl`; each check starts a scenario whose nodes the
 * directory lists, in order, for discover queries carrying the scenario's `model`
 * (an OpenAI-compatible proxy passes the request's model to discover, iicp-core.md §5).
 * Unknown models get an empty list (PROXY-ERR-01).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProxyMesh, ProxyMeshEvent, ProxyScenario, ScriptedNodeKind } from './types.ts';

/** Upper bound of a `timeout` node's hold, so a check stays inside the request budget. */
export const SCRIPTED_TIMEOUT_HOLD_MAX_MS = 8_000;

function json(res: ServerResponse, status: number, body: unknown): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  try {
    const v: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function listen(server: Server, port = 0): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    );
  });
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((r) => server.close(() => r()));
}

interface Scenario extends ProxyScenario {
  readonly events: ProxyMeshEvent[];
  readonly nodes: { id: string; endpoint: string }[];
}

/** Start the scripted directory (on `port`, default a free one). */
export async function startProxyMesh(opts: { port?: number } = {}): Promise<ProxyMesh> {
  const scenarios = new Map<string, Scenario>();
  const servers: Server[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const directory = createServer((req, res) => {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && /^(\/api)?\/v1\/discover$/.test(url.pathname)) {
      const s = scenarios.get(url.searchParams.get('model') ?? '');
      s?.events.push({ kind: 'discover', intent: url.searchParams.get('intent') });
      const nodes = (s?.nodes ?? []).map((n, i) => ({
        node_id: n.id,
        endpoint: n.endpoint,
        region: 'global',
        score: Math.max(0.1, 0.9 - i * 0.1),
        available: true,
        models: [s!.model],
      }));
      return json(res, 200, { nodes, count: nodes.length, query_ms: 0 });
    }
    if (req.method === 'GET' && /^(\/api)?\/v1\/health$/.test(url.pathname))
      return json(res, 200, { status: 'ok' });
    json(res, 404, {
      error: { code: 'not_found', message: 'the scripted directory serves discover' },
    });
  });
  servers.push(directory);
  const directoryUrl = await listen(directory, opts.port ?? 0);

  async function startNode(s: Scenario, index: number, kind: ScriptedNodeKind): Promise<string> {
    const server = createServer((req, res) => {
      void readJson(req).then((call) => {
        if (req.method !== 'POST' || req.url?.split('?')[0] !== '/v1/task')
          return json(res, 404, { error: { code: 'not_found', message: 'no such route' } });
        const intent = typeof call?.intent === 'string' ? call.intent : null;
        s.events.push({ kind: 'task', node: index, intent });
        const taskId = call?.task_id;
        if (kind === 'fail')
          return json(res, 503, {
            task_id: taskId,
            status: 'error',
            result: null,
            error: { code: 'service_unavailable', message: 'scripted failure' },
          });
        if (kind === 'timeout') {
          const asked = Number((call?.constraints as { timeout_ms?: unknown })?.timeout_ms);
          const hold = Math.min(
            Number.isFinite(asked) && asked > 0 ? asked : SCRIPTED_TIMEOUT_HOLD_MAX_MS,
            SCRIPTED_TIMEOUT_HOLD_MAX_MS,
          );
          const t = setTimeout(() => {
            timers.delete(t);
            json(res, 504, {
              task_id: taskId,
              status: 'timeout',
              result: null,
              error: { code: 'task_timeout', message: 'scripted timeout' },
            });
          }, hold);
          timers.add(t);
          res.on('close', () => {
            clearTimeout(t);
            timers.delete(t);
          });
          return;
        }
        json(res, 200, {
          task_id: taskId,
          status: 'success',
          result: {
            choices: [
              { index: 0, message: { role: 'assistant', content: s.text }, finish_reason: 'stop' },
            ],
            usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
          },
          metrics: { latency_ms: 0, tokens_used: 2 },
          model_used: s.model,
          generated_by_ai: true,
          error: null,
        });
      });
    });
    servers.push(server);
    return listen(server);
  }

  return {
    directoryUrl,
    async scenario(kinds) {
      const s: Scenario = {
        model: `conformance-${randomUUID().slice(0, 8)}`,
        text: `answer-${randomUUID().slice(0, 8)}`,
        events: [],
        nodes: [],
      };
      for (const [i, k] of kinds.entries())
        s.nodes.push({ id: randomUUID(), endpoint: await startNode(s, i, k) });
      scenarios.set(s.model, s);
      return s;
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      await Promise.all(servers.map(closeServer));
    },
  };
}
