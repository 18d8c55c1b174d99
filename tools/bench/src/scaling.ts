/**
 * Scaling: discover throughput (`GET /v1/discover?intent=…chat…&limit=10`, 10,000 live
 * nodes) with one iicp-directory instance and then two instances sharing one PostgreSQL
 * (a throwaway cluster from `@iicp/directory/testing`), at 8 and 64 connections. With two
 * instances the connections are split evenly over both (one autocannon per instance, run
 * at the same time); req/s is the sum, latencies are the slower instance's.
 *
 * PostgreSQL is seeded through the directory's storage layer (`openDatabase` on the
 * database URL, the app's own migrations), with the same deterministic population as
 * seed.ts: 6 regions, 4 models, spread loads and reputations, `last_seen` ahead of now
 * so the nodes stay live without background heartbeats.
 *
 * On a machine with few cores the second instance competes with the first (and with
 * PostgreSQL and the load generator) for the same CPUs: expect it to show its overhead
 * rather than a gain there.
 *
 * Run: npm run bench:scaling [-- --quick]
 */
import { migrateToLatest, openDatabase } from '@iicp/directory';
import { createTestDatabase, startTestPostgres } from '@iicp/directory/testing';
import { startApp, type AppProcess } from '@iicp/tools-e2e';
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
import { benchNodeId, CHAT_INTENT } from './seed.ts';

const args = parseArgs();
const NODES = args.quick ? 1_000 : 10_000;
const CONNECTIONS = [8, 64];
const QUERY = `/v1/discover?intent=${encodeURIComponent(CHAT_INTENT)}&limit=10`;
const REGIONS = ['eu-west', 'eu-central', 'us-east', 'us-west', 'ap-south', 'global'];
const MODELS = ['llama-3-8b', 'llama-3-70b', 'mistral-7b', 'qwen-2-7b'];
/** Live for the whole run, however long the instances take to start (no heartbeats). */
const LIVE_AHEAD_MS = 3_600_000;
const BATCH = 400;
/** The instances' shared directory key (a fixed bench-only seed, never a real key). */
const BENCH_SIGNING_KEY = '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb';

/** A small deterministic generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seed `count` live nodes into the PostgreSQL database at `url` (migrating it first). */
async function seedPostgres(url: string, count: number): Promise<void> {
  const opened = await openDatabase({ databaseUrl: url });
  try {
    await migrateToLatest(opened.db as never);
    const rand = rng(42);
    const now = Date.now();
    for (let start = 0; start < count; start += BATCH) {
      const rows = [];
      for (let i = start; i < Math.min(count, start + BATCH); i++) {
        const nodeId = benchNodeId(i);
        const region = REGIONS[i % REGIONS.length]!;
        const models = [MODELS[i % MODELS.length]!, MODELS[(i + 1) % MODELS.length]!];
        const maxConcurrent = 1 + Math.floor(rand() * 16);
        const endpoint = `http://10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:9484`;
        const record = {
          node_id: nodeId,
          endpoint,
          region,
          capabilities: [{ intent: CHAT_INTENT, models, input_modalities: ['text'] }],
          limits: { max_concurrent: maxConcurrent },
          pricing: { credit_cost_multiplier: 0.5 + Math.round(rand() * 10) / 10 },
          cip_conformance_level: 'CIP-None',
        };
        const activeJobs = Math.floor(rand() * maxConcurrent);
        rows.push({
          node_id: nodeId,
          token_hash: '!',
          token_lookup: '!',
          token_version: 1,
          endpoint,
          region,
          record: JSON.stringify(record),
          load: activeJobs / maxConcurrent,
          active_jobs: activeJobs,
          available: 1,
          last_seen: now + LIVE_AHEAD_MS,
          dormant_since: null,
          reputation: Math.round((0.3 + rand() * 0.7) * 1000) / 1000,
          completed_tasks_count: Math.floor(rand() * 10_000),
          last_metrics_batch_id: null,
          observed_ip: null,
          status: 'active' as const,
          liveness_rtt_ms: Math.round(rand() * 50),
          registered_at: now,
          updated_at: now,
        });
      }
      await opened.db.insertInto('nodes').values(rows).execute();
    }
  } finally {
    await opened.close();
  }
}

async function startInstance(databaseUrl: string): Promise<{ proc: AppProcess; url: string }> {
  const proc = startApp(
    'directory',
    [
      'serve',
      '--port',
      '0',
      '--database-url',
      databaseUrl,
      '--allow-private-endpoints',
      '--log-level',
      'warn',
    ],
    { IICP_DIRECTORY_SIGNING_KEY: BENCH_SIGNING_KEY },
  );
  const url = (await proc.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
  const res = await fetch(`${url}${QUERY}`);
  const listed = ((await res.json()) as { count?: number }).count;
  if (res.status !== 200 || listed !== 10)
    throw new Error(`discover answered ${res.status} with ${listed} nodes`);
  return { proc, url };
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
  await seedPostgres(databaseUrl, NODES);
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
