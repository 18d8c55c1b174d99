import { join } from 'node:path';
import {
  CX_KEY_MAX_LIFETIME_SECONDS,
  cxKeyPairFromPrivateKey,
  cxPublicKeyAdvertisement,
  fromBase64UrlStrict,
  generateCxKeyPair,
  toBase64Url,
  type CxKeyPair,
} from '@iicp/crypto';
import { CX_RESPONSE_ENCRYPTION_FEATURE } from '@iicp/crypto/cx';
import type { CxPublicKey } from '@iicp/wire';
import { z } from 'zod';
import { readJsonFile, writeSecretFile } from '../directory/store.ts';

/** The node's IICP-CX key file under `$IICP_HOME` (mode 0600). */
export const CX_KEY_FILE = 'cx.key';

/**
 * How long a rotated-out key still decrypts: consumers may hold a discover answer (5 s
 * cache) or a task already sealed to it while the new key propagates.
 */
export const CX_PREVIOUS_KEY_GRACE_MS = 15 * 60 * 1000;

/** Warn this long before the key's `not_after` (CX-NODE-01: rotate at least every 90 days). */
export const CX_KEY_EXPIRY_WARNING_MS = 7 * 24 * 3600 * 1000;

const StoredKeySchema = z.object({
  /** 32-byte X25519 private key, base64url. */
  private_key: z.string(),
  key_id: z.string(),
  created_at: z.string(),
  not_after: z.string(),
  retired_at: z.string().optional(),
});

const CxKeyFileSchema = z.object({
  version: z.literal(1),
  current: StoredKeySchema,
  previous: StoredKeySchema.optional(),
});
type StoredKey = z.infer<typeof StoredKeySchema>;
type CxKeyFile = z.infer<typeof CxKeyFileSchema>;

export interface NodeCxKey extends CxKeyPair {
  readonly createdAt: Date;
  readonly notAfter: Date;
  readonly retiredAt?: Date;
}

/** The node's CX keys: the advertised one, and the one just rotated out. */
export interface NodeCxKeys {
  readonly current: NodeCxKey;
  readonly previous?: NodeCxKey;
}

function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function fresh(now: Date): StoredKey {
  const pair = generateCxKeyPair();
  return {
    private_key: toBase64Url(pair.privateKey),
    key_id: pair.keyId,
    created_at: isoSeconds(now),
    not_after: isoSeconds(new Date(now.getTime() + CX_KEY_MAX_LIFETIME_SECONDS * 1000)),
  };
}

function toKey(s: StoredKey, path: string): NodeCxKey {
  const priv = fromBase64UrlStrict(s.private_key, 32);
  if (!priv) throw new Error(`${path}: private_key must be 32 bytes of base64url`);
  const pair = cxKeyPairFromPrivateKey(priv);
  if (pair.keyId !== s.key_id) throw new Error(`${path}: key_id does not match the key`);
  return {
    ...pair,
    createdAt: new Date(s.created_at),
    notAfter: new Date(s.not_after),
    ...(s.retired_at ? { retiredAt: new Date(s.retired_at) } : {}),
  };
}

async function readFile(path: string): Promise<CxKeyFile | undefined> {
  const raw = await readJsonFile(path);
  if (raw === undefined) return undefined;
  const r = CxKeyFileSchema.safeParse(raw);
  if (!r.success)
    throw new Error(`${path} is not a CX key file (move it away to create a new key)`);
  return r.data;
}

async function write(path: string, f: CxKeyFile): Promise<void> {
  await writeSecretFile(path, `${JSON.stringify(f, null, 2)}\n`);
}

/** Load the CX keys; `undefined` when the node has none yet. */
export async function loadCxKeys(home: string): Promise<NodeCxKeys | undefined> {
  const path = join(home, CX_KEY_FILE);
  const f = await readFile(path);
  if (!f) return undefined;
  return {
    current: toKey(f.current, path),
    ...(f.previous ? { previous: toKey(f.previous, path) } : {}),
  };
}

/** Create the CX key unless one exists (init, and serve for homes made before CX). */
export async function ensureCxKeys(
  home: string,
  now: Date = new Date(),
): Promise<{ keys: NodeCxKeys; created: boolean }> {
  const existing = await loadCxKeys(home);
  if (existing) return { keys: existing, created: false };
  await write(join(home, CX_KEY_FILE), { version: 1, current: fresh(now) });
  return { keys: (await loadCxKeys(home))!, created: true };
}

/**
 * Replace the current key with a new one (the explicit `iicp-node rotate-cx-key`); the
 * old key is kept as `previous` for {@link CX_PREVIOUS_KEY_GRACE_MS} after rotation.
 */
export async function rotateCxKeys(home: string, now: Date = new Date()): Promise<NodeCxKeys> {
  const path = join(home, CX_KEY_FILE);
  const f = await readFile(path);
  await write(path, {
    version: 1,
    current: fresh(now),
    ...(f ? { previous: { ...f.current, retired_at: isoSeconds(now) } } : {}),
  });
  return (await loadCxKeys(home))!;
}

/** Keys a received envelope may address at `now`: the current one, and a recent previous one. */
export function decryptionKeys(keys: NodeCxKeys, now: number = Date.now()): CxKeyPair[] {
  const out: CxKeyPair[] = [keys.current];
  const p = keys.previous;
  if (p && (p.retiredAt === undefined || now - p.retiredAt.getTime() < CX_PREVIOUS_KEY_GRACE_MS)) {
    out.push(p);
  }
  return out;
}

/**
 * `cx_public_key` for REGISTER (iicp-confidentiality.md §3.1), with the
 * `response_encryption_v1` feature this node implements (§5a.3).
 */
export function cxAdvertisement(keys: NodeCxKeys): CxPublicKey {
  return cxPublicKeyAdvertisement(keys.current, keys.current.notAfter, [
    CX_RESPONSE_ENCRYPTION_FEATURE,
  ]);
}
