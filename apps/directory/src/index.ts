// @iicp/directory: the public API, as a curated list of named exports.
export { buildApp, DIRECTORY_VERSION, ROUTE_PREFIXES } from './app.ts';
export {
  DEFAULT_DIRECTORY_PORT,
  DEFAULT_HOST,
  DEFAULT_REGISTER_RATE_LIMIT,
  parseCli,
  USAGE,
} from './config.ts';
export type { CliInvocation, DirectoryOptions, LogLevel } from './config.ts';
export { migrate, serve, startupLine } from './main.ts';
export type { RunningDirectory } from './main.ts';
export { NodeStore } from './storage/node-store.ts';
export type { StoredNode } from './storage/node-store.ts';
export { MIGRATIONS, migrateToLatest } from './storage/migrations.ts';
export { openDatabase, redactDatabaseUrl } from './storage/open.ts';
export type { OpenedDatabase, StorageConfig, StorageKind } from './storage/open.ts';
