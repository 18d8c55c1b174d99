/**
 * A disposable provider endpoint for directory checks: it answers the directory's
 * registration liveness probe (`GET /iicp/health`, iicp-dir.md §3.1) and nothing else.
 * Loopback only, so it is usable against a loopback directory that accepts private
 * endpoints (the disposable-target setting of conformance-test-suite.md §3.3l).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FixtureNode {
  readonly endpoint: string;
  close(): Promise<void>;
}

export async function startFixtureNode(): Promise<FixtureNode> {
  const server = createServer((req, res) => {
    if (req.url?.split('?')[0] === '/iicp/health') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: 'ok', load: 0, active_jobs: 0, models: [] }));
      return;
    }
    res
      .writeHead(404, { 'content-type': 'application/json' })
      .end(JSON.stringify({ error: { code: 'not_found', message: 'fixture serves health only' } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A loopback port with nothing listening (DIR-REG-04): bind, read the port, close. */
export async function closedLoopbackEndpoint(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return `http://127.0.0.1:${port}`;
}
