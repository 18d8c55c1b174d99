/**
 * Run the relay: build, listen, print one start-up line, and on SIGTERM/SIGINT shut
 * down gracefully (sessions closed, queued calls failed with 503, in-flight requests
 * drained, directory registration withdrawn).
 */
import { installGracefulShutdown, type GracefulShutdown } from '@iicp/http';
import { buildApp, type RelayApp } from './app.ts';
import type { RelayServeOptions } from './config.ts';

export interface RunningRelay {
  readonly app: RelayApp;
  readonly url: string;
  readonly shutdown: GracefulShutdown;
}

/** The one start-up line: where it listens, where it is reached, how binds are checked. */
export function startupLine(url: string, app: RelayApp, opts: RelayServeOptions): string {
  const tickets = app.relay.settings.requireTicket
    ? 'bind-tickets=required'
    : 'bind-tickets=OPTIONAL (development only: anyone who knows a node id can bind it)';
  const directory = opts.directoryUrl ? `directory=${opts.directoryUrl}` : 'directory=none';
  return (
    `iicp-relay listening on ${url} public=${app.relay.publicEndpoint()} ` +
    `max-sessions=${app.relay.hub.limits.maxSessions} ${tickets} ${directory}`
  );
}

export async function serve(
  opts: RelayServeOptions,
  print: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  shutdownOpts: Parameters<typeof installGracefulShutdown>[1] = {},
): Promise<RunningRelay> {
  const app = await buildApp({ ...opts, logger: { level: opts.logLevel } });
  await app.listen({ host: opts.host, port: opts.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  const url = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`;
  print(startupLine(url, app, opts));
  const shutdown = installGracefulShutdown(app, { timeoutMs: 10_000, ...shutdownOpts });
  return { app, url, shutdown };
}
