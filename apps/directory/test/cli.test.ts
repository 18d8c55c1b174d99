import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openDatabase } from '../src/storage/open.ts';
import { NodeStore } from '../src/storage/node-store.ts';
import { parseCli } from '../src/config.ts';
import { createTestDatabase } from '../src/testing/postgres.ts';
import './support/global-setup.ts';
import {
  bearer,
  registerBody,
  startHealthStub,
  TEST_SIGNING_KEY,
  type HealthStub,
} from './support/harness.ts';

const here = dirname(fileURLToPath(import.meta.url));
const cliSource = resolve(here, '../src/cli.ts');
const require = createRequire(import.meta.url);
// tsx as an in-process loader, so that killing the child kills the app itself.
const tsxLoader = pathToFileURL(
  join(dirname(require.resolve('tsx/package.json')), 'dist/loader.mjs'),
).href;

function cliArgs(args: string[]): string[] {
  return ['--import', tsxLoader, '--conditions=@iicp/source', cliSource, ...args];
}

function runCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, cliArgs(args), {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
}

interface Served {
  readonly child: ChildProcess;
  readonly url: string;
  readonly line: string;
  exited(): Promise<number | null>;
}

async function startServe(args: string[]): Promise<Served> {
  const child = spawn(
    process.execPath,
    cliArgs(['serve', '--port', '0', '--log-level', 'silent', ...args]),
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const line = await new Promise<string>((res, rej) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const l = out.split('\n').find((x) => x.includes('listening on'));
      if (l) res(l);
    });
    void exit.then((code) =>
      rej(new Error(`iicp-directory exited (${code}) before listening: ${err}`)),
    );
  });
  const url = /listening on (\S+)/.exec(line)![1]!;
  return { child, url, line, exited: () => exit };
}

describe('parseCli', () => {
  it('applies flag > env > default', () => {
    const env = { IICP_DIRECTORY_PORT: '9000', IICP_DIRECTORY_REGISTER_RATE_LIMIT: '5' };
    expect(parseCli([], {}).options).toMatchObject({
      host: '127.0.0.1',
      port: 8090,
      registerRateLimit: 60,
      allowPrivateEndpoints: false,
    });
    expect(parseCli([], env).options).toMatchObject({ port: 9000, registerRateLimit: 5 });
    expect(parseCli(['--port', '9100'], env).options.port).toBe(9100);
    expect(
      parseCli([
        '--probe-connect-to',
        'a.example.com:443=127.0.0.1:8443',
        '--probe-connect-to',
        'b.example.com:443=127.0.0.1:9443',
      ]).options.probeConnectTo,
    ).toEqual({ 'a.example.com:443': '127.0.0.1:8443', 'b.example.com:443': '127.0.0.1:9443' });
    expect(parseCli(['migrate']).command).toBe('migrate');
    expect(parseCli(['--help']).command).toBe('help');
  });
  it('rejects bad values with a clear message', () => {
    expect(() => parseCli(['--port', 'x'])).toThrow(/--port/);
    expect(() => parseCli(['--probe-connect-to', 'nonsense'])).toThrow(/HOST:PORT=ADDR:PORT/);
    expect(() => parseCli(['--database-urll', 'x'])).toThrow();
    expect(() => parseCli(['frobnicate'])).toThrow(/unknown command/);
  });
});

describe('iicp-directory process', () => {
  let dataDir: string;
  let stub: HealthStub;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'iicp-dir-cli-'));
    stub = await startHealthStub();
  });
  afterAll(async () => {
    await stub?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('--help prints usage and exits 0', () => {
    const r = runCli(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: iicp-directory');
    expect(r.stdout).toContain('--database-url');
  });

  it('migrate applies the migrations once', () => {
    const first = runCli(['migrate', '--data-dir', dataDir]);
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/applied [1-9]\d* migration/);
    const again = runCli(['migrate'], { IICP_DIRECTORY_DATA_DIR: dataDir });
    expect(again.stdout).toMatch(/applied 0 migration/);
  });

  it('migrate and serve on PostgreSQL with --database-url (password redacted in the startup line)', async () => {
    const url = new URL(await createTestDatabase(inject('pgBaseUrl')));
    url.password = 'sekret';
    const r = runCli(['migrate', '--database-url', url.toString()]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/postgresql .*applied [1-9]\d* migration/);
    expect(r.stdout).not.toContain('sekret');
    // PostgreSQL needs the shared signing key; without it the start fails, saying so.
    const keyless = runCli(['verify-log', '--database-url', url.toString()]);
    expect(keyless.status).toBe(1);
    expect(keyless.stderr).toContain('PostgreSQL mode needs the directory signing key');
    const keyFile = join(dataDir, 'pg-directory-key');
    writeFileSync(keyFile, `${TEST_SIGNING_KEY}\n`, { mode: 0o600 });
    const s = await startServe(['--database-url', url.toString(), '--signing-key-file', keyFile]);
    expect(s.line).toMatch(
      /storage=postgresql postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/\S+ mode=public/,
    );
    expect((await fetch(`${s.url}/iicp/ready`)).status).toBe(200);
    s.child.kill('SIGTERM');
    expect(await s.exited()).toBe(0);
  });

  it('serve prints one startup line, serves, and drains on SIGTERM', async () => {
    const s = await startServe(['--data-dir', dataDir, '--allow-private-endpoints']);
    expect(s.line).toMatch(
      /^iicp-directory listening on http:\/\/127\.0\.0\.1:\d+ storage=sqlite .*directory\.sqlite mode=PRIVATE-ENDPOINTS/,
    );
    const r = await fetch(`${s.url}/iicp/ready`);
    expect(r.status).toBe(200);
    s.child.kill('SIGTERM');
    expect(await s.exited()).toBe(0);
  });

  it('crash safety: SIGKILL during a burst loses no acknowledged registration', async () => {
    const s = await startServe([
      '--data-dir',
      dataDir,
      '--allow-private-endpoints',
      '--register-rate-limit',
      '100000',
    ]);
    const acked: { node_id: string; node_token: string }[] = [];
    let stop = false;
    const worker = async () => {
      while (!stop) {
        try {
          const r = await fetch(`${s.url}/v1/register`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(registerBody(stub.url)),
          });
          if (r.status !== 201) continue;
          const ack = (await r.json()) as { node_id: string; node_token: string };
          acked.push(ack);
          await fetch(`${s.url}/v1/heartbeat`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...bearer(ack.node_token) },
            body: JSON.stringify({ node_id: ack.node_id, load: 0.5 }),
          });
        } catch {
          return; // the process is gone
        }
      }
    };
    const workers = [worker(), worker(), worker(), worker()];
    while (acked.length < 12) await new Promise((r) => setTimeout(r, 20));
    s.child.kill('SIGKILL');
    stop = true;
    await Promise.all(workers);
    await s.exited();
    expect(acked.length).toBeGreaterThanOrEqual(12);

    const restarted = await startServe(['--data-dir', dataDir, '--allow-private-endpoints']);
    try {
      for (const ack of acked) {
        const me = await fetch(`${restarted.url}/v1/me`, { headers: bearer(ack.node_token) });
        expect(me.status).toBe(200);
        expect(((await me.json()) as { node_id: string }).node_id).toBe(ack.node_id);
      }
    } finally {
      restarted.child.kill('SIGTERM');
      await restarted.exited();
    }
    const db = await openDatabase({ dataDir });
    try {
      const ids = new Set((await new NodeStore(db.db).listCurrent()).map((n) => n.nodeId));
      for (const ack of acked) expect(ids.has(ack.node_id)).toBe(true);
    } finally {
      await db.close();
    }
  });
});
