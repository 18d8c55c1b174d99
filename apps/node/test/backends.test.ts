import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createBackend, createBackendHttpClient } from '../src/backends/index.ts';
import { LineSplitter, SseParser } from '../src/backends/sse.ts';
import { BackendError, type Backend } from '../src/backends/types.ts';
import {
  gate,
  startScriptedBackend,
  type ScriptedBackend,
  type Shape,
} from './support/scripted-backend.ts';

const http = createBackendHttpClient();
afterAll(() => http.close());

let server: ScriptedBackend | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function call(signal = new AbortController().signal) {
  return { model: 'test-model', signal, timeoutMs: 10_000 };
}

const CHAT = {
  messages: [
    { role: 'system', content: 'be brief' },
    { role: 'user', content: 'hi' },
  ],
  max_tokens: 16,
  temperature: 0.5,
  stop: ['\n'],
};

async function open(
  shape: Shape,
  script: Parameters<typeof startScriptedBackend>[1] = {},
): Promise<Backend> {
  server = await startScriptedBackend(shape, script);
  return createBackend({ type: shape, baseUrl: server.url, http, apiKey: 'sk-test' });
}

describe.each(['openai', 'ollama', 'anthropic'] as const)('%s backend client', (shape) => {
  it('lists models', async () => {
    const b = await open(shape);
    expect(await b.listModels()).toEqual(['test-model', 'other-model']);
  });

  it('chat: maps the reply to the llm-chat-v1 output with tokens', async () => {
    const b = await open(shape);
    const r = await b.invoke('chat', CHAT, call());
    expect(r.result).toMatchObject({
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello!' } }],
    });
    expect(r.tokensUsed).toBe(12);
    expect(r.model).toBe('test-model');
    const sent = server!.requests.at(-1)!;
    if (shape === 'openai') {
      expect(sent.path).toBe('/v1/chat/completions');
      expect(sent.body).toMatchObject({ model: 'test-model', stream: false, max_tokens: 16 });
      expect(sent.headers.authorization).toBe('Bearer sk-test');
    } else if (shape === 'ollama') {
      expect(sent.path).toBe('/api/chat');
      expect(sent.body).toMatchObject({
        stream: false,
        options: { num_predict: 16, temperature: 0.5, stop: ['\n'] },
      });
    } else {
      expect(sent.path).toBe('/v1/messages');
      expect(sent.body).toMatchObject({
        system: 'be brief',
        max_tokens: 16,
        stop_sequences: ['\n'],
        messages: [{ role: 'user', content: 'hi' }],
      });
      expect(sent.headers['x-api-key']).toBe('sk-test');
      expect(sent.headers['anthropic-version']).toBe('2023-06-01');
    }
  });

  it('completion: maps the reply to choices[].text', async () => {
    const b = await open(shape);
    const r = await b.invoke('completion', { prompt: 'Say' }, call());
    expect(r.result).toMatchObject({ choices: [{ index: 0, text: 'Hello!' }] });
  });

  it('streams chat deltas before the backend has finished', async () => {
    const g = gate();
    const b = await open(shape, { gate: g.promise });
    const chunks: unknown[] = [];
    let first!: () => void;
    const gotFirst = new Promise<void>((r) => (first = r));
    const done = b.stream('chat', CHAT, call(), (c) => {
      chunks.push(c);
      first();
    });
    await gotFirst;
    // The backend is still holding the rest of the answer behind the gate.
    expect(chunks).toEqual([
      {
        choices: [
          expect.objectContaining({ index: 0, delta: expect.objectContaining({ content: 'Hel' }) }),
        ],
      },
    ]);
    g.open();
    const summary = await done;
    const text = chunks
      .map((c) =>
        (c as { choices: { delta?: { content?: string } }[] }).choices
          .map((x) => x.delta?.content ?? '')
          .join(''),
      )
      .join('');
    expect(text).toBe('Hello!');
    expect(summary.tokensUsed).toBe(12);
    expect(summary.finishReason).toBe(shape === 'anthropic' ? 'end_turn' : 'stop');
  });

  it('streams completion text', async () => {
    const b = await open(shape);
    const parts: string[] = [];
    await b.stream('completion', { prompt: 'x' }, call(), (c) => {
      for (const ch of (c as { choices: { text?: string }[] }).choices) parts.push(ch.text ?? '');
    });
    expect(parts.join('')).toBe('Hello!');
  });

  it('a backend error status is a BackendError without the backend message', async () => {
    const b = await open(shape, { status: 500, errorText: 'CANARY' });
    const err = await b.invoke('chat', CHAT, call()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).code).toBe('backend_status');
    expect(String((err as Error).message)).not.toContain('CANARY');
    const serr = await b.stream('chat', CHAT, call(), () => undefined).catch((e: unknown) => e);
    expect((serr as BackendError).code).toBe('backend_status');
  });

  it('aborting the signal tears the backend request down', async () => {
    const b = await open(shape, { hang: true });
    const ac = new AbortController();
    const aborted = server!.nextAbort();
    const p = b.invoke('chat', CHAT, call(ac.signal)).catch((e: unknown) => e);
    // Wait until the backend holds the request, then abort.
    while (server!.requests.length === 0) await new Promise((r) => setImmediate(r));
    ac.abort();
    const err = await p;
    expect((err as BackendError).code).toBe('backend_aborted');
    await aborted;
    expect(server!.aborted).toBe(1);
  });

  it('aborting a stream mid-way closes the backend connection', async () => {
    const g = gate();
    const b = await open(shape, { gate: g.promise });
    const ac = new AbortController();
    const aborted = server!.nextAbort();
    const p = b.stream('chat', CHAT, call(ac.signal), () => ac.abort()).catch((e: unknown) => e);
    expect(((await p) as BackendError).code).toBe('backend_aborted');
    await aborted;
    g.open();
  });

  it('a connection failure is backend_transport', async () => {
    const b = createBackend({ type: shape, baseUrl: 'http://127.0.0.1:1', http });
    const err = await b.invoke('chat', CHAT, call()).catch((e: unknown) => e);
    expect((err as BackendError).code).toBe('backend_transport');
  });
});

describe('embeddings', () => {
  it('openai passes the embedding list through', async () => {
    const b = await open('openai');
    const r = await b.invoke('embedding', { input: ['a', 'b'] }, call());
    expect(r.result).toMatchObject({
      data: [{ index: 0 }, { index: 1, embedding: [0.1, 0.2, 1] }],
    });
    expect(r.tokensUsed).toBe(5);
  });

  it('ollama maps /api/embed to data[]', async () => {
    const b = await open('ollama');
    const r = await b.invoke('embedding', { input: ['a', 'b'] }, call());
    expect(r.result).toMatchObject({
      data: [
        { index: 0, embedding: [0.5, 0] },
        { index: 1, embedding: [0.5, 1] },
      ],
    });
    expect(server!.requests.at(-1)!.body).toEqual({ model: 'test-model', input: ['a', 'b'] });
  });

  it('ollama falls back to /api/embeddings on 404', async () => {
    const b = await open('ollama', { legacyEmbeddings: true });
    const r = await b.invoke('embedding', { input: 'a' }, call());
    expect(r.result).toMatchObject({ data: [{ index: 0, embedding: [0.25, 0.75] }] });
    expect(server!.requests.map((q) => q.path)).toEqual(['/api/embed', '/api/embeddings']);
  });

  it('anthropic does not serve embeddings', async () => {
    const b = await open('anthropic');
    expect(b.operations).not.toContain('embedding');
    const err = await b.invoke('embedding', { input: 'a' }, call()).catch((e: unknown) => e);
    expect((err as BackendError).code).toBe('backend_unsupported');
  });
});

describe('incremental parsers', () => {
  it('SSE events are the same however the bytes are split', () => {
    const text =
      'event: a\ndata: {"x":1}\n\n: comment\ndata: line1\ndata: line2\r\n\r\ndata: [DONE]\n\n';
    const whole = new SseParser().push(text);
    expect(whole).toEqual([
      { event: 'a', data: '{"x":1}' },
      { event: 'message', data: 'line1\nline2' },
      { event: 'message', data: '[DONE]' },
    ]);
    fc.assert(
      fc.property(fc.array(fc.nat(text.length), { maxLength: 8 }), (cuts) => {
        const bytes = Buffer.from(text);
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const p = new SseParser();
        const out = [];
        let prev = 0;
        for (const c of [...points, bytes.length]) {
          out.push(...p.push(bytes.subarray(prev, c)));
          prev = c;
        }
        out.push(...p.end());
        expect(out).toEqual(whole);
      }),
      { numRuns: 300 },
    );
  });

  it('multi-byte UTF-8 split across chunks survives', () => {
    const bytes = Buffer.from('{"t":"héllo ✓"}\n');
    const s = new LineSplitter();
    const lines = [
      ...s.push(bytes.subarray(0, 8)),
      ...s.push(bytes.subarray(8, 14)),
      ...s.push(bytes.subarray(14)),
    ];
    expect(lines).toEqual(['{"t":"héllo ✓"}']);
  });
});

describe('backend detection', () => {
  it('tells Ollama from OpenAI-compatible servers by their model-list routes', async () => {
    const { detectBackend } = await import('../src/probe.ts');
    server = await startScriptedBackend('ollama');
    expect(await detectBackend(server.url, http)).toMatchObject({
      type: 'ollama',
      models: ['test-model', 'other-model'],
    });
    await server.close();
    server = await startScriptedBackend('openai');
    expect(await detectBackend(server.url, http)).toMatchObject({
      type: 'openai',
      models: ['test-model', 'other-model'],
    });
    expect(await detectBackend('http://127.0.0.1:1', http)).toBeUndefined();
  });

  it('a 200 reply without the model list is not a model list', async () => {
    const { createServer } = await import('node:http');
    const s = createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'),
    );
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(s.address() as { port: number }).port}`;
    const err = await createBackend({ type: 'ollama', baseUrl: url, http })
      .listModels()
      .catch((e: unknown) => e);
    expect((err as BackendError).code).toBe('backend_bad_reply');
    await new Promise<void>((r) => s.close(() => r()));
  });
});
