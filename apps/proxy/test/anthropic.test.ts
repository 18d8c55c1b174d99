/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers are inspected freely */
import { afterEach, describe, expect, it } from 'vitest';
import { deferred, llmNode } from './support/mesh.ts';
import { startProxy, type TestProxy } from './support/proxy.ts';

let proxy: TestProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

const headers = {
  'content-type': 'application/json',
  'anthropic-version': '2023-06-01',
  'x-api-key': 'unused',
};

/** Parses SSE events as they arrive; `onEvent` runs before the next chunk is read. */
async function readEvents(
  res: Response,
  onEvent: (name: string, data: Record<string, unknown>) => void,
) {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const name = /^event: (.*)$/m.exec(block)?.[1] ?? '';
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (data) onEvent(name, JSON.parse(data));
    }
  }
}

describe('Anthropic-compatible /v1/messages', () => {
  it('answers a Messages request in Anthropic shape', async () => {
    proxy = await startProxy([llmNode({ parts: ['Bonjour'] })]);
    const res = await fetch(`${proxy.url}/v1/messages`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        model: 'scripted-model',
        max_tokens: 64,
        system: 'You are terse.',
        messages: [{ role: 'user', content: [{ type: 'text', text: 'Say hi' }] }],
        stop_sequences: ['END'],
      }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-iicp-generated-by-ai')).toBe('true');
    expect(res.headers.get('x-iicp-node-id')).toBe(proxy.nodes[0]!.id);
    const body = (await res.json()) as any;
    expect(body).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: 'scripted-model',
      content: [{ type: 'text', text: 'Bonjour' }],
      stop_reason: 'end_turn',
      usage: { input_tokens: 3, output_tokens: 4 },
    });
    expect(body.id).toMatch(/^msg_[0-9a-f]{32}$/);
    const payload = proxy.nodes[0]!.tasks[0]!.body.payload;
    expect(payload.messages).toEqual([
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Say hi' },
    ]);
    expect(payload).toMatchObject({ max_tokens: 64, stop: ['END'] });
  });

  it('streams the Messages event sequence, incrementally', async () => {
    const gate = deferred();
    const sent: number[] = [];
    proxy = await startProxy([
      llmNode({
        parts: ['x', 'y', 'z'],
        gate: (i) => (i === 2 ? gate.promise : Promise.resolve()),
        sent: (i) => sent.push(i),
      }),
    ]);
    const res = await fetch(`${proxy.url}/v1/messages`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        model: 'scripted-model',
        max_tokens: 10,
        stream: true,
        messages: [{ role: 'user', content: 'go' }],
      }),
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const names: string[] = [];
    const texts: string[] = [];
    let sentAtFirstDelta: number[] | undefined;
    let stop: unknown;
    await readEvents(res, (name, data) => {
      names.push(name);
      expect(data.type).toBe(name);
      if (name === 'content_block_delta') {
        texts.push((data.delta as { text: string }).text);
        if (sentAtFirstDelta === undefined) {
          sentAtFirstDelta = [...sent];
          gate.release();
        }
      }
      if (name === 'message_delta') stop = (data.delta as { stop_reason: string }).stop_reason;
    });
    expect(sentAtFirstDelta).not.toContain(2);
    expect(texts).toEqual(['x', 'y', 'z']);
    expect(stop).toBe('end_turn');
    expect(names).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
  });

  it('errors come as {"type":"error","error":{type,message}} with the IICP code', async () => {
    proxy = await startProxy([]);
    const none = await fetch(`${proxy.url}/v1/messages`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        model: 'm',
        max_tokens: 5,
        messages: [{ role: 'user', content: 'x' }],
      }),
    });
    expect(none.status).toBe(503);
    expect((await none.json()) as any).toMatchObject({
      type: 'error',
      error: { type: 'overloaded_error', iicp_code: 'IICP-E033' },
    });
    const bad = await fetch(`${proxy.url}/v1/messages`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(bad.status).toBe(400);
    expect((await bad.json()) as any).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error', iicp_code: 'validation_error' },
    });
    const image = await fetch(`${proxy.url}/v1/messages`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        model: 'm',
        max_tokens: 5,
        messages: [{ role: 'user', content: [{ type: 'image', source: {} }] }],
      }),
    });
    expect(image.status).toBe(400);
    expect(((await image.json()) as any).error.type).toBe('invalid_request_error');
  });
});
