/**
 * The storage backends every parametrised suite runs on: SQLite (a temp file) and the
 * throwaway PostgreSQL from the globalSetup (a fresh database per call).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { openDatabase, type OpenedDatabase, type StorageConfig } from '../../src/storage/open.ts';
import { createTestDatabase } from '../../src/testing/postgres.ts';
import './global-setup.ts';

export type BackendName = 'sqlite' | 'postgres';
export const BACKENDS: readonly BackendName[] = ['sqlite', 'postgres'];

export interface TestStorage {
  readonly config: StorageConfig;
  cleanup(): void;
}

/** A fresh, empty storage location of the given kind. */
export async function freshStorage(kind: BackendName): Promise<TestStorage> {
  if (kind === 'postgres') {
    const url = await createTestDatabase(inject('pgBaseUrl'));
    return { config: { databaseUrl: url, poolSize: 4 }, cleanup: () => undefined };
  }
  const dir = mkdtempSync(join(tmpdir(), 'iicp-dir-'));
  return { config: { dataDir: dir }, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function openFresh(kind: BackendName): Promise<OpenedDatabase & { cleanup(): void }> {
  const s = await freshStorage(kind);
  const o = await openDatabase(s.config);
  return Object.assign(o, { cleanup: s.cleanup });
}
