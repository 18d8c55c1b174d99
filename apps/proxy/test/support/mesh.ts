/* eslint-disable @typescript-eslint/no-explicit-any -- recorded JSON bodies are inspected freely */
// A scripted directory and scripted IICP nodes on real loopback HTTP (node:http, port 0).
// The nodes answer POST /v1/task the way apps/node does: a buffered RESPONSE, or, when
// the CALL requires the service-lifecycle profile and accepts text/event-stream, the
// D-064 SSE binding (accepted, partial chunks in the intent's partial form, then a
// terminal event carrying the RESPONSE fields). Test-only.
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  closeServer as close,
  json,
  listenLoopback as listen,
  nodeListEntry,
  readBody,
  scriptedNodeId,
} from '@iicp/client/testing';

export { deferred, fakeTime, json } from '@iicp/client/testing';

export const LIFECYCLE_PROFILE = 'urn:iicp:profile:service-lifecycle:v1';

export interface Task {
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: any;
}

export type NodeHandler = (task: Task, res: ServerResponse) => void | Promise<void>;

export interface ScriptedNode {
  readonly id: string;
  readonly url: string;
  readonly tasks: Task[];
  /** Connections the caller closed before the answer was complete. */
  aborts: number;
  handler: NodeHandler;
  close(): Promise<void>;
}

let counter = 0;

export async function startNode(handler: NodeHandler): Promise<ScriptedNode> {
  counter++;
  const node: ScriptedNode = {
    id: scriptedNodeId(counter),
    url: '',
    tasks: [],
    aborts: 0,
    handler,
    close: async () => undefined,
  };
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const task: Task = { url: req.url!, headers: req.headers, body };
    if (req.url === '/v1/task') node.tasks.push(task);
    res.on('close', () => {
      if (!res.writableFinished) node.aborts++;
    });
    await node.handler(task, res);
  });
  const url = await listen(server);
  Object.assign(node, { url, close: () => close(server) });
  return node;
}

/** Did the CALL negotiate the lifecycle stream (D-064)? */
export function wantsStream(task: Task): boolean {
  const req = task.body?.constraints?.required_profiles;
  return (
    Array.isArray(req) &&
    req.includes(LIFECYCLE_PROFILE) &&
    /text\/event-stream/.test(String(task.headers.accept ?? ''))
  );
}

export type Intent = 'chat' | 'completion' | 'embedding';

export function intentOf(task: Task): Intent {
  const i = String(task.body?.intent ?? '');
  return i.includes(':embedding:')
    ? 'embedding'
    : i.includes(':completion:')
      ? 'completion'
      : 'chat';
}

/** The buffered result an LLM node produces for `text` (registry output shapes). */
export function resultFor(intent: Intent, text: string): unknown {
  if (intent === 'embedding') {
    return {
      data: [{ index: 0, embedding: [0.25, -0.5, 1] }],
      usage: { prompt_tokens: 2, total_tokens: 2 },
    };
  }
  if (intent === 'completion') {
    return {
      choices: [{ index: 0, text, finish_reason: 'stop' }],
      usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
    };
  }
  return {
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
  };
}

/** One streamed chunk in the intent's partial form, as apps/node sends it. */
export function chunkFor(intent: Intent, text: string): unknown {
  return intent === 'completion'
    ? { choices: [{ index: 0, text }] }
    : { choices: [{ index: 0, delta: { content: text } }] };
}

export function sseWriter(res: ServerResponse) {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
  });
  res.flushHeaders();
  return (ev: { event: string }) =>
    res.write(`event: ${ev.event}\ndata: ${JSON.stringify(ev)}\n\n`);
}

export interface LlmNodeScript {
  /** Streamed parts (joined for the buffered answer). */
  parts?: string[];
  model?: string;
  /** Awaited before sending part i (i ≥ 1): lets a test hold the node mid-stream. */
  gate?: (i: number) => Promise<void>;
  /** Called after the part i has been written. */
  sent?: (i: number) => void;
  /** Fail the stream after the parts (a `failed` terminal event with this code). */
  failWith?: string;
}

/** A node that serves the LLM intents like apps/node: buffered or lifecycle SSE. */
export function llmNode(script: LlmNodeScript = {}): NodeHandler {
  const parts = script.parts ?? ['Hello', ', ', 'world'];
  const model = script.model ?? 'scripted-model';
  return async (task, res) => {
    if (task.url !== '/v1/task')
      return json(res, 404, { error: { code: 'not_found', message: 'no such route' } });
    const intent = intentOf(task);
    const id = task.body.task_id;
    if (!wantsStream(task) || intent === 'embedding') {
      return json(res, 200, {
        task_id: id,
        status: 'success',
        result: resultFor(intent, parts.join('')),
        metrics: { latency_ms: 1, tokens_used: 7 },
        model_used: model,
        generated_by_ai: true,
        error: null,
      });
    }
    const send = sseWriter(res);
    let seq = 0;
    send({ task_id: id, sequence: seq++, event: 'accepted', is_final: false } as any);
    for (let i = 0; i < parts.length; i++) {
      if (i > 0 && script.gate) await script.gate(i);
      if (res.destroyed) return;
      send({
        task_id: id,
        sequence: seq++,
        event: 'partial',
        is_final: false,
        result: chunkFor(intent, parts[i]!),
      } as any);
      script.sent?.(i);
    }
    if (script.failWith) {
      send({
        task_id: id,
        sequence: seq++,
        event: 'failed',
        is_final: true,
        status: 'error',
        error: { code: script.failWith, message: 'scripted failure' },
      } as any);
    } else {
      send({
        task_id: id,
        sequence: seq++,
        event: 'completed',
        is_final: true,
        status: 'success',
        // apps/node: the final (empty) chunk in the partial shape, plus tokens_used.
        result: {
          choices: [
            intent === 'completion'
              ? { index: 0, text: '', finish_reason: 'stop' }
              : { index: 0, delta: {}, finish_reason: 'stop' },
          ],
        },
        tokens_used: 7,
        metrics: { latency_ms: 1, tokens_used: 7 },
        model_used: model,
        generated_by_ai: true,
        error: null,
      } as any);
    }
    res.end();
  };
}

/** An IICP error answer (D-014 body). */
export const failing =
  (status: number, code: string, message = 'scripted failure'): NodeHandler =>
  (task, res) =>
    json(res, status, {
      task_id: task.body?.task_id,
      status: 'error',
      result: null,
      error: { code, message },
    });

/** Never answers until the caller goes away. */
export const hanging: NodeHandler = () => undefined;

export interface DirectoryScript {
  nodes: (query: URLSearchParams) => unknown[];
  me?: { status: number; body: unknown };
}

export interface ScriptedDirectory {
  readonly url: string;
  readonly discovers: URLSearchParams[];
  readonly meCalls: Array<IncomingMessage['headers']>;
  script: DirectoryScript;
  close(): Promise<void>;
}

/** A NODELIST entry for a scripted node (serving the scripted model). */
export function entry(node: ScriptedNode, score: number, extra: object = {}) {
  return nodeListEntry(node, score, { models: ['scripted-model'], ...extra });
}

export async function startDirectory(script: DirectoryScript): Promise<ScriptedDirectory> {
  const dir: ScriptedDirectory = {
    url: '',
    discovers: [],
    meCalls: [],
    script,
    close: async () => undefined,
  };
  const server = createServer(async (req, res) => {
    await readBody(req);
    const url = new URL(req.url!, 'http://x');
    if (req.method === 'GET' && url.pathname === '/v1/discover') {
      dir.discovers.push(url.searchParams);
      const nodes = dir.script.nodes(url.searchParams);
      res.writeHead(200, {
        'content-type': 'application/json',
        'cache-control': 'public, max-age=5, s-maxage=10, stale-while-revalidate=5',
      });
      res.end(JSON.stringify({ nodes, count: nodes.length, query_ms: 1 }));
      return;
    }
    if (req.method === 'GET' && url.pathname === '/v1/me') {
      dir.meCalls.push(req.headers);
      const me = dir.script.me ?? {
        status: 404,
        body: { error: { code: 'not_found', message: 'no' } },
      };
      return json(res, me.status, me.body);
    }
    json(res, 404, { error: { code: 'not_found', message: 'no such route' } });
  });
  const url = await listen(server);
  Object.assign(dir, { url, close: () => close(server) });
  return dir;
}
