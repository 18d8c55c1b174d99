/**
 * Memory: iicp-directory RSS with 10,000 and 100,000 live nodes (seeded, see seed.ts)
 * at rest after its index warm-up and at peak under discover load; iicp-node and
 * iicp-proxy RSS at rest and at peak under 8 connections of non-streamed chat through
 * the proxy. RSS is read from /proc every 100 ms.
 *
 * Run: npm run bench:memory [-- --quick]
 */
import { BACKEND_MODEL } from './backend-spec.ts';
import {
  cannon,
  emitResult,
  fmtMb,
  machineLine,
  parseArgs,
  rssMb,
  rssPeak,
  table,
  withTempDir,
  type ResultRow,
} from './harness.ts';
import { startMesh } from './mesh.ts';
import { stop } from './procs.ts';
import { keepSeededNodesLive } from './keep-live.ts';
import { CHAT_INTENT, dataDirFor, seedDirectory, startDirectory } from './seed.ts';

const args = parseArgs();
const COUNTS = args.quick ? [1_000] : [10_000, 100_000];
const load = args.quick ? { amount: 200 } : { durationS: 5 };

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, args.quick ? 200 : 2_000));

await withTempDir('iicp-bench-mem-', async (dir) => {
  const rows: ResultRow[] = [];
  const lines: string[][] = [];
  for (const count of COUNTS) {
    const dataDir = dataDirFor(dir, count);
    await seedDirectory(dataDir, count);
    await keepSeededNodesLive(dataDir);
    const directory = await startDirectory(dataDir);
    try {
      await settle();
      const rest = rssMb(directory.proc.child.pid);
      const peak = rssPeak(directory.proc.child.pid);
      const r = await cannon({
        url: `${directory.url}/v1/discover?intent=${encodeURIComponent(CHAT_INTENT)}&limit=10`,
        connections: 8,
        ...load,
      });
      const top = peak();
      rows.push({
        name: `iicp-directory, ${count} nodes`,
        rest_rss_mb: Math.round(rest),
        load_rss_mb: Math.round(top),
        errors: r.errors,
      });
      lines.push([
        `iicp-directory, ${count.toLocaleString('en-US')} live nodes`,
        fmtMb(rest),
        fmtMb(top),
        'discover, 8 conns',
      ]);
    } finally {
      await stop(directory.proc);
    }
  }
  const mesh = await startMesh(dir);
  try {
    await settle();
    const nodePid = mesh.procs.node.child.pid;
    const proxyPid = mesh.procs.proxy.child.pid;
    const restNode = rssMb(nodePid);
    const restProxy = rssMb(proxyPid);
    const peakNode = rssPeak(nodePid);
    const peakProxy = rssPeak(proxyPid);
    const r = await cannon({
      url: `${mesh.proxyUrl}/v1/chat/completions`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: BACKEND_MODEL,
        messages: [{ role: 'user', content: 'Say pong.' }],
      }),
      connections: 8,
      ...load,
    });
    const topNode = peakNode();
    const topProxy = peakProxy();
    rows.push({
      name: 'iicp-node',
      rest_rss_mb: Math.round(restNode),
      load_rss_mb: Math.round(topNode),
      errors: r.errors,
    });
    rows.push({
      name: 'iicp-proxy',
      rest_rss_mb: Math.round(restProxy),
      load_rss_mb: Math.round(topProxy),
      errors: r.errors,
    });
    lines.push(['iicp-node', fmtMb(restNode), fmtMb(topNode), 'chat via proxy, 8 conns']);
    lines.push(['iicp-proxy', fmtMb(restProxy), fmtMb(topProxy), 'chat via proxy, 8 conns']);
  } finally {
    await mesh.close();
  }
  console.log(machineLine());
  if (args.quick) console.log('(quick smoke run: numbers are not meaningful)');
  console.log('');
  console.log(table(['Process', 'RSS at rest MB', 'peak RSS under load MB', 'load'], lines));
  console.log('');
  emitResult('memory', args, rows);
});
