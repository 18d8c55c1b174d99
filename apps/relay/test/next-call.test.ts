/**
 * One exchange per call (issue 11): a whole result posted with `?next_wait_ms=` is
 * answered with the worker's next call (200) or, when none comes in time, 204; and a new
 * call goes to the most recently parked pull.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ScriptedWorker,
  decode,
  postJson,
  startRelay,
  until,
  type Harness,
  type PulledCall,
} from './support/harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const task = (n: number) => ({
  task_id: `6f1c8e0a-2b7d-4c1e-9a3f-0d5e6b7c8d${n.toString(16).padStart(2, '0')}`,
  intent: 'urn:iicp:intent:llm:chat:v1',
  payload: { messages: [{ role: 'user', content: `call ${n}` }] },
  constraints: { timeout_ms: 5000 },
});

async function resultThenNext(
  w: ScriptedWorker,
  requestId: string,
  body: string,
  waitMs: number | string,
) {
  return postJson(`${w.relayUrl}/v1/relay/result?next_wait_ms=${waitMs}`, {
    session_id: w.sessionId,
    request_id: requestId,
    status: 200,
    headers: { 'content-type': 'application/json' },
    body_b64: Buffer.from(body).toString('base64'),
  });
}

describe('relay: the next call in the reply to a result', () => {
  it('answers the consumer, then hands the worker its next call in the same reply', async () => {
    h = await startRelay();
    const id = randomUUID();
    const w = new ScriptedWorker(h.url, id);
    await w.bind(h.ticket(id));
    const first = postJson(`${h.url}/v1/relay-for/${id}/v1/task`, task(1));
    const call1 = (await w.pull())!;
    expect(JSON.parse(decode(call1.body_b64))).toEqual(task(1));

    const posting = resultThenNext(w, call1.request_id, '{"n":1}', 5_000);
    const res1 = await first;
    expect(res1.status).toBe(200);
    expect(res1.text).toBe('{"n":1}');

    const second = postJson(`${h.url}/v1/relay-for/${id}/v1/task`, task(2));
    const posted = await posting;
    expect(posted.status).toBe(200);
    const call2 = posted.json as PulledCall;
    expect(JSON.parse(decode(call2.body_b64))).toEqual(task(2));

    expect((await resultThenNext(w, call2.request_id, '{"n":2}', 0)).status).toBe(204);
    expect((await second).text).toBe('{"n":2}');
  });

  it('answers 204 when no call comes within the wait, and 204 at once without the parameter', async () => {
    h = await startRelay();
    const id = randomUUID();
    const w = new ScriptedWorker(h.url, id);
    await w.bind(h.ticket(id));
    const consumer = postJson(`${h.url}/v1/relay-for/${id}/v1/task`, task(1));
    const call = (await w.pull())!;
    const posted = await resultThenNext(w, call.request_id, '{}', 50);
    expect(posted.status).toBe(204);
    expect((await consumer).status).toBe(200);
    // The session is still usable the usual way.
    const again = postJson(`${h.url}/v1/relay-for/${id}/v1/task`, task(2));
    const call2 = (await w.pull())!;
    expect((await w.result(call2.request_id, 200, '{}')).status).toBe(204);
    expect((await again).status).toBe(200);
  });

  it('refuses a malformed wait, and still refuses a result for an unknown call', async () => {
    h = await startRelay();
    const id = randomUUID();
    const w = new ScriptedWorker(h.url, id);
    await w.bind(h.ticket(id));
    expect((await resultThenNext(w, '0'.repeat(32), '{}', 'soon')).status).toBeGreaterThanOrEqual(
      400,
    );
    expect((await resultThenNext(w, '0'.repeat(32), '{}', 1_000)).status).toBe(404);
  });

  it('gives a new call to the most recently parked pull', async () => {
    h = await startRelay();
    const id = randomUUID();
    const w = new ScriptedWorker(h.url, id);
    await w.bind(h.ticket(id));
    const older = new AbortController();
    const olderPull = w.pull(5_000, older.signal).catch(() => undefined);
    await until(() => h!.app.relay.hub.waitingPulls === 1);
    const newerPull = w.pull(5_000);
    await until(() => h!.app.relay.hub.waitingPulls === 2);
    const consumer = postJson(`${h.url}/v1/relay-for/${id}/v1/task`, task(3));
    const got = (await newerPull)!;
    expect(JSON.parse(decode(got.body_b64))).toEqual(task(3));
    expect(h.app.relay.hub.waitingPulls).toBe(1);
    await w.result(got.request_id, 200, '{}');
    expect((await consumer).status).toBe(200);
    older.abort();
    await olderPull;
  });
});
