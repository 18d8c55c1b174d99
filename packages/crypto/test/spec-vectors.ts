/**
 * Loads published vectors from the shared spec copy, which lives beside the repository
 * (`<repoRoot>/../shared/iicp-spec`, the same layout in CI). A missing file throws, so
 * the test that needs it fails instead of skipping.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CxRequestEnvelope, SealCxRequestOptions } from '../src/cx-web.ts';
import { cxKeyPairFromPrivateKey, type CxKeyPair } from '../src/index.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const SPEC_ROOT = resolve(REPO_ROOT, '../shared/iicp-spec');

export function readSpecFile(relPath: string): { text: string; sha256: string } {
  const text = readFileSync(resolve(SPEC_ROOT, relPath), 'utf8');
  return { text, sha256: createHash('sha256').update(text).digest('hex') };
}

export function loadSpecJson<T = unknown>(relPath: string): T {
  return JSON.parse(readSpecFile(relPath).text) as T;
}

export function loadRepoJson<T = unknown>(relPath: string): T {
  return JSON.parse(readFileSync(resolve(REPO_ROOT, relPath), 'utf8')) as T;
}

/** Flip one bit of one character of an ASCII string (keeps it ASCII). */
export function flipAsciiBit(s: string, index: number, bit: number): string {
  const code = s.charCodeAt(index) ^ (1 << (bit % 7));
  return s.slice(0, index) + String.fromCharCode(code) + s.slice(index + 1);
}

export const hexToBytes = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, 'hex'));

/** The committed IICP-CX request vector (spec/vectors/crypto-cx-tier1-v1.json). */
export interface CxRequestVector {
  readonly inputs: Record<string, string>;
  readonly key_id: string;
  readonly iicp_conf: CxRequestEnvelope;
}

/**
 * The committed request vector, the node key pair it was sealed to, and the
 * `sealCxRequest` options (fixed ephemeral key and nonce) that reproduce its envelope.
 */
export function committedCxRequest(): {
  vector: CxRequestVector;
  node: CxKeyPair;
  sealOptions: SealCxRequestOptions;
} {
  const vector = loadRepoJson<CxRequestVector>('spec/vectors/crypto-cx-tier1-v1.json');
  const input = (name: string): string => {
    const v = vector.inputs[name];
    if (v === undefined) throw new Error(`the CX vector has no input ${name}`);
    return v;
  };
  const node = cxKeyPairFromPrivateKey(hexToBytes(input('node_private_key_hex')));
  return {
    vector,
    node,
    sealOptions: {
      recipientPublicKey: node.publicKey,
      recipientKeyId: vector.key_id,
      taskId: input('task_id'),
      intent: input('intent'),
      plaintext: input('plaintext'),
      ephemeralPrivateKey: hexToBytes(input('ephemeral_private_key_hex')),
      nonce: hexToBytes(input('nonce_hex')),
    },
  };
}
