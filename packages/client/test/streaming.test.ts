/* eslint-disable @typescript-eslint/no-explicit-any -- recorded JSON bodies are inspected freely */
import { afterEach, describe, expect, it } from 'vitest';
import { IicpProtocolError, SERVICE_LIFECYCLE_PROFILE, createClient } from '../src/index.ts';
import type { StreamDelta } from '../src/index.ts';
import { entry, fail, fakeTime, ok, sseWriter, startDirectory, startNode } from './support/mesh.ts';
import type { NodeHandler, RecordedRequest, ScriptedNode } from './support/mesh.ts';

const INTENT = 'urn:iicp:intent:llm:chat:v1';
const MESSAGES = [{ role: 'user' as const, content: 'hi' }];
let servers: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function mesh(handlers: NodeHandler[]) {
  const nodes: ScriptedNode[] = [];
  for (const h of handlers) nodes.push(await startNode([], h));
  const dir = await startDirectory([], {
    nodes: () => nodes.map((n, i) => entry(n, 0.9 - i * 0.1)),
  });
  servers.push(dir, ...nodes);
  const time = fakeTime();
  const client = createClient({
    directoryUrl: dir.url,
    nodeToken: 'operator-token-1234',
    now: time.now,
    sleep: time.sleep,
    // Scripted nodes advertise no IICP-CX key (test/cx.test.ts covers encryption).
    allowPlaintext: true,
  });
  return { nodes, client, time };
}

function chunk(content: string) {
  return { choices: [{ index: 0, delta: { content } }] };
}

/** A node that streams `parts` and waits for `gate` before the second one. */
function gatedStream(
  parts: string[],
  gate: Promise<void>,
  sent: { partials: number; done: boolean } = { partials: 0, done: false },
): NodeHandler {
  return async (task: RecordedRequest, res) => {
    const send = sseWriter(res);
    const id = task.body.task_id;
    let seq = 0;
    send({ task_id: id, sequence: seq++, event: 'accepted', is_final: false });
    for (let i = 0; i < parts.length; i++) {
      if (i === 1) await gate;
      send({
        task_id: id,
        sequence: seq++,
        event: 'partial',
        is_final: false,
        result: chunk(parts[i]!),
      });
      sent.partials++;
    }
    sent.done = true;
    send({
      task_id: id,
      sequence: seq++,
      event: 'completed',
      is_final: true,
      result: { finish_reason: 'stop' },
      metrics: { latency_ms: 1, tokens_used: 7 },
      model_used: 'm1',
    });
    res.end();
  };
}

describe('stream (iicp-service-lifecycle-profile.md)', () => {
  it('yields the first delta before the node has sent its last one', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const sent = { partials: 0, done: false };
    const { nodes, client } = await mesh([gatedStream(['hel', 'lo', '!'], gate, sent)]);
    const seen: StreamDelta[] = [];
    let sentAtFirstDelta: { partials: number; done: boolean } | undefined;
    for await (const d of client.chatStream(MESSAGES)) {
      if (seen.length === 0) {
        // The node is parked at the gate until this delta has arrived (a buffering client
        // would never get here and the test would time out).
        sentAtFirstDelta = { ...sent };
        release();
      }
      seen.push(d);
    }
    expect(sentAtFirstDelta).toEqual({ partials: 1, done: false });
    expect(seen.map((d) => d.text ?? '').join('')).toBe('hello!');
    expect(seen.at(-1)!.event).toBe('completed');
    expect(seen.at(-1)!.tokens_used).toBe(7);
    expect(seen[0]!.node_id).toBe(nodes[0]!.id);
    const req = nodes[0]!.requests[0]!;
    expect(req.headers.accept).toContain('text/event-stream');
    expect(req.body.constraints.required_profiles).toEqual([SERVICE_LIFECYCLE_PROFILE]);
  });

  it('discards stale or duplicate sequences and events of another task', async () => {
    const { client } = await mesh([
      (task, res) => {
        const send = sseWriter(res);
        const id = task.body.task_id;
        send({ task_id: id, sequence: 0, event: 'accepted', is_final: false });
        send({ task_id: id, sequence: 1, event: 'partial', is_final: false, result: 'a' });
        send({ task_id: id, sequence: 1, event: 'partial', is_final: false, result: 'dup' });
        send({ task_id: 'other', sequence: 2, event: 'partial', is_final: false, result: 'x' });
        res.write(': keep-alive\n\ndata: not json\n\n');
        send({ task_id: id, sequence: 2, event: 'completed', is_final: true, result: 'b' });
        res.end();
      },
    ]);
    const texts: string[] = [];
    for await (const d of client.stream(INTENT, { messages: MESSAGES })) texts.push(d.text!);
    expect(texts).toEqual(['a', 'b']);
  });

  it('a failed terminal event surfaces as a typed error after the partial output', async () => {
    const { client } = await mesh([
      (task, res) => {
        const send = sseWriter(res);
        const id = task.body.task_id;
        send({ task_id: id, sequence: 0, event: 'partial', is_final: false, result: 'inc' });
        send({
          task_id: id,
          sequence: 1,
          event: 'failed',
          is_final: true,
          error: { code: 'backend_error', message: 'generation failed' },
        });
        res.end();
      },
    ]);
    const texts: string[] = [];
    let error: unknown;
    try {
      for await (const d of client.stream(INTENT, { messages: MESSAGES })) texts.push(d.text!);
    } catch (err) {
      error = err;
    }
    expect(texts).toEqual(['inc']);
    expect(error).toBeInstanceOf(IicpProtocolError);
    expect((error as IicpProtocolError).code).toBe('backend_error');
  });

  it('a stream cut before its terminal event is a failure, not a success', async () => {
    const { client } = await mesh([
      (task, res) => {
        const send = sseWriter(res);
        send({
          task_id: task.body.task_id,
          sequence: 0,
          event: 'partial',
          is_final: false,
          result: 'x',
        });
        res.destroy();
      },
    ]);
    let error: any;
    try {
      for await (const _ of client.stream(INTENT, { messages: MESSAGES })) void _;
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(IicpProtocolError);
  });

  it('leaving the loop early closes the connection to the node', async () => {
    const never = new Promise<void>(() => undefined);
    const { nodes, client } = await mesh([gatedStream(['a', 'b'], never)]);
    const closed = nodes[0]!.nextAbort();
    for await (const d of client.chatStream(MESSAGES)) {
      expect(d.text).toBe('a');
      break;
    }
    await closed;
  });

  it('fails over before the stream starts: capacity_exceeded switches at once', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    release();
    const { nodes, client, time } = await mesh([
      fail(429, 'capacity_exceeded', 'full', { qos_class: 'interactive', retry_after_ms: 100 }),
      gatedStream(['x'], gate),
    ]);
    const texts: string[] = [];
    for await (const d of client.chatStream(MESSAGES)) texts.push(d.text ?? '');
    expect(texts.join('')).toBe('x');
    expect(time.sleeps).toEqual([]);
    expect(nodes[1]!.requests[0]!.body.task_id).toBe(nodes[0]!.requests[0]!.body.task_id);
  });

  it('a node answering with one buffered RESPONSE yields one completed delta', async () => {
    const { client } = await mesh([
      ok({ choices: [{ index: 0, message: { role: 'assistant', content: 'whole' } }] }),
    ]);
    const all: StreamDelta[] = [];
    for await (const d of client.chatStream(MESSAGES)) all.push(d);
    expect(all).toHaveLength(1);
    expect(all[0]!.event).toBe('completed');
    expect(all[0]!.text).toBe('whole');
  });
});
