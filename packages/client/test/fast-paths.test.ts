import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, newTraceId, traceparentFor } from '../src/index.ts';
import {
  entry,
  startDirectory,
  startNode,
  success,
  type ScriptedDirectory,
  type ScriptedNode,
} from './support/mesh.ts';

let node: ScriptedNode;
let dir: ScriptedDirectory;

beforeAll(async () => {
  node = await startNode([], (task, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(success(task, { text: 'pong' })));
  });
  dir = await startDirectory([], { nodes: () => [entry(node, 0.9)] });
});

afterAll(async () => {
  await dir.close();
  await node.close();
});

describe('default constraints, validated once per client', () => {
  it('send what a fresh validation sends, call after call, and never leak a caller change', async () => {
    const client = createClient({ directoryUrl: dir.url, allowPlaintext: true, qos: 'batch' });
    node.requests.length = 0;
    await client.call('urn:iicp:intent:text:echo:v1', { text: 'a' });
    await client.call('urn:iicp:intent:text:echo:v1', { text: 'b' }, {});
    await client.call('urn:iicp:intent:text:echo:v1', { text: 'c' }, { timeout_ms: 2_000 });
    await client.call('urn:iicp:intent:text:echo:v1', { text: 'd' });
    const sent = node.requests.map((r) => r.body.constraints);
    expect(sent).toEqual([
      { timeout_ms: 30_000, qos: 'batch' },
      { timeout_ms: 30_000, qos: 'batch' },
      { timeout_ms: 2_000, qos: 'batch' },
      { timeout_ms: 30_000, qos: 'batch' },
    ]);
    // A streamed call gets its own defaults (the lifecycle profile is required).
    for await (const _ of client.stream('urn:iicp:intent:text:echo:v1', { text: 'e' })) break;
    expect(node.requests.at(-1)!.body.constraints).toEqual({
      timeout_ms: 30_000,
      qos: 'batch',
      required_profiles: ['urn:iicp:profile:service-lifecycle:v1'],
    });
  });

  it('still refuses bad constraints', async () => {
    const client = createClient({ directoryUrl: dir.url, allowPlaintext: true });
    await expect(
      client.call('urn:iicp:intent:text:echo:v1', { text: 'a' }, { timeout_ms: 5 }),
    ).rejects.toMatchObject({ code: 'invalid_config' });
    await expect(
      client.call('urn:iicp:intent:text:echo:v1', { text: 'a' }, [] as never),
    ).rejects.toMatchObject({ code: 'validation_error' });
  });
});

describe('trace ids from pooled randomness', () => {
  it('are 32 lowercase hex, never all zero, and all different', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5_000; i++) {
      const id = newTraceId();
      expect(id).toMatch(/^[0-9a-f]{32}$/);
      expect(id).not.toBe('0'.repeat(32));
      seen.add(id);
    }
    expect(seen.size).toBe(5_000);
  });

  it('traceparent spans are fresh 16 hex per hop', () => {
    fc.assert(
      fc.property(fc.constant(null), () => {
        const id = newTraceId();
        const a = traceparentFor(id)!;
        const b = traceparentFor(id)!;
        expect(a).toMatch(new RegExp(`^00-${id}-[0-9a-f]{16}-01$`));
        expect(a).not.toBe(b);
      }),
      { numRuns: 200 },
    );
  });
});
