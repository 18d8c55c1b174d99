/**
 * Sealing of node secrets the directory must be able to read back: the
 * `node_hmac_key` verifies heartbeat challenges and CIP receipts, so it cannot be a
 * one-way hash (digest-directory.md §0). It is stored AES-256-GCM-sealed under a key
 * derived (HKDF-SHA256, own `info`) from the directory's secret — its Ed25519 signing
 * seed, which every instance sharing one database already holds and which never goes
 * into the database. Without a secret the value is stored as `plain:` text (tests and
 * embedded use; documented in the README). A value sealed under another secret (the
 * directory key was replaced) opens as `undefined`: the node re-registers for a new key.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const SEALED_PREFIX = 'v1:';
const PLAIN_PREFIX = 'plain:';
const HKDF_INFO = 'iicp-directory:node-secret-seal:v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SecretVault {
  readonly #key: Buffer | undefined;

  /** `secret`: at least 32 bytes of key material, or undefined to store in the clear. */
  constructor(secret?: Uint8Array) {
    if (secret !== undefined && secret.length < 32) {
      throw new RangeError('the vault secret must be at least 32 bytes');
    }
    this.#key =
      secret === undefined
        ? undefined
        : Buffer.from(hkdfSync('sha256', secret, new Uint8Array(0), HKDF_INFO, 32));
  }

  /** Whether values are sealed (false: stored as plain text). */
  get sealing(): boolean {
    return this.#key !== undefined;
  }

  seal(value: string): string {
    if (!this.#key) return PLAIN_PREFIX + value;
    const iv = randomBytes(IV_BYTES);
    const c = createCipheriv('aes-256-gcm', this.#key, iv);
    const body = Buffer.concat([c.update(value, 'utf8'), c.final()]);
    return SEALED_PREFIX + Buffer.concat([iv, body, c.getAuthTag()]).toString('base64url');
  }

  /** The sealed value, or undefined when it cannot be opened with this vault's secret. */
  open(stored: string): string | undefined {
    if (stored.startsWith(PLAIN_PREFIX)) return stored.slice(PLAIN_PREFIX.length);
    if (!stored.startsWith(SEALED_PREFIX) || !this.#key) return undefined;
    const raw = Buffer.from(stored.slice(SEALED_PREFIX.length), 'base64url');
    if (raw.length < IV_BYTES + TAG_BYTES) return undefined;
    try {
      const d = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(0, IV_BYTES));
      d.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      return Buffer.concat([
        d.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)),
        d.final(),
      ]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}
