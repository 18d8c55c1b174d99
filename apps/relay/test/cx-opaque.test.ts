import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { generateCxKeyPair } from '@iicp/crypto';
import { openCxRequest, sealCxRequest, sealCxResponse } from '@iicp/crypto/cx';
import { afterEach, describe, expect, it } from 'vitest';
import { ScriptedWorker, startRelay, type Harness } from './support/harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const CANARY = 'canary-relay-cx-3b9f';

/** CX-03: a CX-Relay forwards the encrypted envelope unmodified and never reads it. */
describe('relay: IICP-CX bodies pass opaquely (CX-03)', () => {
  it('an iicp_conf task and its iicp_conf_resp answer cross the relay byte for byte', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    h = await startRelay({ logger: { level: 'trace', stream } });
    const id = randomUUID();
    const w = new ScriptedWorker(h.url, id);
    expect((await w.bind(h.ticket(id))).status).toBe(201);

    const node = generateCxKeyPair();
    const taskId = randomUUID();
    const intent = 'urn:iicp:intent:llm:chat:v1';
    const sealed = await sealCxRequest({
      recipientPublicKey: node.publicKey,
      recipientKeyId: node.keyId,
      taskId,
      intent,
      plaintext: JSON.stringify({ messages: [{ role: 'user', content: CANARY }] }),
    });
    // Deliberately unusual spacing and key order: a relay that re-serialised would change it.
    const sent =
      `{ "intent":"${intent}",  "task_id" : "${taskId}", "constraints":{"timeout_ms":5000},` +
      `"iicp_conf": ${JSON.stringify(sealed.envelope, null, 1)}, "cx_response_encryption":"required" }`;
    const consumer = fetch(`${h.url}/v1/relay-for/${id}/v1/task`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: sent,
    });
    const call = await w.pull();
    const received = Buffer.from(call!.body_b64, 'base64');
    expect(received.equals(Buffer.from(sent, 'utf8'))).toBe(true);

    // What the worker got still opens at the node: nothing was touched on the way.
    const body = JSON.parse(received.toString('utf8'));
    const opened = await openCxRequest({
      envelope: body.iicp_conf,
      recipientKeys: [node],
      taskId,
      intent,
    });
    expect(new TextDecoder().decode(opened.plaintext)).toContain(CANARY);

    const answer = JSON.stringify({
      task_id: taskId,
      status: 'encrypted',
      iicp_conf_resp: await sealCxResponse({
        sharedSecret: opened.sharedSecret,
        taskId,
        plaintext: JSON.stringify({ echo: CANARY }),
      }),
    });
    await w.result(call!.request_id, 200, answer, { 'content-type': 'application/json' });
    const res = await consumer;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(answer);

    // The relay saw ciphertext only: the prompt is nowhere in its logs or metrics.
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('')).not.toContain(CANARY);
    expect(lines.join('')).not.toContain(sealed.envelope.encrypted_body);
    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    expect(metrics).not.toContain(CANARY);
  });
});
