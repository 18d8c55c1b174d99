import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type * as FastBody from '../src/routes/fast-body.ts';
import { llmNode } from './support/mesh.ts';
import { startProxy, type TestProxy } from './support/proxy.ts';

const seen = vi.hoisted(() => ({ fast: 0, taken: 0 }));
vi.mock('../src/routes/fast-body.ts', async (importOriginal) => {
  const m = await importOriginal<typeof FastBody>();
  return {
    fastChatBody: (b: unknown) => {
      seen.fast++;
      const v = m.fastChatBody(b);
      if (v) seen.taken++;
      return v;
    },
  };
});

let proxy: TestProxy;
beforeAll(async () => {
  proxy = await startProxy([llmNode({ parts: ['pong'] })]);
});
afterAll(async () => {
  await proxy.close();
});

const post = (body: unknown) =>
  fetch(`${proxy.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('/v1/chat/completions body validation', () => {
  it('the usual body takes the fast read; the node gets the payload the schema path built', async () => {
    const res = await post({
      model: 'm',
      messages: [{ content: 'q', role: 'developer', name: 'n' }],
      stop: 'x',
      max_completion_tokens: 3,
      seed: 1,
    });
    expect(res.status).toBe(200);
    expect(seen.taken).toBe(1);
    const task = proxy.nodes[0]!.tasks.at(-1)!;
    expect(task.body.intent).toBe('urn:iicp:intent:llm:chat:v1');
  });

  it('a body the fast read leaves alone still gets the schema and its error', async () => {
    const before = seen.taken;
    const res = await post({
      model: 'm',
      messages: [{ role: 'user', content: 'q' }],
      temperature: 3,
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; param: string | null } };
    expect(body.error.code).toBe('validation_error');
    expect(body.error.param).toBe('temperature');
    expect(seen.taken).toBe(before);
    expect(seen.fast).toBeGreaterThan(before);
  });
});
