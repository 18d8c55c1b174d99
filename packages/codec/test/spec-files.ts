import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root, computed from this file (packages/codec/test/). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The shared spec copy sits beside the repository (CI lays it out the same way). */
export const SPEC_ROOT = resolve(REPO_ROOT, '../shared/iicp-spec');

/** Reads a spec file; a missing file throws, so the test fails instead of skipping. */
export function readSpecBytes(relPath: string): Buffer {
  const path = resolve(SPEC_ROOT, relPath);
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new Error(`vector file missing: ../shared/iicp-spec/${relPath}`, { cause });
  }
}

export function readSpecJson<T = unknown>(relPath: string): T {
  return JSON.parse(readSpecBytes(relPath).toString('utf8')) as T;
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const unhex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
