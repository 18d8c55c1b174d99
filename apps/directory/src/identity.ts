/**
 * The directory's identity: its Ed25519 signing key ("genesis key", iicp-dir.md §3.12;
 * iicp-federated-directory.md §4) and the did:web document that publishes it.
 *
 * Where the key comes from, first match wins:
 * 1. `signingKey` (env `IICP_DIRECTORY_SIGNING_KEY`): the 64-hex seed;
 * 2. `signingKeyFile` (`--signing-key-file`): a file holding the seed, mode 0600 or stricter;
 * 3. SQLite only: `<data-dir>/directory-key`, generated (0600) on first start.
 * PostgreSQL needs 1 or 2: several instances share the database and must sign the one
 * event chain with one key, and keys never go into the database.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { DirectoryKey, loadDirectoryKeyFile, writeDirectoryKeyFile } from '@iicp/crypto';
import { IicpLocalError } from '@iicp/wire';
import { DEFAULT_DATA_DIR, isPostgresUrl } from './storage/open.ts';

/** File name of the generated key inside the data directory. */
export const DIRECTORY_KEY_FILE_NAME = 'directory-key';

export interface IdentityConfig {
  readonly signingKey?: string | undefined;
  readonly signingKeyFile?: string | undefined;
  readonly databaseUrl?: string | undefined;
  readonly dataDir?: string | undefined;
  readonly sqliteFile?: string | undefined;
}

export interface LoadedIdentity {
  readonly key: DirectoryKey;
  /** Where it came from, for the operator (never the key itself). */
  readonly source: 'env' | 'file' | 'generated' | 'data-dir' | 'ephemeral';
}

/** Load (or, for SQLite, create) the directory signing key; see the module comment. */
export async function loadDirectoryIdentity(
  cfg: IdentityConfig,
  /** False for readers (verify-log): a missing data-dir key is an error, not created. */
  create = true,
): Promise<LoadedIdentity> {
  if (cfg.signingKey !== undefined && cfg.signingKey !== '') {
    return { key: DirectoryKey.fromHex(cfg.signingKey), source: 'env' };
  }
  if (cfg.signingKeyFile !== undefined && cfg.signingKeyFile !== '') {
    return { key: await loadDirectoryKeyFile(resolve(cfg.signingKeyFile)), source: 'file' };
  }
  if (isPostgresUrl(cfg.databaseUrl)) {
    throw new IicpLocalError(
      'bad_config',
      'PostgreSQL mode needs the directory signing key: set IICP_DIRECTORY_SIGNING_KEY (64-hex seed) ' +
        'or --signing-key-file FILE (mode 0600), the same on every instance',
    );
  }
  if (cfg.sqliteFile === ':memory:' && cfg.dataDir === undefined) {
    // A throwaway database gets a throwaway key: its chain dies with it.
    return { key: DirectoryKey.generate(), source: 'ephemeral' };
  }
  const file = resolve(cfg.dataDir ?? DEFAULT_DATA_DIR, DIRECTORY_KEY_FILE_NAME);
  if (existsSync(file)) return { key: await loadDirectoryKeyFile(file), source: 'data-dir' };
  if (!create) {
    throw new IicpLocalError('bad_config', `no directory key at ${file} (give --signing-key-file)`);
  }
  const key = DirectoryKey.generate();
  // A first start may come before the database has created the data directory.
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeDirectoryKeyFile(file, key);
  return { key, source: 'generated' };
}

/**
 * did:web of an origin (W3C did:web method): host, a port as `%3A`, path segments as
 * `:`. `https://dir.example.org` → `did:web:dir.example.org`.
 */
export function didWebOf(publicUrl: string): string {
  const u = new URL(publicUrl);
  const host = u.port ? `${u.hostname}%3A${u.port}` : u.hostname;
  const path = u.pathname
    .split('/')
    .filter((p) => p !== '')
    .map((p) => encodeURIComponent(decodeURIComponent(p)));
  return ['did:web', host, ...path].join(':');
}

/** The DID document of iicp-federated-directory.md §4 for this directory. */
export function didDocument(publicUrl: string, key: DirectoryKey): Record<string, unknown> {
  const did = didWebOf(publicUrl);
  const origin = publicUrl.replace(/\/+$/, '');
  const keyId = `${did}#key-1`;
  return {
    '@context': ['https://www.w3.org/ns/did/v1'],
    id: did,
    verificationMethod: [
      {
        id: keyId,
        type: 'JsonWebKey2020',
        controller: did,
        publicKeyJwk: key.publicJwk(),
      },
    ],
    assertionMethod: [keyId],
    service: [
      { id: `${did}#event-log`, type: 'IicpEventLog', serviceEndpoint: `${origin}/v1/events` },
      {
        id: `${did}#trusted-replicas`,
        type: 'IicpTrustedReplicas',
        serviceEndpoint: `${origin}/.well-known/iicp-replicas.json`,
      },
    ],
  };
}
