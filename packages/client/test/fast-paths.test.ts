import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCxAdvertisement } from '@iicp/crypto/cx';
import { createClient, newTraceId, traceparentFor } from '../src/index.ts';
import { usableCxKey } from '../src/cx.ts';
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

describe('intents admitted once per client', () => {
  it('an admitted intent is called again; refused and malformed ones are refused every time', async () => {
    const client = createClient({ directoryUrl: dir.url, allowPlaintext: true });
    for (let i = 0; i < 3; i++) {
      await expect(
        client.call('urn:iicp:intent:text:echo:v1', { text: 'a' }),
      ).resolves.toMatchObject({ status: 'success' });
      await expect(client.call('urn:iicp:intent:social-scoring:rank:v1', {})).rejects.toMatchObject(
        { code: 'IICP-POLICY-001' },
      );
      await expect(client.call('not an intent', {})).rejects.toMatchObject({
        code: 'validation_error',
      });
      await expect(client.call(42 as never, {})).rejects.toMatchObject({
        code: 'validation_error',
      });
    }
    // The high-risk policy is the client's own: another client allowing it gets through.
    const strict = createClient({ directoryUrl: dir.url, allowPlaintext: true });
    const lax = createClient({ directoryUrl: dir.url, allowPlaintext: true, allowHighRisk: true });
    const highRisk = 'urn:iicp:intent:employment:screen:v1';
    for (let i = 0; i < 2; i++) {
      await expect(strict.discover(highRisk)).rejects.toMatchObject({ code: 'IICP-POLICY-001' });
      await expect(lax.call(highRisk, {})).resolves.toMatchObject({ status: 'success' });
      await expect(strict.call(highRisk, {})).rejects.toMatchObject({ code: 'IICP-POLICY-001' });
    }
  });
});

describe('CX advertisements read once per object', () => {
  const base = Date.UTC(2026, 0, 1);
  /** The first arbitrary five times as often as the second. */
  const mostly = <A, B>(a: fc.Arbitrary<A>, b: fc.Arbitrary<B>) =>
    fc.oneof({ arbitrary: a, weight: 5 }, { arbitrary: b, weight: 1 });
  const key32 = fc
    .uint8Array({ minLength: 32, maxLength: 32 })
    .map((b) => Buffer.from(b).toString('base64url'));
  const notAfter = fc.oneof(
    fc.constant(undefined),
    fc.constant(null),
    fc.integer({ min: -5_000, max: 5_000 }).map((d) => new Date(base + d).toISOString()),
    fc.constantFrom('not a date', '', '2026-13-40T00:00:00Z'),
    fc.integer(),
  );
  const adv = mostly(
    fc.record(
      {
        algorithm: mostly(fc.constant('X25519'), fc.constant('Ed25519')),
        encoding: mostly(fc.constant('base64url'), fc.constant('hex')),
        key: mostly(key32, fc.string()),
        key_id: mostly(fc.constant('cx-0123456789abcdef'), fc.string({ maxLength: 3 })),
        not_after: notAfter,
        features: fc.oneof(
          fc.constant(undefined),
          fc.subarray(['response_encryption_v1', 'x_other']),
          fc.string(),
        ),
      },
      { requiredKeys: ['algorithm', 'encoding', 'key', 'key_id'] },
    ),
    fc.constantFrom(null, undefined, 'X25519', 7, [] as unknown[]),
  );

  it('usableCxKey answers what readCxAdvertisement answers, at every instant', () => {
    fc.assert(
      fc.property(
        adv,
        fc.array(fc.integer({ min: -6_000, max: 6_000 }), { minLength: 1, maxLength: 4 }),
        (a, offsets) => {
          const node = { cx_public_key: a };
          for (const d of offsets) {
            expect(usableCxKey(node, base + d)).toEqual(readCxAdvertisement(a, base + d));
          }
        },
      ),
      { numRuns: 2_000, seed: 20261207 },
    );
  });

  it('the sample reaches both outcomes, expired keys included', () => {
    let usable = 0;
    let expired = 0;
    fc.assert(
      fc.property(adv, (a) => {
        if (readCxAdvertisement(a, -Infinity) === undefined) return;
        if (readCxAdvertisement(a, base) !== undefined) usable++;
        else expired++;
      }),
      { numRuns: 2_000, seed: 20261207 },
    );
    expect(usable).toBeGreaterThan(20);
    expect(expired).toBeGreaterThan(20);
  });
});
