/* eslint-disable @typescript-eslint/no-explicit-any -- arbitrary inputs on purpose */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  IicpLocalError,
  IicpProtocolError,
  SDK_TIMEOUT_MS_MAX,
  createClient,
  isIicpError,
  readSse,
} from '../src/index.ts';
import { entry, startDirectory, startNode, success } from './support/mesh.ts';
import type { ScriptedDirectory, ScriptedNode } from './support/mesh.ts';

/** A fetch that must never be called: bad input is refused before anything is sent. */
function noFetch() {
  const calls: string[] = [];
  const f = (async (input: any) => {
    calls.push(String(input));
    return new Response('{"nodes":[]}', {
      status: 200,
      headers: { 'content-type': 'application/json' },
    });
  }) as typeof fetch;
  return { calls, f };
}

async function outcome(p: () => Promise<unknown>): Promise<unknown> {
  try {
    await p();
    return undefined;
  } catch (err) {
    return err;
  }
}

describe('construction (SDK-04, SDK-05)', () => {
  it('rejects timeout_ms > 120000 with invalid_config, accepts the cap itself', () => {
    expect(() => createClient({ directoryUrl: 'http://127.0.0.1:1', timeoutMs: 120_001 })).toThrow(
      expect.objectContaining({ code: 'invalid_config' }),
    );
    const err = (() => {
      try {
        createClient({ directoryUrl: 'http://127.0.0.1:1', timeoutMs: 120_001 });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(IicpLocalError);
    expect(() =>
      createClient({ directoryUrl: 'http://127.0.0.1:1', timeoutMs: SDK_TIMEOUT_MS_MAX }),
    ).not.toThrow();
  });

  it('offers no way to turn TLS verification off', () => {
    for (const o of [{ tlsVerify: false }, { tls_verify: false }]) {
      expect(() => createClient({ directoryUrl: 'https://d.example', ...(o as object) })).toThrow(
        expect.objectContaining({ code: 'invalid_config' }),
      );
    }
  });

  it('any timeoutMs is either accepted (integer in [100, 120000]) or invalid_config, never a crash', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.double(), fc.integer(), fc.string(), fc.constant(null), fc.boolean()),
        (t) => {
          let thrown: unknown;
          try {
            createClient({ directoryUrl: 'http://127.0.0.1:1', timeoutMs: t as any });
          } catch (err) {
            thrown = err;
          }
          const valid = typeof t === 'number' && Number.isInteger(t) && t >= 100 && t <= 120_000;
          if (valid) expect(thrown).toBeUndefined();
          else {
            expect(thrown).toBeInstanceOf(IicpLocalError);
            expect((thrown as IicpLocalError).code).toBe('invalid_config');
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('any options value fails with invalid_config or succeeds', () => {
    fc.assert(
      fc.property(fc.anything(), fc.anything(), (url, extra) => {
        try {
          createClient({
            directoryUrl: url as any,
            ...(typeof extra === 'object' ? (extra as object) : {}),
          });
        } catch (err) {
          expect(err).toBeInstanceOf(IicpLocalError);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('calls with bad input (SDK-03, SDK-ERR-01)', () => {
  it('a malformed intent is refused with validation_error before anything is sent', async () => {
    const { calls, f } = noFetch();
    const client = createClient({ directoryUrl: 'http://127.0.0.1:1', fetch: f });
    for (const bad of [
      '',
      'llm:chat:v1',
      'urn:iicp:intent:llm:chat',
      'urn:iicp:intent:llm:chat:v1+attested',
      'urn:iicp:intent:LLM:chat:v1',
    ]) {
      const err: any = await outcome(() => client.call(bad, {}));
      expect(err).toBeInstanceOf(IicpProtocolError);
      expect(err.code).toBe('validation_error');
    }
    expect(calls).toEqual([]);
  });

  it('arbitrary intents, payloads and constraints give typed errors, never crashes or sends', async () => {
    const { calls, f } = noFetch();
    const client = createClient({ directoryUrl: 'http://127.0.0.1:1', fetch: f });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string(), fc.anything()),
        fc.anything(),
        fc.oneof(
          fc.record({ timeout_ms: fc.oneof(fc.integer(), fc.double(), fc.string()) }),
          fc.anything(),
        ),
        async (intent, payload, constraints) => {
          const err = await outcome(() =>
            client.call(intent as any, payload as any, constraints as any),
          );
          // With the stub's empty node list a valid call ends in IICP-E033; anything else
          // must be a typed refusal.
          expect(err === undefined || isIicpError(err)).toBe(true);
          if (isIicpError(err)) expect(typeof err.code).toBe('string');
        },
      ),
      { numRuns: 300 },
    );
    for (const c of calls) expect(c).toMatch(/\/v1\/discover\?/);
  });

  it('timeout_ms above the SDK cap on a call is invalid_config', async () => {
    const { calls, f } = noFetch();
    const client = createClient({ directoryUrl: 'http://127.0.0.1:1', fetch: f });
    const err: any = await outcome(() =>
      client.call('urn:iicp:intent:x.t:a:v1', {}, { timeout_ms: 120_001 }),
    );
    expect(err.code).toBe('invalid_config');
    const err2: any = await outcome(() =>
      client.call('urn:iicp:intent:llm:chat:v1', { messages: [] }),
    );
    expect(err2.code).toBe('validation_error');
    expect(calls).toEqual([]);
  });
});

describe('error model (SDK-ERR-02)', () => {
  it('IICP-E004, E005 and E008 are retryable', () => {
    for (const code of ['IICP-E004', 'IICP-E005', 'IICP-E008']) {
      expect(new IicpProtocolError(code, 'x').retryable).toBe(true);
    }
    expect(new IicpProtocolError('validation_error', 'x').retryable).toBe(false);
  });
});

describe('typed helpers (SDK-02)', () => {
  let dir: ScriptedDirectory;
  let node: ScriptedNode;
  beforeAll(async () => {
    node = await startNode([], (task, res) => {
      const intent = task.body.intent as string;
      const result = intent.endsWith('chat:v1')
        ? {
            choices: [
              { index: 0, message: { role: 'assistant', content: 'pong' }, finish_reason: 'stop' },
            ],
          }
        : intent.endsWith('completion:v1')
          ? { choices: [{ index: 0, text: 'done' }] }
          : { data: [{ embedding: [0.1, 0.2] }, { embedding: [0.3, 0.4] }] };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(success(task, result)));
    });
    dir = await startDirectory([], { nodes: () => [entry(node, 0.9)] });
  });
  afterAll(async () => {
    await dir.close();
    await node.close();
  });

  it('chat() answers in the OpenAI Chat Completions shape', async () => {
    const client = createClient({ directoryUrl: dir.url, allowPlaintext: true });
    const r = await client.chat([{ role: 'user', content: 'ping' }], {
      model: 'llama',
      timeout_ms: 5000,
    });
    expect(r.object).toBe('chat.completion');
    expect(r.choices[0]!.message.content).toBe('pong');
    expect(r.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.model).toBe('scripted-model');
    const task = node.requests.at(-1)!.body;
    expect(task.intent).toBe('urn:iicp:intent:llm:chat:v1');
    expect(task.payload.messages).toEqual([{ role: 'user', content: 'ping' }]);
    expect(task.constraints.timeout_ms).toBe(5000);
    expect(new URL(dir.discovers.at(-1)!.url, 'http://x').searchParams.get('model')).toBe('llama');
  });

  it('complete() and embed() map onto their intents', async () => {
    const client = createClient({ directoryUrl: dir.url, allowPlaintext: true });
    const c = await client.complete('once upon');
    expect(c.choices[0]!.text).toBe('done');
    expect(node.requests.at(-1)!.body.payload).toEqual({ prompt: 'once upon' });
    const e = await client.embed(['a', 'b']);
    expect(e.data.map((d) => d.index)).toEqual([0, 1]);
    expect(e.data[1]!.embedding).toEqual([0.3, 0.4]);
  });

  it('a result that breaks the intent output contract is not passed off as success', async () => {
    const bad = await startNode([], (task, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(success(task, { nope: true })));
    });
    const d2 = await startDirectory([], { nodes: () => [entry(bad, 0.9)] });
    try {
      const client = createClient({
        directoryUrl: d2.url,
        sleep: async () => undefined,
        allowPlaintext: true,
      });
      const err: any = await outcome(() => client.chat([{ role: 'user', content: 'x' }]));
      expect(err).toBeInstanceOf(IicpProtocolError);
      expect(err.code).toBe('no_available_node');
    } finally {
      await d2.close();
      await bad.close();
    }
  });
});

describe('readSse', () => {
  const events = [
    { event: 'partial', data: '{"a":1}' },
    { event: 'message', data: 'line1\nline2' },
    { event: 'completed', data: 'ünïcødé ✓' },
  ];
  const wire =
    ': comment\r\n' +
    'event: partial\r\ndata: {"a":1}\r\n\r\n' +
    'data: line1\ndata:line2\n\n' +
    'event: completed\rdata: ünïcødé ✓\r\r';

  it('gives the same messages however the bytes are split', async () => {
    const bytes = new TextEncoder().encode(wire);
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 12 }),
        async (cuts) => {
          const points = [0, ...cuts.sort((a, b) => a - b), bytes.length];
          const body = new ReadableStream<Uint8Array>({
            start(ctl) {
              for (let i = 0; i + 1 < points.length; i++)
                ctl.enqueue(bytes.slice(points[i], points[i + 1]));
              ctl.close();
            },
          });
          const got: { event: string; data: string }[] = [];
          for await (const m of readSse(body)) got.push({ event: m.event, data: m.data });
          expect(got).toEqual(events);
        },
      ),
      { numRuns: 200 },
    );
  });
});
