import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createClient,
  fetchTransport,
  readSse,
  type BodyReader,
  type TaskTransport,
} from '../src/index.ts';
import {
  entry,
  sseWriter,
  startDirectory,
  startNode,
  success,
  type ScriptedDirectory,
  type ScriptedNode,
} from './support/mesh.ts';

let node: ScriptedNode;
let dir: ScriptedDirectory;

beforeAll(async () => {
  node = await startNode([], (task, res) => {
    if (String(task.headers.accept).startsWith('text/event-stream')) {
      const write = sseWriter(res);
      const id = task.body.task_id as string;
      write({ task_id: id, sequence: 0, event: 'accepted', is_final: false });
      write({ task_id: id, sequence: 1, event: 'partial', is_final: false, result: 'po' });
      write({ task_id: id, sequence: 2, event: 'completed', is_final: true, result: 'ng' });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(success(task, { text: 'pong' })));
  });
  dir = await startDirectory([], { nodes: () => [entry(node, 0.9)] });
});

afterAll(async () => {
  await dir.close();
  await node.close();
});

function recording(): { urls: string[]; transport: TaskTransport } {
  const urls: string[] = [];
  const inner = fetchTransport(globalThis.fetch);
  return {
    urls,
    transport: {
      send: (req) => {
        urls.push(req.url);
        return inner.send(req);
      },
    },
  };
}

describe('the transport option', () => {
  it('carries every CALL (buffered and streamed); directory requests stay on fetch', async () => {
    const fetched: string[] = [];
    const { urls, transport } = recording();
    const client = createClient({
      directoryUrl: dir.url,
      allowPlaintext: true,
      transport,
      fetch: (input, init) => {
        fetched.push(String(input));
        return globalThis.fetch(input, init);
      },
    });
    const r = await client.call('urn:iicp:intent:text:echo:v1', { text: 'ping' });
    expect(r.result).toEqual({ text: 'pong' });
    const deltas: unknown[] = [];
    for await (const d of client.stream('urn:iicp:intent:text:echo:v1', { text: 'ping' })) {
      deltas.push(d.result);
    }
    expect(deltas).toEqual(['po', 'ng']);
    expect(urls).toEqual([`${node.url}/v1/task`, `${node.url}/v1/task`]);
    expect(fetched.every((u) => u.startsWith(dir.url))).toBe(true);
    expect(fetched.some((u) => u.endsWith('/v1/task'))).toBe(false);
  });

  it('a finished stream releases its body; one left early cancels it', async () => {
    const ends: string[] = [];
    const inner = fetchTransport(globalThis.fetch);
    const transport: TaskTransport = {
      send: async (req) => {
        const res = await inner.send(req);
        return {
          ...res,
          header: (n) => res.header(n),
          text: () => res.text(),
          reader: () => res.reader(),
          cancel: () => {
            ends.push('cancel');
            res.cancel();
          },
          release: () => {
            ends.push('release');
            res.release();
          },
        };
      },
    };
    const client = createClient({ directoryUrl: dir.url, allowPlaintext: true, transport });
    for await (const _ of client.stream('urn:iicp:intent:text:echo:v1', { text: 'a' })) void _;
    for await (const _ of client.stream('urn:iicp:intent:text:echo:v1', { text: 'b' })) break;
    expect(ends).toEqual(['release', 'cancel']);
  });

  it('is checked at construction', () => {
    expect(() =>
      createClient({ directoryUrl: dir.url, transport: {} as unknown as TaskTransport }),
    ).toThrow(expect.objectContaining({ code: 'invalid_config' }));
  });
});

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(ctl) {
      for (const c of chunks) ctl.enqueue(c);
      ctl.close();
    },
  });
}

function readerOf(chunks: Uint8Array[]): BodyReader & { cancelled: boolean } {
  let i = 0;
  const r = {
    cancelled: false,
    read: async () =>
      i < chunks.length ? { done: false, value: chunks[i++] } : { done: true, value: undefined },
    cancel: async () => {
      r.cancelled = true;
    },
  };
  return r;
}

describe('readSse over a BodyReader', () => {
  it('yields exactly what it yields over a web stream of the same chunks', async () => {
    const line = fc.oneof(
      fc.constantFrom('', ': comment', 'event: partial', 'id: 7', 'retry: 10'),
      fc.string({ maxLength: 12 }).map((s) => `data: ${s.replace(/[\r\n]/g, '')}`),
    );
    const ending = fc.constantFrom('\n', '\r\n', '\r');
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(line, ending), { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 8 }),
        async (lines, cuts) => {
          const bytes = new TextEncoder().encode(lines.map(([l, e]) => l + e).join(''));
          const chunks: Uint8Array[] = [];
          for (let at = 0, k = 0; at < bytes.length; k++) {
            const n = cuts[k % cuts.length]!;
            chunks.push(bytes.subarray(at, at + n));
            at += n;
          }
          const viaStream: unknown[] = [];
          for await (const m of readSse(streamOf(chunks))) viaStream.push(m);
          const reader = readerOf(chunks);
          const viaReader: unknown[] = [];
          for await (const m of readSse(reader)) viaReader.push(m);
          expect(viaReader).toEqual(viaStream);
          expect(reader.cancelled).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
