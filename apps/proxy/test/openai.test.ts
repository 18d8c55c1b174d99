import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { deferred, llmNode } from './support/mesh.ts';
import { startProxy, type TestProxy } from './support/proxy.ts';

let proxy: TestProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

function openai(p: TestProxy): OpenAI {
  return new OpenAI({ baseURL: `${p.url}/v1`, apiKey: 'unused', maxRetries: 0 });
}

describe('OpenAI-compatible routes with the official openai client', () => {
  it('chat: a CALL for llm:chat:v1, answered in OpenAI shape (PROXY-OAI-01, PROXY-OAI-02)', async () => {
    proxy = await startProxy([llmNode({ parts: ['Hi', ' there'] })]);
    const { data, response } = await openai(proxy)
      .chat.completions.create({
        model: 'scripted-model',
        messages: [{ role: 'user', content: 'hello' }],
      })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe('Hi there');
    expect(data.choices[0]?.finish_reason).toBe('stop');
    expect(data.object).toBe('chat.completion');
    expect(data.model).toBe('scripted-model');
    expect(data.usage?.total_tokens).toBe(7);
    expect(response.headers.get('x-iicp-generated-by-ai')).toBe('true');
    expect(response.headers.get('x-iicp-node-id')).toBe(proxy.nodes[0]!.id);
    const task = proxy.nodes[0]!.tasks[0]!;
    expect(task.body.intent).toBe('urn:iicp:intent:llm:chat:v1');
    expect(task.body.payload.messages).toEqual([{ role: 'user', content: 'hello' }]);
    expect(data.id).toBe(`chatcmpl-${task.body.task_id}`);
    // Discovery came first (PROXY-ROUTE-01) and asked for the model as a preference.
    expect(proxy.dir.discovers[0]?.get('intent')).toBe('urn:iicp:intent:llm:chat:v1');
  });

  it('chat stream: chat.completion.chunk events as the node produces them, then [DONE]', async () => {
    const gate = deferred();
    const sent: number[] = [];
    proxy = await startProxy([
      llmNode({
        parts: ['one', 'two', 'three'],
        gate: (i) => (i === 2 ? gate.promise : Promise.resolve()),
        sent: (i) => sent.push(i),
      }),
    ]);
    const stream = await openai(proxy).chat.completions.create({
      model: 'scripted-model',
      messages: [{ role: 'user', content: 'count' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const texts: string[] = [];
    let sentWhenFirstArrived: number[] | undefined;
    const finishes: Array<string | null> = [];
    let usage: number | undefined;
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      const c = chunk.choices[0];
      if (c?.delta.content) {
        texts.push(c.delta.content);
        if (sentWhenFirstArrived === undefined) {
          sentWhenFirstArrived = [...sent];
          gate.release(); // the node sends its last part only now
        }
      }
      if (c?.finish_reason) finishes.push(c.finish_reason);
      if (chunk.usage) usage = chunk.usage.total_tokens;
    }
    expect(texts).toEqual(['one', 'two', 'three']);
    // Incremental: the first chunk reached the client while the node still held its last.
    expect(sentWhenFirstArrived).not.toContain(2);
    expect(finishes).toEqual(['stop']);
    expect(usage).toBe(7);
  });

  it('chat stream ends with data: [DONE] on the wire', async () => {
    proxy = await startProxy([llmNode({ parts: ['a', 'b'] })]);
    const res = await fetch(`${proxy.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'x' }], stream: true }),
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('x-iicp-generated-by-ai')).toBe('true');
    expect(res.headers.get('x-iicp-node-id')).toBe(proxy.nodes[0]!.id);
    const text = await res.text();
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    const first = JSON.parse(text.split('\n\n')[0]!.slice('data: '.length));
    expect(first.choices[0].delta.role).toBe('assistant');
  });

  it('completions, streamed and not', async () => {
    proxy = await startProxy([llmNode({ parts: ['once', ' upon'] })]);
    const client = openai(proxy);
    const done = await client.completions.create({ model: 'scripted-model', prompt: 'Tell' });
    expect(done.choices[0]?.text).toBe('once upon');
    expect(proxy.nodes[0]!.tasks[0]!.body.intent).toBe('urn:iicp:intent:llm:completion:v1');
    const stream = await client.completions.create({
      model: 'scripted-model',
      prompt: 'Tell',
      stream: true,
    });
    const parts: string[] = [];
    for await (const c of stream) if (c.choices[0]?.text) parts.push(c.choices[0].text);
    expect(parts).toEqual(['once', ' upon']);
  });

  it('embeddings: base64 (the client default) and float', async () => {
    proxy = await startProxy([llmNode()]);
    const client = openai(proxy);
    const b64 = await client.embeddings.create({ model: 'scripted-model', input: 'vector me' });
    expect(b64.data[0]?.embedding).toEqual([0.25, -0.5, 1]);
    const f = await client.embeddings.create({
      model: 'scripted-model',
      input: ['a'],
      encoding_format: 'float',
    });
    expect(f.data[0]?.embedding).toEqual([0.25, -0.5, 1]);
    expect(proxy.nodes[0]!.tasks[0]!.body.intent).toBe('urn:iicp:intent:llm:embedding:v1');
    expect(proxy.nodes[0]!.tasks[0]!.body.payload).not.toHaveProperty('encoding_format');
  });

  it('models: what discovery says the mesh serves', async () => {
    proxy = await startProxy([llmNode()]);
    const page = await openai(proxy).models.list();
    expect(page.data.map((m) => m.id)).toEqual(['scripted-model']);
    const intents = new Set(proxy.dir.discovers.map((q) => q.get('intent')));
    expect(intents).toEqual(
      new Set([
        'urn:iicp:intent:llm:chat:v1',
        'urn:iicp:intent:llm:completion:v1',
        'urn:iicp:intent:llm:embedding:v1',
      ]),
    );
  });

  it('errors keep the IICP code in OpenAI shape: no node → 503 IICP-E033 (PROXY-ERR-01)', async () => {
    proxy = await startProxy([]);
    const err = await openai(proxy)
      .chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    const e = err as InstanceType<typeof OpenAI.APIError>;
    expect(e.status).toBe(503);
    expect(e.code).toBe('IICP-E033');
    expect(e.headers?.get('x-iicp-error-code')).toBe('IICP-E033');
  });

  it('bad input → 400 invalid_request_error naming the field', async () => {
    proxy = await startProxy([llmNode()]);
    const err = await openai(proxy)
      .chat.completions.create({ model: 'm', messages: [] })
      .catch((e: unknown) => e);
    const e = err as InstanceType<typeof OpenAI.APIError>;
    expect(e).toBeInstanceOf(OpenAI.BadRequestError);
    expect(e.code).toBe('validation_error');
    expect(e.type).toBe('invalid_request_error');
    expect(e.param).toBe('messages');
    expect(proxy.nodes[0]!.tasks).toHaveLength(0);
  });
});
