/* eslint-disable @typescript-eslint/no-explicit-any -- recorded JSON bodies are inspected freely */
// Scripted directory and nodes on real loopback HTTP (node:http, port 0). Test-only.
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  closeServer as close,
  json,
  listenLoopback as listen,
  nodeListEntry,
  readBody,
  scriptedNodeId,
} from '../../src/testing.ts';

export { fakeTime, json } from '../../src/testing.ts';

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: any;
}

/** Order in which the mesh saw requests, across all servers (`directory:discover`, `node:<id>`…). */
export type EventLog = string[];

export type NodeHandler = (
  req: RecordedRequest,
  res: ServerResponse,
  raw: IncomingMessage,
) => void | Promise<void>;

export interface ScriptedNode {
  readonly id: string;
  readonly url: string;
  readonly requests: RecordedRequest[];
  handler: NodeHandler;
  /** Resolves when the next task request arrives. */
  nextRequest(): Promise<RecordedRequest>;
  /** Resolves when a client closes a connection before its answer was complete. */
  nextAbort(): Promise<void>;
  close(): Promise<void>;
}

/** A RESPONSE for the recorded task (iicp-core.md §3.2). */
export function success(task: RecordedRequest, result: unknown, extra: object = {}) {
  return {
    task_id: task.body.task_id,
    status: 'success',
    result,
    metrics: { latency_ms: 1, tokens_used: 3 },
    model_used: 'scripted-model',
    error: null,
    ...extra,
  };
}

export const ok =
  (result: unknown = { text: 'ok' }): NodeHandler =>
  (task, res) =>
    json(res, 200, success(task, result));

export const fail =
  (status: number, code: string, message = 'scripted failure', extra: object = {}): NodeHandler =>
  (_task, res) =>
    json(res, status, { error: { code, message, ...extra } });

/** Never answers (until the client goes away). */
export const hang: NodeHandler = () => undefined;

let nodeCounter = 0;

export async function startNode(log: EventLog, handler: NodeHandler = ok()): Promise<ScriptedNode> {
  nodeCounter++;
  const id = scriptedNodeId(nodeCounter);
  const requests: RecordedRequest[] = [];
  let waiters: Array<(r: RecordedRequest) => void> = [];
  let abortWaiters: Array<() => void> = [];
  const node: ScriptedNode = {
    id,
    url: '',
    requests,
    handler,
    nextRequest: () => new Promise((resolve) => waiters.push(resolve)),
    nextAbort: () => new Promise((resolve) => abortWaiters.push(resolve)),
    close: async () => undefined,
  };
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const rec: RecordedRequest = { method: req.method!, url: req.url!, headers: req.headers, body };
    requests.push(rec);
    log.push(`node:${id}`);
    res.on('close', () => {
      if (!res.writableFinished) {
        const w = abortWaiters;
        abortWaiters = [];
        for (const f of w) f();
      }
    });
    const w = waiters;
    waiters = [];
    for (const f of w) f(rec);
    await node.handler(rec, res, req);
  });
  const url = await listen(server);
  Object.assign(node, { url, close: () => close(server) });
  return node;
}

export interface DirectoryScript {
  /** The NODELIST body for a discover request. */
  nodes: (query: URLSearchParams) => unknown[];
  cacheControl?: string | null;
  /** Consumer token answer; default issues `tok-<n>` valid for 300 s from `nowS()`. */
  consumerToken?: (req: RecordedRequest, n: number) => { status: number; body: unknown };
  ticket?: (req: RecordedRequest, n: number) => { status: number; body: unknown };
  nowS?: () => number;
}

export interface ScriptedDirectory {
  readonly url: string;
  readonly discovers: RecordedRequest[];
  readonly tokens: RecordedRequest[];
  readonly tickets: RecordedRequest[];
  script: DirectoryScript;
  close(): Promise<void>;
}

/** A NODELIST entry for a scripted node. */
export const entry = nodeListEntry;

export async function startDirectory(
  log: EventLog,
  script: DirectoryScript,
): Promise<ScriptedDirectory> {
  const discovers: RecordedRequest[] = [];
  const tokens: RecordedRequest[] = [];
  const tickets: RecordedRequest[] = [];
  const dir = { url: '', discovers, tokens, tickets, script, close: async () => undefined };
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const rec: RecordedRequest = { method: req.method!, url: req.url!, headers: req.headers, body };
    const url = new URL(req.url!, 'http://x');
    const s = dir.script;
    if (req.method === 'GET' && url.pathname === '/v1/discover') {
      discovers.push(rec);
      log.push('directory:discover');
      const nodes = s.nodes(url.searchParams);
      const cc =
        s.cacheControl === undefined
          ? 'public, max-age=5, s-maxage=10, stale-while-revalidate=5'
          : s.cacheControl;
      json(
        res,
        200,
        { nodes, count: nodes.length, query_ms: 1 },
        cc === null ? {} : { 'cache-control': cc },
      );
      return;
    }
    if (req.method === 'POST' && url.pathname === '/api/v1/consumer-token') {
      tokens.push(rec);
      log.push('directory:consumer-token');
      const n = tokens.length;
      if (s.consumerToken) {
        const r = s.consumerToken(rec, n);
        json(res, r.status, r.body);
        return;
      }
      const now = s.nowS?.() ?? Math.floor(Date.now() / 1000);
      json(res, 201, {
        token: `dG9rLSR7bn0.${n.toString(16).padStart(4, '0')}`,
        expires_at: now + 300,
        caller_node_id: 'caller',
        target_node_id: body.target_node_id,
        intent: body.intent,
      });
      return;
    }
    if (req.method === 'POST' && url.pathname === '/v1/dispatch/ticket') {
      tickets.push(rec);
      log.push('directory:ticket');
      if (s.ticket) {
        const r = s.ticket(rec, tickets.length);
        json(res, r.status, r.body);
        return;
      }
    }
    json(res, 404, { error: { code: 'not_found', message: 'no such route' } });
  });
  const url = await listen(server);
  Object.assign(dir, { url, close: () => close(server) });
  return dir;
}

/** A dispatch ticket answer routing to `node` (iicp-dir.md §3.4). */
export function ticketFor(node: ScriptedNode, intent: string) {
  return {
    ticket: 'eyJ2IjoxfQ.abcdef',
    ticket_id_prefix: 'abcdef123456',
    expires_at: 1_900_000_000,
    intent,
    node_id: node.id,
    node_id_prefix: node.id.replace(/-/g, '').slice(-8),
    route: { node_id: node.id, endpoint: node.url },
    algorithm: 'ed25519',
    data_class: 'ticketed_route_dispatch',
    route_fields_present: true,
    prompt_payload_accepted: false,
  };
}

/** Writes SSE lifecycle events; `gate` pauses before the event at that index. */
export function sseWriter(res: ServerResponse) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
  res.flushHeaders();
  return (event: object) =>
    res.write(`event: ${(event as { event: string }).event}\ndata: ${JSON.stringify(event)}\n\n`);
}
