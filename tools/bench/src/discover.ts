/**
 * Discover: iicp-directory with 1k, 10k and 100k live nodes (seeded through its
 * storage layer, see seed.ts), `GET /v1/discover?intent=…chat…&limit=10`, at 1, 8 and
 * 64 connections, against a bare Fastify route answering the same JSON body (captured
 * from the directory in the same run). Also the directory's RSS at rest and under load.
 *
 * Run: npm run bench:discover [-- --quick]
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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
  rssPeak,
  table,
  withTempDir,
  type ResultRow,
} from './harness.ts';
import { startScript, stop } from './procs.ts';
import { keepSeededNodesLive } from './keep-live.ts';
import { CHAT_INTENT, dataDirFor, seedDirectory, startDirectory } from './seed.ts';

const args = parseArgs();
const COUNTS = args.quick ? [1_000] : [1_000, 10_000, 100_000];
const CONNECTIONS = [1, 8, 64];
const QUERY = `/v1/discover?intent=${encodeURIComponent(CHAT_INTENT)}&limit=10`;

await withTempDir('iicp-bench-discover-', async (dir) => {
  const rows: ResultRow[] = [];
  const lines: string[][] = [];
  const memory: string[][] = [];
  for (const count of COUNTS) {
    const dataDir = dataDirFor(dir, count);
    const t0 = performance.now();
    await seedDirectory(dataDir, count);
    await keepSeededNodesLive(dataDir);
    const seedS = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    const directory = await startDirectory(dataDir);
    const startS = (performance.now() - t1) / 1000;
    let bare: Awaited<ReturnType<typeof startScript>> | undefined;
    try {
      const res = await fetch(`${directory.url}${QUERY}`);
      const text = await res.text();
      const listed = (JSON.parse(text) as { count: number }).count;
      if (res.status !== 200 || listed !== 10)
        throw new Error(`discover answered ${res.status} with ${listed} nodes`);
      const bodyFile = join(dir, `body-${count}.json`);
      await writeFile(bodyFile, text);
      bare = startScript('bare-fastify.ts', [bodyFile]);
      const bareUrl = (await bare.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
      const restRss = rssMb(directory.proc.child.pid);
      const peak = rssPeak(directory.proc.child.pid);
      for (const connections of CONNECTIONS) {
        const load = (url: string) =>
          cannon({
            url,
            connections,
            ...(args.quick ? { amount: 200 } : { durationS: 3, warmupS: 1 }),
          });
        const base = await load(`${bareUrl}${QUERY}`);
        const r = await load(`${directory.url}${QUERY}`);
        const ratio = r.rps / base.rps;
        rows.push(loadRow(`bare Fastify (${count} nodes' body)`, connections, base));
        rows.push(
          loadRow(`directory discover, ${count} nodes`, connections, r, {
            ratio_to_baseline: Math.round(ratio * 1000) / 1000,
            body_bytes: text.length,
          }),
        );
        for (const [name, x, rel] of [
          [`bare Fastify, same ${text.length} B body`, base, ''],
          [`directory, ${count.toLocaleString('en-US')} nodes`, r, `${(ratio * 100).toFixed(0)} %`],
        ] as const) {
          lines.push([
            name,
            String(connections),
            fmtInt(x.rps),
            fmtMs(x.latency.p50),
            fmtMs(x.latency.p90),
            fmtMs(x.latency.p99),
            String(x.errors),
            rel,
          ]);
        }
      }
      const loadRss = peak();
      memory.push([
        count.toLocaleString('en-US'),
        seedS.toFixed(1),
        startS.toFixed(1),
        fmtMb(restRss),
        fmtMb(loadRss),
      ]);
      rows.push({
        name: `directory memory, ${count} nodes`,
        rest_rss_mb: Math.round(restRss),
        load_rss_mb: Math.round(loadRss),
        seed_s: Math.round(seedS * 10) / 10,
        start_s: Math.round(startS * 10) / 10,
      });
    } finally {
      await stop(bare);
      await stop(directory.proc);
    }
  }
  console.log(machineLine());
  if (args.quick) console.log('(quick smoke run: numbers are not meaningful)');
  console.log('');
  console.log(
    table(
      [
        'Discover, limit 10',
        'Conns',
        'req/s',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'errors',
        'of baseline',
      ],
      lines,
    ),
  );
  console.log('');
  console.log(
    table(
      [
        'Live nodes',
        'seed s',
        'start s (index warm-up)',
        'RSS at rest MB',
        'peak RSS under load MB',
      ],
      memory,
    ),
  );
  console.log('');
  emitResult('discover', args, rows);
});
