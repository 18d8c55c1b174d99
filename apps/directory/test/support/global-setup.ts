/**
 * vitest globalSetup: one PostgreSQL server for the whole directory test run; each
 * suite creates its own database on it (createTestDatabase).
 */
import type { TestProject } from 'vitest/node';
import { startTestPostgres, type TestPostgres } from '../../src/testing/postgres.ts';

let server: TestPostgres | undefined;

declare module 'vitest' {
  export interface ProvidedContext {
    pgBaseUrl: string;
  }
}

export async function setup(project: TestProject): Promise<void> {
  server = await startTestPostgres();
  project.provide('pgBaseUrl', server.url);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
