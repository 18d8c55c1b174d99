/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers are inspected freely */
import { afterEach, describe, expect, it } from 'vitest';
import { deferred, llmNode } from './support/mesh.ts';
import { startProxy, type TestProxy } from './support/proxy.ts';

let proxy: TestProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

async function post(p: TestProxy, path: string, body: unknown, contentType = 'application/json') {
  return fetch(`${p.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Reads NDJSON lines as they arrive; `onLine` runs before the next line is read. */
async function readLines(res: Response, onLine: (v: Record<string, unknown>) => void) {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.trim()) onLine(JSON.parse(line));
    }
  }
}

describe('Ollama-compatible routes', () => {
  it('/api/chat streams NDJSON by default, incrementally, ending with done:true', async () => {
    const gate = deferred();
    const sent: number[] = [];
    proxy = await startProxy([
      llmNode({
        parts: ['a', 'b', 'c'],
        gate: (i) => (i === 2 ? gate.promise : Promise.resolve()),
        sent: (i) => sent.push(i),
      }),
    ]);
    const res = await post(proxy, '/api/chat', {
      model: 'scripted-model',
      messages: [{ role: 'user', content: 'hi' }],
      options: { temperature: 0.5, num_predict: 12 },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    expect(res.headers.get('x-iicp-generated-by-ai')).toBe('true');
    expect(res.headers.get('x-iicp-node-id')).toBe(proxy.nodes[0]!.id);
    const lines: Array<Record<string, unknown>> = [];
    let sentAtFirst: number[] | undefined;
    await readLines(res, (v) => {
      lines.push(v);
      if (sentAtFirst === undefined) {
        sentAtFirst = [...sent];
        gate.release();
      }
    });
    expect(sentAtFirst).not.toContain(2);
    expect(lines.map((l) => (l.message as { content: string }).content)).toEqual([
      'a',
      'b',
      'c',
      '',
    ]);
    expect(lines.slice(0, 3).every((l) => l.done === false)).toBe(true);
    const last = lines.at(-1)!;
    expect(last).toMatchObject({
      done: true,
      done_reason: 'stop',
      model: 'scripted-model',
      eval_count: 7,
    });
    const payload = proxy.nodes[0]!.tasks[0]!.body.payload;
    expect(payload).toMatchObject({ model: 'scripted-model', temperature: 0.5, max_tokens: 12 });
    expect(payload).not.toHaveProperty('stream');
    expect(payload).not.toHaveProperty('options');
  });

  it('/api/chat with stream:false answers one JSON object', async () => {
    proxy = await startProxy([llmNode({ parts: ['whole'] })]);
    const res = await post(proxy, '/api/chat', {
      model: 'scripted-model',
      messages: [{ role: 'user', content: 'hi' }],
      stream: false,
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body).toMatchObject({
      message: { role: 'assistant', content: 'whole' },
      done: true,
      done_reason: 'stop',
    });
  });

  it('/api/generate: completion intent, curl-style form content type accepted', async () => {
    proxy = await startProxy([llmNode({ parts: ['x', 'y'] })]);
    const res = await post(
      proxy,
      '/api/generate',
      JSON.stringify({ model: 'scripted-model', prompt: 'go', system: 'be brief', stream: false }),
      'application/x-www-form-urlencoded',
    );
    expect(res.status).toBe(200);
    expect((await res.json()) as any).toMatchObject({ response: 'xy', done: true });
    const task = proxy.nodes[0]!.tasks[0]!.body;
    expect(task.intent).toBe('urn:iicp:intent:llm:completion:v1');
    expect(task.payload.prompt).toBe('be brief\n\ngo');
    const streamed = await post(proxy, '/api/generate', { model: 'scripted-model', prompt: 'go' });
    const parts: string[] = [];
    await readLines(streamed, (v) => parts.push(v.response as string));
    expect(parts).toEqual(['x', 'y', '']);
  });

  it('/api/tags lists the models the mesh serves; /api/version answers', async () => {
    proxy = await startProxy([llmNode()]);
    const tags = (await (await fetch(`${proxy.url}/api/tags`)).json()) as any;
    expect(tags.models.map((m: { name: string }) => m.name)).toEqual(['scripted-model']);
    const version = (await (await fetch(`${proxy.url}/api/version`)).json()) as any;
    expect(typeof version.version).toBe('string');
  });

  it('errors are {"error": "..."} with the IICP code kept', async () => {
    proxy = await startProxy([]);
    const res = await post(proxy, '/api/chat', {
      model: 'm',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(res.status).toBe(503);
    const body = (await res.json()) as any;
    expect(typeof body.error).toBe('string');
    expect(body.code).toBe('IICP-E033');
    const bad = await post(proxy, '/api/chat', { messages: [] });
    expect(bad.status).toBe(400);
    const b = (await bad.json()) as any;
    expect(typeof b.error).toBe('string');
    expect(b.code).toBe('validation_error');
    const broken = await post(proxy, '/api/generate', '{"model":', 'application/json');
    expect(broken.status).toBe(400);
    expect(typeof ((await broken.json()) as any).error).toBe('string');
  });

  it('a stream that fails after it started ends with an in-band error line', async () => {
    proxy = await startProxy([llmNode({ parts: ['partial'], failWith: 'backend_error' })]);
    const res = await post(proxy, '/api/chat', {
      model: 'm',
      messages: [{ role: 'user', content: 'x' }],
    });
    const lines: Array<Record<string, unknown>> = [];
    await readLines(res, (v) => lines.push(v));
    expect(lines[0]).toMatchObject({ message: { content: 'partial' }, done: false });
    expect(lines.at(-1)).toMatchObject({ code: 'backend_error' });
    expect(typeof lines.at(-1)!.error).toBe('string');
  });
});
