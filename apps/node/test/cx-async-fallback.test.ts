import { generateCxKeyPair } from '@iicp/crypto';
import { openCxResponse, sealCxRequest } from '@iicp/crypto/cx';
import type * as CxModule from '@iicp/crypto/cx';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { callBody, sharedHttp, startNode, type Harness } from './support/node-app.ts';

/**
 * Where Node's native crypto is missing, `openCxRequestSync` / `sealCxResponseSync`
 * answer `undefined` and the node takes the promise path of src/cx/task.ts. Simulated
 * here; the answers and the CX counters must be those of the synchronous path
 * (cx.test.ts).
 */
const calls = vi.hoisted(() => ({ open: 0, seal: 0 }));
vi.mock('@iicp/crypto/cx', async (importOriginal) => {
  const real = await importOriginal<typeof CxModule>();
  return {
    ...real,
    openCxRequestSync: () => {
      calls.open += 1;
      return undefined;
    },
    sealCxResponseSync: () => {
      calls.seal += 1;
      return undefined;
    },
  };
});

afterAll(() => sharedHttp.close());

const node = generateCxKeyPair();
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function encrypted(plaintext: string, over: Record<string, unknown> = {}) {
  const body = callBody(over);
  const sealed = await sealCxRequest({
    recipientPublicKey: node.publicKey,
    recipientKeyId: node.keyId,
    taskId: body.task_id as string,
    intent: body.intent as string,
    plaintext,
  });
  const { payload: _p, ...rest } = body;
  const out: Record<string, unknown> = { ...rest, iicp_conf: sealed.envelope };
  return { body: out, shared: sealed.sharedSecret };
}

describe('CX on the promise path', () => {
  it('opens, seals and refuses as the synchronous path does, counting each failure once', async () => {
    h = await startNode({ app: { cx: { keys: () => [node] } } });
    const post = (body: unknown) =>
      h!.app.inject({ method: 'POST', url: '/v1/task', payload: body as object });
    const ok = await encrypted(JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }), {
      cx_response_encryption: 'required',
    });
    const res = await post(ok.body);
    expect(res.statusCode).toBe(200);
    const r = res.json();
    expect(r.status).toBe('encrypted');
    const pt = await openCxResponse({
      sharedSecret: ok.shared,
      taskId: ok.body.task_id as string,
      envelope: r.iicp_conf_resp,
    });
    expect(JSON.parse(new TextDecoder().decode(pt))).toMatchObject({
      choices: [{ message: { content: 'Hello!' } }],
    });
    expect(h.backend.requests.at(-1)!.body!.messages).toEqual([{ role: 'user', content: 'hi' }]);
    expect(calls).toEqual({ open: 1, seal: 1 });

    const notObject = await encrypted('[1]');
    const bad = await post(notObject.body);
    expect(bad.statusCode).toBe(422);
    expect(bad.json().error.code).toBe('IICP-E050');
    const wrongIntent = await encrypted('{}');
    const bad2 = await post({ ...wrongIntent.body, intent: 'urn:iicp:intent:llm:completion:v1' });
    expect(bad2.statusCode).toBe(422);
    expect(calls.open).toBe(3);

    const text = (await h.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toContain('iicp_node_cx_tasks_total{mode="encrypted_both"} 1');
    expect(text).toMatch(/^iicp_node_cx_failures_total 2$/m);
    expect(h.backend.requests).toHaveLength(1);
  });
});
