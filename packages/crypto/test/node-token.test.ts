import { describe, expect, it } from 'vitest';
import {
  NodeTokenCache,
  constantTimeEqual,
  generateNodeToken,
  hashNodeToken,
  nodeTokenFingerprint,
  verifyNodeToken,
  verifyNodeTokenHash,
} from '../src/index.ts';

const COST = 4; // bcrypt's minimum: fast tests; production default is 10.

describe('node tokens', () => {
  it('are 32 CSPRNG bytes as 64 lowercase hex, all distinct', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const t = generateNodeToken();
      expect(t).toMatch(/^[0-9a-f]{64}$/);
      seen.add(t);
    }
    expect(seen.size).toBe(200);
    expect(generateNodeToken(36)).toMatch(/^[0-9a-f]{72}$/);
    expect(() => generateNodeToken(16)).toThrow(RangeError);
  });

  it('bcrypt-hash with the given cost and verify', async () => {
    const token = generateNodeToken();
    const hash = await hashNodeToken(token, COST);
    expect(hash).toMatch(/^\$2[aby]\$04\$/);
    expect(hash).not.toContain(token);
    expect(await verifyNodeTokenHash(token, hash)).toBe(true);
    expect(await verifyNodeTokenHash(generateNodeToken(), hash)).toBe(false);
    expect(await verifyNodeTokenHash(token, 'not-a-bcrypt-hash')).toBe(false);
    expect(await verifyNodeTokenHash('', hash)).toBe(false);
  });

  it('default cost is 10', async () => {
    expect(await hashNodeToken('x'.repeat(64))).toMatch(/^\$2[aby]\$10\$/);
  });

  it('constantTimeEqual compares exactly', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
  });
});

describe('NodeTokenCache', () => {
  it('keys entries by SHA-256 of the token, never the token', () => {
    const t = generateNodeToken();
    expect(nodeTokenFingerprint(t)).toMatch(/^[0-9a-f]{64}$/);
    expect(nodeTokenFingerprint(t)).not.toBe(t);
  });

  it('skips bcrypt for a remembered token and answers only for the same node and hash', async () => {
    const token = generateNodeToken();
    const hash = await hashNodeToken(token, COST);
    const cache = new NodeTokenCache();
    expect(await verifyNodeToken(token, 'node-a', hash, cache)).toBe(true);
    expect(cache.size).toBe(1);
    // A hash that bcrypt would reject proves the answer came from the cache.
    expect(cache.has(token, 'node-a', hash)).toBe(true);
    expect(cache.has(token, 'node-b', hash)).toBe(false);
    expect(cache.has(token, 'node-a', `${hash}x`)).toBe(false);
  });

  it('never caches a failure', async () => {
    const hash = await hashNodeToken(generateNodeToken(), COST);
    const cache = new NodeTokenCache();
    expect(await verifyNodeToken(generateNodeToken(), 'n', hash, cache)).toBe(false);
    expect(cache.size).toBe(0);
  });

  it('invalidateNode forgets every token of that node only (rotation, deregistration)', () => {
    const cache = new NodeTokenCache();
    cache.remember('t1', 'a', 'h1');
    cache.remember('t2', 'a', 'h2');
    cache.remember('t3', 'b', 'h3');
    expect(cache.invalidateNode('a')).toBe(2);
    expect(cache.has('t1', 'a', 'h1')).toBe(false);
    expect(cache.has('t3', 'b', 'h3')).toBe(true);
  });

  it('expires entries after the TTL (injected clock)', () => {
    let now = 1000;
    const cache = new NodeTokenCache({ ttlSeconds: 60, clock: () => now });
    cache.remember('t', 'a', 'h');
    now = 1059;
    expect(cache.has('t', 'a', 'h')).toBe(true);
    now = 1060;
    expect(cache.has('t', 'a', 'h')).toBe(false);
    expect(cache.size).toBe(0);
  });

  it('is bounded, evicting the least recently used entry', () => {
    const cache = new NodeTokenCache({ maxEntries: 3 });
    cache.remember('t1', 'a', 'h');
    cache.remember('t2', 'b', 'h');
    cache.remember('t3', 'c', 'h');
    expect(cache.has('t1', 'a', 'h')).toBe(true); // t1 is now the most recent
    cache.remember('t4', 'd', 'h');
    expect(cache.size).toBe(3);
    expect(cache.has('t2', 'b', 'h')).toBe(false);
    expect(cache.has('t1', 'a', 'h')).toBe(true);
    expect(cache.has('t4', 'd', 'h')).toBe(true);
  });

  it('rejects nonsense limits', () => {
    expect(() => new NodeTokenCache({ maxEntries: 0 })).toThrow(RangeError);
    expect(() => new NodeTokenCache({ ttlSeconds: 0 })).toThrow(RangeError);
  });
});
