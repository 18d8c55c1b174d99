import { Agent, request as httpRequest, type ClientRequest } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { llmNode } from './support/mesh.ts';
import { startProxy, type TestProxy } from './support/proxy.ts';

let proxy: TestProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }] });

function post(url: string, agent: Agent): { req: ClientRequest; done: Promise<number> } {
  const req = httpRequest(`${url}/v1/chat/completions`, {
    method: 'POST',
    agent,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
  });
  const done = new Promise<number>((resolve, reject) => {
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
  req.end(body);
  return { req, done };
}

describe('a client that goes away (one signal per client connection)', () => {
  it('answers every request of a kept-alive connection, then cancels the node call of the one left unanswered', async () => {
    const answer = llmNode({ parts: ['ok'] });
    let calls = 0;
    // The third CALL is held: the node never answers it.
    proxy = await startProxy([
      (task, res) => {
        if (task.url === '/v1/task') calls++;
        if (task.url !== '/v1/task' || calls <= 2) return answer(task, res);
      },
    ]);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect(await post(proxy.url, agent).done).toBe(200);
      const second = post(proxy.url, agent);
      expect(await second.done).toBe(200);
      expect(second.req.reusedSocket).toBe(true);
      const held = post(proxy.url, agent);
      held.done.catch(() => undefined);
      await vi.waitFor(() => expect(calls).toBe(3), { timeout: 10_000 });
      expect(held.req.reusedSocket).toBe(true);
      expect(proxy.nodes[0]!.aborts).toBe(0);
      held.req.destroy();
      await vi.waitFor(() => expect(proxy!.nodes[0]!.aborts).toBe(1), { timeout: 10_000 });
    } finally {
      agent.destroy();
    }
  });
});
