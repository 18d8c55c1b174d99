/**
 * The directory's Ed25519 signing key ("genesis key", digest-directory.md §0). One key
 * per directory signs consumer tokens, dispatch route tickets, relay bind tickets,
 * chained events and the deployment record, each under its own domain string. Its
 * public half is served as 64 hex at `GET /api/v1/directory-key` (iicp-dir.md §3.12)
 * and as the JWK `x` of `/.well-known/did.json` (iicp-federated-directory.md §4).
 */
import { constants as fsConstants } from 'node:fs';
import { open, stat, writeFile } from 'node:fs/promises';
import { IicpLocalError } from '@iicp/wire';
import {
  ed25519KeyPairFromSeed,
  ed25519Sign,
  ed25519Verify,
  generateEd25519KeyPair,
} from './ed25519.ts';
import { fromHexStrict, toBase64Url, toHex } from './encoding.ts';

/** JWK of an Ed25519 public key (RFC 8037 §2), as the DID document publishes it. */
export interface Ed25519PublicJwk {
  readonly kty: 'OKP';
  readonly crv: 'Ed25519';
  readonly x: string;
}

/** Anything that can produce an Ed25519 signature: the directory key, or a test double. */
export interface Ed25519Signer {
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

/**
 * A loaded directory key. The seed stays in a private field: it is reachable only
 * through `exportSeedHex()`, which exists to write the key file once.
 */
export class DirectoryKey implements Ed25519Signer {
  readonly #seed: Uint8Array;
  readonly publicKey: Uint8Array;

  private constructor(seed: Uint8Array) {
    const pair = ed25519KeyPairFromSeed(seed);
    this.#seed = pair.secretKey;
    this.publicKey = pair.publicKey;
  }

  static generate(): DirectoryKey {
    return new DirectoryKey(generateEd25519KeyPair().secretKey);
  }

  static fromSeed(seed: Uint8Array): DirectoryKey {
    return new DirectoryKey(seed);
  }

  /** From the 64-hex-character seed (surrounding whitespace ignored, any case). */
  static fromHex(seedHex: string): DirectoryKey {
    const seed = fromHexStrict(seedHex.trim().toLowerCase(), 32);
    if (!seed) {
      throw new IicpLocalError(
        'invalid_directory_key',
        'the directory key must be 64 hexadecimal characters (a 32-byte Ed25519 seed)',
      );
    }
    return new DirectoryKey(seed);
  }

  sign(message: Uint8Array): Uint8Array {
    return ed25519Sign(message, this.#seed);
  }

  verify(signature: Uint8Array, message: Uint8Array): boolean {
    return ed25519Verify(signature, message, this.publicKey);
  }

  /** 64 lowercase hex, the form of `GET /api/v1/directory-key`. */
  get publicKeyHex(): string {
    return toHex(this.publicKey);
  }

  /** base64url without padding, the JWK `x` member. */
  get publicKeyBase64Url(): string {
    return toBase64Url(this.publicKey);
  }

  publicJwk(): Ed25519PublicJwk {
    return { kty: 'OKP', crv: 'Ed25519', x: this.publicKeyBase64Url };
  }

  /** The secret seed as hex. Only for writing the key file; never log it. */
  exportSeedHex(): string {
    return toHex(this.#seed);
  }

  /** Keeps the seed out of `console.log` and JSON dumps. */
  toJSON(): { publicKey: string } {
    return { publicKey: this.publicKeyHex };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `DirectoryKey { publicKey: '${this.publicKeyHex}' }`;
  }
}

/** Permission bits that must be clear on a key file: anything for group or others. */
const GROUP_OR_WORLD = 0o077;

/**
 * Load the directory key from a file holding the 64-hex seed. The file must not be
 * readable, writable or executable by group or others (mode 0600 or stricter); a
 * looser file is refused rather than silently used, because the key signs every
 * credential the directory issues.
 */
export async function loadDirectoryKeyFile(path: string): Promise<DirectoryKey> {
  let handle;
  try {
    // Symlinks are followed (Kubernetes mounts secrets through them); the mode checked
    // below is that of the file actually opened.
    handle = await open(path, fsConstants.O_RDONLY);
  } catch (err) {
    throw new IicpLocalError(
      'directory_key_unreadable',
      `cannot open the directory key file ${path}`,
      {
        cause: err,
      },
    );
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) {
      throw new IicpLocalError('directory_key_unreadable', `${path} is not a regular file`);
    }
    if (process.platform !== 'win32' && (info.mode & GROUP_OR_WORLD) !== 0) {
      const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
      throw new IicpLocalError(
        'directory_key_insecure',
        `refusing the directory key file ${path}: its mode is ${mode}, but it must not be accessible to group or others (run: chmod 600 ${path})`,
      );
    }
    const text = await handle.readFile({ encoding: 'utf8' });
    return DirectoryKey.fromHex(text);
  } finally {
    await handle.close();
  }
}

/**
 * Write a key file with mode 0600. Refuses to overwrite an existing file, so a
 * misconfigured start cannot destroy the key that signed the event chain.
 */
export async function writeDirectoryKeyFile(path: string, key: DirectoryKey): Promise<void> {
  try {
    await writeFile(path, `${key.exportSeedHex()}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    const exists = await stat(path).then(
      () => true,
      () => false,
    );
    throw new IicpLocalError(
      'directory_key_unwritable',
      exists
        ? `refusing to overwrite the existing directory key file ${path}`
        : `cannot write the directory key file ${path}`,
      { cause: err },
    );
  }
}
