/* eslint-disable @typescript-eslint/no-explicit-any -- recorded JSON bodies are inspected freely */
/**
 * Helpers for tests that drive `@iicp/client` (or something built on it, such as the
 * consumer proxy) against a scripted directory and scripted nodes on loopback HTTP.
 * Node only (`node:http`): import it as `@iicp/client/testing`; the default entry stays
 * browser-safe and never loads it.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request body as JSON, the raw text when it is not JSON, `undefined` when empty. */
export async function readBody(req: IncomingMessage): Promise<any> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Listens on 127.0.0.1, a free port; resolves with the base URL. */
export async function listenLoopback(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

/** Closes a server and every connection it still holds. */
export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A JSON answer. */
export function json(res: ServerResponse, status: number, body: unknown, headers = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** The node id of the n-th scripted node: a UUID whose last group is `n`. */
export function scriptedNodeId(n: number): string {
  return `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
}

/** A NODELIST entry (iicp-core.md §5) for a scripted node. */
export function nodeListEntry(
  node: { readonly id: string; readonly url: string },
  score: number,
  extra: object = {},
) {
  return {
    node_id: node.id,
    endpoint: node.url,
    region: 'eu-central',
    score,
    available: true,
    ...extra,
  };
}

/** A test clock and a sleep that records delays without waiting. */
export function fakeTime(start = 1_800_000_000_000) {
  let now = start;
  const sleeps: number[] = [];
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
    sleeps,
    sleep: async (ms: number, signal?: AbortSignal) => {
      sleeps.push(ms);
      if (signal?.aborted) throw signal.reason;
    },
  };
}

/** A deferred promise: `release()` lets whatever awaits `promise` go on. */
export function deferred() {
  let release!: () => void;
  const promise = new Promise<void>((r) => (release = r));
  return { promise, release };
}
