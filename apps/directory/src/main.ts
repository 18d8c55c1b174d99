/**
 * Run the directory: build, listen, print one start-up line, drain on SIGTERM/SIGINT
 * (in-flight requests finish, then the database is closed by the app's onClose hook).
 */
import { installGracefulShutdown, type GracefulShutdown } from '@iicp/http';
import type { FastifyInstance } from '@iicp/http';
import { buildApp } from './app.ts';
import { DEFAULT_DIRECTORY_PORT, DEFAULT_HOST, type DirectoryOptions } from './config.ts';
import { NodeStore } from './storage/node-store.ts';
import { openDatabase } from './storage/open.ts';

export interface RunningDirectory {
  readonly app: FastifyInstance;
  readonly url: string;
  readonly shutdown: GracefulShutdown;
}

/** The one start-up line: where it listens, what storage, which mode. */
export function startupLine(url: string, storage: string, allowPrivate: boolean): string {
  const mode = allowPrivate
    ? 'mode=PRIVATE-ENDPOINTS (development/tests only: loopback, private and http:// endpoints accepted)'
    : 'mode=public';
  return `iicp-directory listening on ${url} storage=${storage} ${mode}`;
}

export async function serve(
  opts: DirectoryOptions,
  print: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Promise<RunningDirectory> {
  const app = await buildApp(opts);
  const host = opts.host ?? DEFAULT_HOST;
  await app.listen({ host, port: opts.port ?? DEFAULT_DIRECTORY_PORT });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : (opts.port ?? DEFAULT_DIRECTORY_PORT);
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  print(startupLine(url, app.directory.config.storage, app.directory.config.allowPrivateEndpoints));
  const shutdown = installGracefulShutdown(app, { timeoutMs: 10_000 });
  return { app, url, shutdown };
}

/** `iicp-directory migrate`: apply migrations and report. */
export async function migrate(
  opts: DirectoryOptions,
  print: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Promise<void> {
  const db = await openDatabase({ databaseUrl: opts.databaseUrl, dataDir: opts.dataDir });
  try {
    const r = await new NodeStore(db.db).migrate();
    print(
      `iicp-directory migrate: ${db.description}: applied ${r.applied.length} migration(s)` +
        `${r.applied.length ? ` (${r.applied.join(', ')})` : ''}; current ${r.current ?? 'none'}`,
    );
  } finally {
    await db.close();
  }
}
