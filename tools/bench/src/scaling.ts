/**
 * Scaling: discover throughput (`GET /v1/discover?intent=…chat…&limit=10`, 10,000 live
 * nodes) with one iicp-directory instance and then two instances sharing one PostgreSQL
 * (a throwaway cluster from `@iicp/directory/testing`), at 8 and 64 connections. With two
 * instances the connections are split evenly over both (one autocannon per instance, run
 * at the same time); req/s is the sum, latencies are the slower instance's.
 *
 * PostgreSQL is seeded through the directory's storage layer by seed.ts (the same
 * deterministic population as the discover scenario: 6 regions, 4 models, spread loads
 * and reputations, `last_seen` ahead of now so the nodes stay live without heartbeats);
 * the instances share seed.ts's fixed bench signing key.
 *
 * On a machine with few cores the second instance competes with the first (and with
 * PostgreSQL and the load generator) for the same CPUs: expect it to show its overhead
 * rather than a gain there.
 *
 * Run: npm run bench:scaling [-- --quick]
 */
import { createTestDatabase, startTestPostgres } from '@iicp/directory/testing';
import type { AppProcess } from '@iicp/tools-e2e';
import {
  cannon,
  emitResult,
  fmtInt,
  fmtMb,
  fmtMs,
  loadRow,
  machineLine,
  parseArgs,
  rssMb,
  table,
  type LoadResult,
  type ResultRow,
} from './harness.ts';
import { stop } from './procs.ts';
import { CHAT_INTENT, seedDirectory, startDirectory } from './seed.ts';

const args = parseArgs();
const NODES = args.quick ? 1_000 : 10_000;
const CONNECTIONS = [8, 64];
const QUERY = `/v1/discover?intent=${encodeURIComponent(CHAT_INTENT)}&limit=10`;

async function startInstance(databaseUrl: string): Promise<{ proc: AppProcess; url: string }> {
  const started = await startDirectory({ databaseUrl });
  const res = await fetch(`${started.url}${QUERY}`);
  const listed = ((await res.json()) as { count?: number }).count;
  if (res.status !== 200 || listed !== 10)
    throw new Error(`discover answered ${res.status} with ${listed} nodes`);
  return started;
}

/** Load spread evenly over the instances, at the same time; rps summed. */
async function spread(urls: readonly string[], connections: number): Promise<LoadResult> {
  const per = Math.max(1, Math.floor(connections / urls.length));
  const results = await Promise.all(
    urls.map((url) =>
      cannon({
        url: `${url}${QUERY}`,
        connections: per,
        ...(args.quick ? { amount: 200 } : { durationS: 5, warmupS: 1 }),
      }),
    ),
  );
  const worst = (k: 'p50' | 'p90' | 'p99'): number => Math.max(...results.map((r) => r.latency[k]));
  return {
    requests: results.reduce((a, r) => a + r.requests, 0),
    rps: results.reduce((a, r) => a + r.rps, 0),
    latency: { p50: worst('p50'), p90: worst('p90'), p99: worst('p99') },
    errors: results.reduce((a, r) => a + r.errors, 0),
  };
}

const pg = await startTestPostgres();
const instances: { proc: AppProcess; url: string }[] = [];
try {
  const databaseUrl = await createTestDatabase(pg.url, 'iicp_bench_scaling');
  const t0 = performance.now();
  await seedDirectory({ databaseUrl }, NODES);
  const seedS = (performance.now() - t0) / 1000;
  const rows: ResultRow[] = [];
  const lines: string[][] = [];
  const single = new Map<number, number>();
  for (const count of [1, 2]) {
    while (instances.length < count) instances.push(await startInstance(databaseUrl));
    for (const connections of CONNECTIONS) {
      const r = await spread(
        instances.map((i) => i.url),
        connections,
      );
      if (count === 1) single.set(connections, r.rps);
      const ratio = r.rps / single.get(connections)!;
      const rss = instances.map((i) => rssMb(i.proc.child.pid));
      const name = `${count} instance${count > 1 ? 's' : ''}, one PostgreSQL`;
      rows.push(
        loadRow(`discover via ${name}`, connections, r, {
          instances: count,
          ratio_to_one: Math.round(ratio * 1000) / 1000,
          rss_mb_max: Math.round(Math.max(...rss)),
        }),
      );
      lines.push([
        name,
        String(connections),
        fmtInt(r.rps),
        fmtMs(r.latency.p50),
        fmtMs(r.latency.p90),
        fmtMs(r.latency.p99),
        String(r.errors),
        `${ratio.toFixed(2)}×`,
        rss.map(fmtMb).join(' + '),
      ]);
    }
  }
  console.log(machineLine());
  if (args.quick) console.log('(quick smoke run: numbers are not meaningful)');
  console.log(
    `${NODES.toLocaleString('en-US')} live nodes seeded into PostgreSQL in ${seedS.toFixed(1)} s`,
  );
  console.log('');
  console.log(
    table(
      [
        `Discover, limit 10, ${NODES.toLocaleString('en-US')} nodes`,
        'Conns',
        'req/s',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'errors',
        'vs 1 instance',
        'RSS MB',
      ],
      lines,
    ),
  );
  console.log('');
  emitResult('scaling', args, rows);
} finally {
  for (const i of instances) await stop(i.proc);
  await pg.stop();
}
