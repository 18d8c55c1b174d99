/**
 * Heartbeats: sustained `POST /v1/heartbeat` per second against iicp-directory with
 * 100,000 registered nodes, of which HOT send heartbeats in turn with their own tokens
 * (the verified-token cache is warmed first, as it is in steady state where every node
 * beats every 30 s). Twice: on SQLite (a data directory) and on PostgreSQL (a throwaway
 * cluster from `@iicp/directory/testing`, seeded with the same nodes through the same
 * storage layer).
 *
 * Baselines, same database, raw driver in this process with the directory stopped:
 * - SQLite (better-sqlite3, synchronous): the heartbeat's UPDATE alone, one transaction
 *   each; and the four statements the route used to issue one by one per heartbeat
 *   (token lookup, update, address upsert, re-read);
 * - PostgreSQL (`pg`): the heartbeat's UPDATE alone, one statement (autocommit) each,
 *   sequentially on one connection and from 8 connections at once.
 *
 * Run: npm run bench:heartbeats [-- --quick] [-- --storage sqlite|postgres] (default both)
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { nodeTokenFingerprint } from '@iicp/crypto';
import {
  createTestDatabase,
  openRawPostgres,
  startTestPostgres,
  type RawPostgres,
} from '@iicp/directory/testing';
import {
  cannon,
  emitResult,
  fmtInt,
  fmtMb,
  fmtMs,
  loadRow,
  machineLine,
  parseArgs,
  rssPeak,
  table,
  withTempDir,
  type ResultRow,
} from './harness.ts';
import { stop } from './procs.ts';
import { benchNodeId, dataDirFor, seedDirectory, startDirectory, type HotNode } from './seed.ts';

const args = parseArgs();
const NODES = args.quick ? 2_000 : 100_000;
const HOT = args.quick ? 100 : 2_000;
const CONNECTIONS = [8, 64];
const RAW_MS = args.quick ? 200 : 3_000;
const storageArg =
  process.argv.find((a) => a.startsWith('--storage='))?.slice('--storage='.length) ??
  process.argv[process.argv.indexOf('--storage') + 1];
const ONLY = process.argv.some((a) => a.startsWith('--storage')) ? storageArg : undefined;
if (ONLY !== undefined && ONLY !== 'sqlite' && ONLY !== 'postgres') {
  throw new Error('--storage takes sqlite or postgres');
}

const hbBody = (nodeId: string, i: number): string =>
  JSON.stringify({ node_id: nodeId, load: (i % 4) / 4, active_jobs: i % 4, available: true });

/** Statements per second of `fn`, run for `ms`. */
function rate(fn: (i: number) => void, ms: number): number {
  const t0 = performance.now();
  let i = 0;
  while (performance.now() - t0 < ms) {
    for (let k = 0; k < 100; k++) fn(i++);
  }
  return i / ((performance.now() - t0) / 1000);
}

/** Completed calls per second of `fn` from `workers` concurrent loops, run for `ms`. */
async function rateAsync(
  fn: (i: number) => Promise<unknown>,
  ms: number,
  workers = 1,
): Promise<number> {
  const t0 = performance.now();
  let i = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() - t0 < ms) await fn(i++);
    }),
  );
  return i / ((performance.now() - t0) / 1000);
}

interface Measured {
  readonly rows: ResultRow[];
  readonly lines: string[][];
}

/** The heartbeat load against a started directory: warm-up, then each connection count. */
async function measureDirectory(
  storage: 'SQLite' | 'PostgreSQL',
  target: string | { databaseUrl: string },
  hot: readonly HotNode[],
): Promise<Measured> {
  const rows: ResultRow[] = [];
  const lines: string[][] = [];
  const directory = await startDirectory(target);
  try {
    // Warm the verified-token cache: one bcrypt check per hot node, as after start-up.
    for (let i = 0; i < hot.length; i += 16) {
      await Promise.all(
        hot.slice(i, i + 16).map(async (n, k) => {
          const res = await fetch(`${directory.url}/v1/heartbeat`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${n.token}` },
            body: hbBody(n.nodeId, i + k),
          });
          await res.arrayBuffer();
          if (res.status !== 200) throw new Error(`warm-up heartbeat answered ${res.status}`);
        }),
      );
    }
    for (const connections of CONNECTIONS) {
      const peak = rssPeak(directory.proc.child.pid);
      const r = await cannon({
        url: `${directory.url}/v1/heartbeat`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        makeBody: (i) => hbBody(hot[i % hot.length]!.nodeId, i),
        makeHeaders: (i) => ({ authorization: `Bearer ${hot[i % hot.length]!.token}` }),
        connections,
        ...(args.quick ? { amount: 200 } : { durationS: 8, warmupS: 1 }),
      });
      const rss = peak();
      rows.push(
        loadRow(`directory heartbeats, ${storage}, ${NODES} nodes`, connections, r, {
          storage: storage.toLowerCase(),
          rss_mb: Math.round(rss),
        }),
      );
      lines.push([
        `iicp-directory POST /v1/heartbeat (${NODES.toLocaleString('en-US')} nodes)`,
        String(connections),
        fmtInt(r.rps),
        fmtMs(r.latency.p50),
        fmtMs(r.latency.p99),
        String(r.errors),
        fmtMb(rss),
      ]);
    }
  } finally {
    await stop(directory.proc);
  }
  return { rows, lines };
}

function baselineRow(m: Measured, storage: string, name: string, conns: string, v: number): void {
  m.rows.push({ name, storage: storage.toLowerCase(), connections: conns, rps: Math.round(v) });
  m.lines.push([name, conns, fmtInt(v), '', '', '0', '']);
}

async function sqlite(dir: string): Promise<Measured> {
  const dataDir = dataDirFor(dir, NODES);
  const hot = await seedDirectory(dataDir, NODES, HOT);
  const m = await measureDirectory('SQLite', dataDir, hot);
  // Raw driver rates on the same file, directory stopped.
  const db = new Database(join(dataDir, 'directory.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const update = db.prepare(
    `update nodes set load = ?, active_jobs = ?, available = 1, last_seen = ?, dormant_since = null,
     status = 'active', observed_ip = ?, updated_at = ? where node_id = ? and status != 'deregistered'`,
  );
  const lookup = db.prepare(
    `select * from nodes where token_lookup = ? and status != 'deregistered' limit 8`,
  );
  const address = db.prepare(
    `insert into address_history (node_id, ip, event, first_seen, last_seen, seen_count)
     values (?, ?, 'heartbeat', ?, ?, 1) on conflict (node_id, ip, event)
     do update set last_seen = excluded.last_seen, seen_count = address_history.seen_count + 1`,
  );
  const get = db.prepare(`select * from nodes where node_id = ? and status != 'deregistered'`);
  const lookups = hot.map((n) => nodeTokenFingerprint(n.token).slice(0, 16));
  const updateRate = rate((i) => {
    const now = Date.now() + 60_000;
    update.run((i % 4) / 4, i % 4, now, '127.0.0.1', now, benchNodeId(i % NODES));
  }, RAW_MS);
  const routeRate = rate((i) => {
    const now = Date.now() + 60_000;
    const id = hot[i % hot.length]!.nodeId;
    lookup.all(lookups[i % hot.length]);
    update.run((i % 4) / 4, i % 4, now, '127.0.0.1', now, id);
    address.run(id, '127.0.0.1', now, now);
    get.get(id);
  }, RAW_MS);
  db.close();
  baselineRow(m, 'SQLite', 'better-sqlite3: the heartbeat UPDATE alone', '1 (sync)', updateRate);
  baselineRow(
    m,
    'SQLite',
    'better-sqlite3: the 4 statements a heartbeat used to issue',
    '1 (sync)',
    routeRate,
  );
  return m;
}

async function postgres(): Promise<Measured> {
  const server = await startTestPostgres();
  try {
    const url = await createTestDatabase(server.url, 'iicp_bench');
    const hot = await seedDirectory({ databaseUrl: url }, NODES, HOT);
    const m = await measureDirectory('PostgreSQL', { databaseUrl: url }, hot);
    const text = `update nodes set load = $1, active_jobs = $2, available = 1, last_seen = $3,
      dormant_since = null, status = 'active', observed_ip = $4, updated_at = $3
      where node_id = $5 and status != 'deregistered'`;
    const update = (pg: RawPostgres) => (i: number) => {
      const now = Date.now() + 60_000;
      return pg.query(text, [(i % 4) / 4, i % 4, now, '127.0.0.1', benchNodeId(i % NODES)]);
    };
    for (const connections of [1, 8]) {
      const pg = openRawPostgres(url, connections);
      try {
        const v = await rateAsync(update(pg), RAW_MS, connections);
        baselineRow(m, 'PostgreSQL', 'pg: the heartbeat UPDATE alone', String(connections), v);
      } finally {
        await pg.end();
      }
    }
    return m;
  } finally {
    await server.stop();
  }
}

await withTempDir('iicp-bench-hb-', async (dir) => {
  const results: [string, Measured][] = [];
  if (ONLY !== 'postgres') results.push(['SQLite', await sqlite(dir)]);
  if (ONLY !== 'sqlite') results.push(['PostgreSQL', await postgres()]);
  console.log(machineLine());
  if (args.quick) console.log('(quick smoke run: numbers are not meaningful)');
  for (const [storage, m] of results) {
    console.log('');
    console.log(
      table(
        [`Heartbeats, ${storage}`, 'Conns', 'per s', 'p50 ms', 'p99 ms', 'errors', 'peak RSS MB'],
        m.lines,
      ),
    );
  }
  console.log('');
  emitResult(
    'heartbeats',
    args,
    results.flatMap(([, m]) => m.rows),
  );
});
