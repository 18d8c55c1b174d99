import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from './support/stores.ts';
import {
  bearer,
  CHAT,
  makeApp,
  registerBody,
  startHealthStub,
  type HealthStub,
  type TestApp,
} from './support/harness.ts';

interface Pki {
  readonly ca: string;
  readonly key: string;
  readonly cert: string;
}

/** A throwaway CA and a leaf for node.example.com, made with the openssl CLI. */
function makePki(dir: string): Pki {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=iicp-test-ca',
  ]);
  run([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'leaf.key',
    '-out',
    'leaf.csr',
    '-subj',
    '/CN=node.example.com',
  ]);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:node.example.com\n');
  run([
    'x509',
    '-req',
    '-in',
    'leaf.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'leaf.pem',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
  ]);
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return { ca: read('ca.pem'), key: read('leaf.key'), cert: read('leaf.pem') };
}

describe('liveness probe over HTTPS with TLS verification on', () => {
  let dir: string;
  let pki: Pki;
  let server: Server;
  let port: number;
  const opened: TestApp[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'iicp-pki-'));
    pki = makePki(dir);
    server = createServer({ key: pki.key, cert: pki.cert }, (req, res) => {
      res.writeHead(req.url === '/iicp/health' ? 200 : 404, { 'content-type': 'application/json' });
      res.end('{"status":"ok","load":0,"active_jobs":0}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = server.address();
    port = typeof a === 'object' && a ? a.port : 0;
  });
  afterAll(async () => {
    for (const t of opened) await t.close();
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  async function app(withCa: boolean): Promise<TestApp> {
    const t = await makeApp('sqlite', {
      allowPrivateEndpoints: false,
      probeConnectTo: { 'node.example.com:8443': `127.0.0.1:${port}` },
      ...(withCa ? { probeCa: pki.ca } : {}),
    });
    opened.push(t);
    return t;
  }

  it('accepts a node whose certificate chains to the trusted test CA', async () => {
    const t = await app(true);
    const r = await t.app.inject({
      method: 'POST',
      url: '/v1/register',
      payload: registerBody('https://node.example.com:8443'),
    });
    expect(r.statusCode).toBe(201);
  });

  it('refuses (liveness_failed) when the certificate is not trusted', async () => {
    const t = await app(false);
    const r = await t.app.inject({
      method: 'POST',
      url: '/v1/register',
      payload: registerBody('https://node.example.com:8443'),
    });
    expect(r.statusCode).toBe(422);
    expect(r.json().error.code).toBe('liveness_failed');
  });
});

describe.each(BACKENDS)('over real sockets on %s', (kind) => {
  let t: TestApp;
  let stub: HealthStub;
  let base: string;
  beforeAll(async () => {
    stub = await startHealthStub();
    t = await makeApp(kind);
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const a = t.app.server.address();
    base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  });
  afterAll(async () => {
    await t?.close();
    await stub?.close();
  });

  it('register → heartbeat → discover → me → deregister', async () => {
    const reg = await fetch(`${base}/v1/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(registerBody(stub.url)),
    });
    expect(reg.status).toBe(201);
    const ack = (await reg.json()) as { node_id: string; node_token: string };
    const hb = await fetch(`${base}/api/v1/heartbeat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(ack.node_token) },
      body: JSON.stringify({ node_id: ack.node_id, load: 0.1, active_jobs: 0 }),
    });
    expect(hb.status).toBe(200);
    const disc = await fetch(`${base}/v1/discover?intent=${encodeURIComponent(CHAT)}`);
    expect(disc.status).toBe(200);
    expect(disc.headers.get('cache-control')).toBe(
      'public, max-age=5, s-maxage=10, stale-while-revalidate=5',
    );
    expect(
      ((await disc.json()) as { nodes: { node_id: string }[] }).nodes.map((n) => n.node_id),
    ).toContain(ack.node_id);
    const me = await fetch(`${base}/v1/me`, { headers: bearer(ack.node_token) });
    expect(await me.json()).toMatchObject({
      node_id: ack.node_id,
      observed_source_ip: '127.0.0.1',
    });
    const del = await fetch(`${base}/v1/register`, {
      method: 'DELETE',
      headers: { 'content-type': 'application/json', ...bearer(ack.node_token) },
      body: JSON.stringify({ node_id: ack.node_id }),
    });
    expect(await del.json()).toEqual({ deregistered: true });
    const addr = await t.app.directory.store.addressHistory(ack.node_id);
    expect(addr.map((x) => x.event).sort()).toEqual(['heartbeat', 'register']);
  });
});
