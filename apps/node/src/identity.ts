import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ed25519KeyPairFromSeed,
  ed25519Sign,
  fromHexStrict,
  generateEd25519KeyPair,
  toHex,
  type Ed25519Signer,
} from '@iicp/crypto';
import { OPERATOR_KEY_FILE } from './config.ts';
import { writeSecretFile } from './directory/store.ts';

/**
 * The operator's Ed25519 identity (iicp-dir.md §3.1 operator delegation): a 32-byte
 * seed as hex in `$IICP_HOME/operator.key`, mode 0600. It signs the delegation sent
 * with each REGISTER; it never leaves the machine.
 */
export async function loadOperatorKey(home: string): Promise<Ed25519Signer | undefined> {
  let text: string;
  try {
    text = await readFile(join(home, OPERATOR_KEY_FILE), 'utf8');
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return undefined;
    throw err;
  }
  const seed = fromHexStrict(text.trim().toLowerCase(), 32);
  if (!seed) throw new Error(`${OPERATOR_KEY_FILE} must hold a 64-hex Ed25519 seed`);
  const pair = ed25519KeyPairFromSeed(seed);
  return { publicKey: pair.publicKey, sign: (m: Uint8Array) => ed25519Sign(m, pair.secretKey) };
}

/** Create the operator key unless one exists; returns its public key as hex. */
export async function ensureOperatorKey(
  home: string,
): Promise<{ publicKeyHex: string; created: boolean }> {
  const existing = await loadOperatorKey(home);
  if (existing) return { publicKeyHex: toHex(existing.publicKey), created: false };
  const pair = generateEd25519KeyPair();
  await writeSecretFile(join(home, OPERATOR_KEY_FILE), `${toHex(pair.secretKey)}\n`);
  return { publicKeyHex: toHex(pair.publicKey), created: true };
}
