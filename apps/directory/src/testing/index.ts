// @iicp/directory/testing: fixtures for tests and benchmarks of the directory (a
// throwaway PostgreSQL cluster, the raw driver for baselines). Not part of the served
// app; tools import it because apps may not import tools.
export { createTestDatabase, openRawPostgres, startTestPostgres } from './postgres.ts';
export type { RawPostgres, TestPostgres } from './postgres.ts';
