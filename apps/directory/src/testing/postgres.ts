/**
 * A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` into a temp dir, `postgres` on
 * 127.0.0.1 at a free port (unix socket in the temp dir), trust auth, one database.
 * As root the server runs as the `postgres` user (PostgreSQL refuses to run as root).
 * `IICP_TEST_DATABASE_URL` skips all of that and uses the given server instead.
 * Missing binaries are a hard failure with a clear message, never a silent skip.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface TestPostgres {
  /** Base URL of the server; use {@link createTestDatabase} per suite. */
  readonly url: string;
  stop(): Promise<void>;
}

function findBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error(
      'PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb). ' +
        'Install Debian\'s "postgresql" package (.ci/run does) or set IICP_TEST_DATABASE_URL.',
    );
  }
  return join(root, versions[0]!, 'bin');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * As root, run the command as the `postgres` user through Node's own uid/gid switch
 * (not a wrapper such as runuser): the child is then the server itself, so a signal
 * sent to it reaches PostgreSQL and stopping the cluster cannot hang.
 */
function asPostgres(
  cmd: string,
  args: string[],
): { cmd: string; args: string[]; ids: { uid?: number; gid?: number } } {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  return { cmd, args, ids: root ? { uid: pgUid(), gid: pgGid() } : {} };
}

async function waitReady(url: string, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`postgres exited early:\n${log()}`);
    const c = new pg.Client({ connectionString: url });
    try {
      await c.connect();
      await c.end();
      return;
    } catch {
      await c.end().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`postgres did not accept connections:\n${log()}`);
}

export async function startTestPostgres(): Promise<TestPostgres> {
  const external = process.env['IICP_TEST_DATABASE_URL'];
  if (external) return { url: external, stop: async () => undefined };

  const bin = findBinDir();
  const dir = mkdtempSync(join(tmpdir(), 'iicp-pg-'));
  const data = join(dir, 'data');
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root) chownSync(dir, pgUid(), pgGid());
  const init = asPostgres(join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    'postgres',
    '-A',
    'trust',
    '-E',
    'UTF8',
    '--no-sync',
  ]);
  const r = spawnSync(init.cmd, init.args, { encoding: 'utf8', cwd: dir, ...init.ids });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${r.error?.message ?? ''}${r.stderr}`);
  }
  const port = await freePort();
  const run = asPostgres(join(bin, 'postgres'), [
    '-D',
    data,
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-k',
    dir,
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
    '-c',
    'max_connections=200',
  ]);
  let output = '';
  const child = spawn(run.cmd, run.args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: dir,
    ...run.ids,
  });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  try {
    await waitReady(url, child, () => output);
  } catch (e) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    url,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((res) => child.once('exit', res));
        // SIGINT is PostgreSQL's "fast shutdown"; SIGKILL if it has not gone in 10 s, so
        // a test run can never hang on its teardown.
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function pgId(flag: '-u' | '-g'): number {
  const r = spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error('running as root but there is no "postgres" user to run the server');
  return Number(r.stdout.trim());
}
function pgUid(): number {
  return pgId('-u');
}
function pgGid(): number {
  return pgId('-g');
}

let dbCounter = 0;

/** A fresh, empty database on the test server; returns its URL. */
export async function createTestDatabase(baseUrl: string, prefix = 'iicp_test'): Promise<string> {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${dbCounter++}`;
  const c = new pg.Client({ connectionString: baseUrl });
  await c.connect();
  try {
    await c.query(`create database "${name}"`);
  } finally {
    await c.end();
  }
  const u = new URL(baseUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/** The raw driver, for baselines beside the directory (a `pg` pool, no Kysely). */
export interface RawPostgres {
  query(text: string, params?: readonly unknown[]): Promise<{ rowCount: number | null }>;
  end(): Promise<void>;
}

/** A `pg` pool of `connections` on `url` (int8 columns come back as strings). */
export function openRawPostgres(url: string, connections = 1): RawPostgres {
  const pool = new pg.Pool({ connectionString: url, max: connections });
  pool.on('error', () => undefined);
  return {
    query: (text, params) => pool.query(text, params as unknown[] | undefined),
    end: () => pool.end(),
  };
}
