/**
 * Node tokens (digest-directory.md §0; iicp-core.md §7 TASK-1): the bearer secret a
 * directory hands a node once, at registration. The directory keeps only a bcrypt hash.
 * bcrypt on every 30 s heartbeat does not scale, so a verified token is remembered in
 * memory under the SHA-256 of the token (never the token, never persisted) and
 * forgotten on rotation, deregistration, TTL or eviction.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { hash as bcryptHash, verify as bcryptVerify } from '@node-rs/bcrypt';
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex, utf8 } from './encoding.ts';
import type { UnixClock } from './signed-token.ts';
import { systemClock } from './signed-token.ts';

/** "≥32 random bytes, hex" (digest-directory.md §0). */
export const NODE_TOKEN_BYTES = 32;
export const DEFAULT_BCRYPT_COST = 10;
/** bcrypt reads at most 72 bytes of input; longer secrets would be silently truncated. */
const BCRYPT_MAX_INPUT_BYTES = 72;

/** A fresh node token: `bytes` CSPRNG bytes (at least 32) as lowercase hex. */
export function generateNodeToken(bytes: number = NODE_TOKEN_BYTES): string {
  if (
    !Number.isSafeInteger(bytes) ||
    bytes < NODE_TOKEN_BYTES ||
    bytes * 2 > BCRYPT_MAX_INPUT_BYTES
  ) {
    throw new RangeError(`a node token has ${NODE_TOKEN_BYTES} to 36 random bytes`);
  }
  return randomBytes(bytes).toString('hex');
}

export async function hashNodeToken(
  token: string,
  cost: number = DEFAULT_BCRYPT_COST,
): Promise<string> {
  if (utf8(token).length > BCRYPT_MAX_INPUT_BYTES)
    throw new RangeError('token too long for bcrypt');
  return bcryptHash(token, cost);
}

/** bcrypt check; `false` (never a throw) for a malformed stored hash or oversized token. */
export async function verifyNodeTokenHash(token: string, storedHash: string): Promise<boolean> {
  if (typeof token !== 'string' || token.length === 0) return false;
  if (utf8(token).length > BCRYPT_MAX_INPUT_BYTES) return false;
  try {
    return await bcryptVerify(token, storedHash);
  } catch {
    return false;
  }
}

/**
 * Constant-time string equality. Both sides are hashed first, so `timingSafeEqual`
 * always compares 32 bytes and not even the length of the secret leaks.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  return timingSafeEqual(sha256(utf8(a)), sha256(utf8(b)));
}

/** SHA-256 of the token as hex: the only form a token takes inside the cache. */
export function nodeTokenFingerprint(token: string): string {
  return toHex(sha256(utf8(token)));
}

export interface NodeTokenCacheOptions {
  /** Most entries kept; the least recently used goes first. Default 100 000. */
  readonly maxEntries?: number;
  /** How long a verification is trusted, in seconds. Default 300. */
  readonly ttlSeconds?: number;
  readonly clock?: UnixClock;
}

interface CacheEntry {
  readonly nodeId: string;
  /** The stored bcrypt hash the token was checked against; a rotation changes it. */
  readonly storedHash: string;
  readonly expiresAt: number;
}

/**
 * In-memory cache of successful node-token verifications. An entry answers only for
 * the same node and the same stored hash, so a token rotated by another directory
 * instance (shared database) misses here as soon as the new hash is read.
 */
export class NodeTokenCache {
  readonly #entries = new Map<string, CacheEntry>();
  readonly #maxEntries: number;
  readonly #ttl: number;
  readonly #clock: UnixClock;

  constructor(opts: NodeTokenCacheOptions = {}) {
    this.#maxEntries = opts.maxEntries ?? 100_000;
    this.#ttl = opts.ttlSeconds ?? 300;
    this.#clock = opts.clock ?? systemClock;
    if (!Number.isSafeInteger(this.#maxEntries) || this.#maxEntries < 1) {
      throw new RangeError('maxEntries must be a positive integer');
    }
    if (!(this.#ttl > 0)) throw new RangeError('ttlSeconds must be positive');
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Whether `token` was verified for `nodeId` against `storedHash` and is still fresh. */
  has(token: string, nodeId: string, storedHash: string): boolean {
    const key = nodeTokenFingerprint(token);
    const entry = this.#entries.get(key);
    if (!entry) return false;
    if (entry.expiresAt <= this.#clock()) {
      this.#entries.delete(key);
      return false;
    }
    if (entry.nodeId !== nodeId || entry.storedHash !== storedHash) return false;
    // Refresh recency: Map keeps insertion order, so re-inserting moves it to the end.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return true;
  }

  remember(token: string, nodeId: string, storedHash: string): void {
    const key = nodeTokenFingerprint(token);
    this.#entries.delete(key);
    this.#entries.set(key, { nodeId, storedHash, expiresAt: this.#clock() + this.#ttl });
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }

  /** Forget every entry of a node: call on token rotation and on deregistration. */
  invalidateNode(nodeId: string): number {
    let n = 0;
    for (const [key, entry] of this.#entries) {
      if (entry.nodeId === nodeId) {
        this.#entries.delete(key);
        n++;
      }
    }
    return n;
  }

  clear(): void {
    this.#entries.clear();
  }
}

/**
 * Verify a presented node token against the node's stored bcrypt hash, consulting and
 * filling the cache. A failed check is never cached.
 */
export async function verifyNodeToken(
  token: string,
  nodeId: string,
  storedHash: string,
  cache?: NodeTokenCache,
): Promise<boolean> {
  if (cache?.has(token, nodeId, storedHash)) return true;
  const ok = await verifyNodeTokenHash(token, storedHash);
  if (ok) cache?.remember(token, nodeId, storedHash);
  return ok;
}
