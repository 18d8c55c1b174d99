/**
 * Heartbeats: sustained `POST /v1/heartbeat` per second against iicp-directory on
 * SQLite with 100,000 registered nodes, of which HOT send heartbeats in turn with
 * their own tokens (the verified-token cache is warmed first, as it is in steady
 * state where every node beats every 30 s). Baselines, same database file, same
 * driver (better-sqlite3) in this process with the directory stopped: the raw rate of
 * the heartbeat's UPDATE alone, and of the four statements the route issues
 * (token lookup, update, address upsert, re-read).
 *
 * PostgreSQL is not measured here (see docs/benchmarks.md).
 *
 * Run: npm run bench:heartbeats [-- --quick]
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { nodeTokenFingerprint } from '@iicp/crypto';
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
import { benchNodeId, dataDirFor, seedDirectory, startDirectory } from './seed.ts';

const args = parseArgs();
const NODES = args.quick ? 2_000 : 100_000;
const HOT = args.quick ? 100 : 2_000;
const CONNECTIONS = [8, 64];

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

await withTempDir('iicp-bench-hb-', async (dir) => {
  const dataDir = dataDirFor(dir, NODES);
  const hot = await seedDirectory(dataDir, NODES, HOT);
  const rows: ResultRow[] = [];
  const lines: string[][] = [];
  const directory = await startDirectory(dataDir);
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
        loadRow(`directory heartbeats, ${NODES} nodes`, connections, r, {
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
  const ms = args.quick ? 200 : 3_000;
  const lookups = hot.map((n) => nodeTokenFingerprint(n.token).slice(0, 16));
  const updateRate = rate((i) => {
    const now = Date.now() + 60_000;
    update.run((i % 4) / 4, i % 4, now, '127.0.0.1', now, benchNodeId(i % NODES));
  }, ms);
  const routeRate = rate((i) => {
    const now = Date.now() + 60_000;
    const id = hot[i % hot.length]!.nodeId;
    lookup.all(lookups[i % hot.length]);
    update.run((i % 4) / 4, i % 4, now, '127.0.0.1', now, id);
    address.run(id, '127.0.0.1', now, now);
    get.get(id);
  }, ms);
  db.close();
  for (const [name, v] of [
    ['better-sqlite3: the heartbeat UPDATE alone', updateRate],
    ["better-sqlite3: the route's 4 statements", routeRate],
  ] as const) {
    rows.push({ name, connections: 1, rps: Math.round(v) });
    lines.push([name, '1 (sync)', fmtInt(v), '', '', '0', '']);
  }
  console.log(machineLine());
  if (args.quick) console.log('(quick smoke run: numbers are not meaningful)');
  console.log('');
  console.log(
    table(
      ['Heartbeats, SQLite', 'Conns', 'per s', 'p50 ms', 'p99 ms', 'errors', 'peak RSS MB'],
      lines,
    ),
  );
  console.log('');
  emitResult('heartbeats', args, rows);
});
