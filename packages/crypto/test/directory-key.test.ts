import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { IicpLocalError } from '@iicp/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryKey, loadDirectoryKeyFile, writeDirectoryKeyFile } from '../src/index.ts';

// RFC 8032 §7.1 TEST 1.
const SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const PUB = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iicp-crypto-key-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('DirectoryKey', () => {
  it('loads from a 64-hex seed and exports the public key as hex and JWK', () => {
    const key = DirectoryKey.fromHex(`  ${SEED.toUpperCase()}\n`);
    expect(key.publicKeyHex).toBe(PUB);
    expect(key.publicJwk()).toEqual({
      kty: 'OKP',
      crv: 'Ed25519',
      x: Buffer.from(PUB, 'hex').toString('base64url'),
    });
    expect(key.publicKeyBase64Url).toBe('11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo');
    const msg = new TextEncoder().encode('hello');
    expect(key.verify(key.sign(msg), msg)).toBe(true);
  });

  it('refuses a seed that is not 32 bytes of hex', () => {
    for (const bad of ['', SEED.slice(2), `${SEED}00`, SEED.replace('9', 'g')]) {
      expect(() => DirectoryKey.fromHex(bad)).toThrow(IicpLocalError);
    }
  });

  it('generates distinct keys', () => {
    expect(DirectoryKey.generate().publicKeyHex).not.toBe(DirectoryKey.generate().publicKeyHex);
  });

  it('keeps the seed out of JSON and inspect output', () => {
    const key = DirectoryKey.fromHex(SEED);
    expect(JSON.stringify(key)).not.toContain(SEED);
    expect(inspect(key)).not.toContain(SEED);
    expect(key.exportSeedHex()).toBe(SEED);
  });
});

describe('directory key file', () => {
  it('round-trips through a 0600 file', async () => {
    const path = join(dir, 'key-a');
    const key = DirectoryKey.generate();
    await writeDirectoryKeyFile(path, key);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const loaded = await loadDirectoryKeyFile(path);
    expect(loaded.publicKeyHex).toBe(key.publicKeyHex);
  });

  it('refuses to overwrite an existing key file', async () => {
    const path = join(dir, 'key-b');
    await writeDirectoryKeyFile(path, DirectoryKey.generate());
    const before = await readFile(path, 'utf8');
    await expect(writeDirectoryKeyFile(path, DirectoryKey.generate())).rejects.toThrow(/overwrite/);
    expect(await readFile(path, 'utf8')).toBe(before);
  });

  it.skipIf(process.platform === 'win32')(
    'refuses a group- or world-readable file with a clear error',
    async () => {
      for (const mode of [0o640, 0o644, 0o604, 0o660]) {
        const path = join(dir, `loose-${mode.toString(8)}`);
        await writeFile(path, SEED, { mode: 0o600 });
        await chmod(path, mode);
        const err = await loadDirectoryKeyFile(path).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(IicpLocalError);
        expect((err as IicpLocalError).code).toBe('directory_key_insecure');
        expect((err as Error).message).toContain('chmod 600');
        expect((err as Error).message).not.toContain(SEED);
      }
    },
  );

  it('accepts a 0400 file', async () => {
    const path = join(dir, 'key-ro');
    await writeFile(path, `${SEED}\n`, { mode: 0o600 });
    await chmod(path, 0o400);
    expect((await loadDirectoryKeyFile(path)).publicKeyHex).toBe(PUB);
  });

  it('reports a missing file as unreadable', async () => {
    const err = await loadDirectoryKeyFile(join(dir, 'nope')).catch((e: unknown) => e);
    expect((err as IicpLocalError).code).toBe('directory_key_unreadable');
  });

  it('refuses a file whose content is not a seed, without echoing it', async () => {
    const path = join(dir, 'garbage');
    await writeFile(path, 'not-a-key-secret-material', { mode: 0o600 });
    const err = await loadDirectoryKeyFile(path).catch((e: unknown) => e);
    expect((err as IicpLocalError).code).toBe('invalid_directory_key');
    expect((err as Error).message).not.toContain('secret-material');
  });
});

describe('directory key file behind a symlink', () => {
  it.skipIf(process.platform === 'win32')(
    'checks the mode of the target, not of the link',
    async () => {
      const { symlink } = await import('node:fs/promises');
      const target = join(dir, 'target-key');
      await writeFile(target, SEED, { mode: 0o600 });
      const link = join(dir, 'link-key');
      await symlink(target, link);
      expect((await loadDirectoryKeyFile(link)).publicKeyHex).toBe(PUB);
      await chmod(target, 0o644);
      await expect(loadDirectoryKeyFile(link)).rejects.toThrow(/chmod 600/);
    },
  );
});
