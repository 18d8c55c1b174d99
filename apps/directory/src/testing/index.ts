// @iicp/directory/testing: fixtures for tests and benchmarks of the directory (a
// throwaway PostgreSQL cluster). Not part of the served app; tools import it because
// apps may not import tools.
export { createTestDatabase, startTestPostgres } from './postgres.ts';
export type { TestPostgres } from './postgres.ts';
