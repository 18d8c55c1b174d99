import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDirectory } from './support/mesh.ts';
import { startProxy, type TestProxy } from './support/proxy.ts';

// PROXY-ROUTE-05: certificates are verified on every outbound connection. The proxy has
// no switch to turn verification off (@iicp/client refuses `tlsVerify: false`, SDK-05).
let dir: string;
let server: Server;
let url: string;
let hits = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'proxy-tls-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      join(dir, 'k.pem'),
      '-out',
      join(dir, 'c.pem'),
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  server = createHttpsServer(
    { key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) },
    (_req, res) => {
      hits++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ nodes: [], count: 0 }));
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

const chat = (p: TestProxy) =>
  fetch(`${p.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'x' }] }),
  });

describe('outbound TLS is verified (PROXY-ROUTE-05)', () => {
  it('a directory with a self-signed certificate is unreachable, not trusted', async () => {
    const proxy = await startProxy([], { directoryUrl: url });
    try {
      const res = await chat(proxy);
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
        'service_unavailable',
      );
      expect(hits).toBe(0);
    } finally {
      await proxy.close();
    }
  });

  it('a node with a self-signed certificate gets no task', async () => {
    const directory = await startDirectory({
      nodes: () => [
        {
          node_id: '00000000-0000-4000-8000-0000000000aa',
          endpoint: url,
          region: 'eu',
          score: 0.9,
          available: true,
        },
      ],
    });
    const proxy = await startProxy([], { directoryUrl: directory.url });
    try {
      const res = await chat(proxy);
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
        'no_available_node',
      );
      expect(hits).toBe(0);
    } finally {
      await proxy.close();
      await directory.close();
    }
  });
});
