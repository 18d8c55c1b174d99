/**
 * Loads published vectors from the shared spec copy, which lives beside the repository
 * (`<repoRoot>/../shared/iicp-spec`, the same layout in CI). A missing file throws, so
 * the test that needs it fails instead of skipping.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

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
