/**
 * Relay: the same CALL to iicp-node sent to its own listener, and through iicp-relay
 * (`/v1/relay-for/{node_id}/v1/task`, the node bound over long-poll with
 * `--relay URL`), at 1 and 8 connections. Every request carries a fresh task id
 * (a counter, so runs are repeatable) because the node remembers task ids.
 *
 * Run: npm run bench:relay [-- --quick]
 */
import { startApp, type AppProcess } from '@iicp/tools-e2e';
import {
  cannon,
  cannonRounds,
  JIT_WARMUP_CALLS,
  JIT_WARMUP_CONNECTIONS,
  emitResult,
  fmtInt,
  fmtMb,
  fmtMs,
  loadRow,
  machineLine,
  parseArgs,
  pairedMedian,
  round3,
  rssHighWater,
  table,
  withTempDir,
  type ResultRow,
} from './harness.ts';
import { startMesh } from './mesh.ts';
import { stop } from './procs.ts';

const args = parseArgs();
const CONNECTIONS = [1, 8];
/** Interleaved rounds per connection count, and seconds per target per round. */
const ROUNDS = 5;
const ROUND_S = 2;
const CHAT = 'urn:iicp:intent:llm:chat:v1';

const taskId = (i: number): string =>
  `00000000-0000-4000-8000-${(i + 1).toString(16).padStart(12, '0')}`;

await withTempDir('iicp-bench-relay-', async (dir) => {
  let relay: AppProcess | undefined;
  let relayUrl = '';
  const mesh = await startMesh(dir, {
    beforeNode: async (directoryUrl) => {
      relay = startApp('relay', [
        'serve',
        '--port',
        '0',
        '--directory-url',
        directoryUrl,
        '--no-require-ticket',
        '--log-level',
        'warn',
      ]);
      relayUrl = (await relay.waitFor(/iicp-relay listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
    },
    relayUrl: () => relayUrl,
  });
  try {
    let seq = 0;
    const makeBody = (): string =>
      JSON.stringify({
        task_id: taskId(seq++),
        intent: CHAT,
        payload: { messages: [{ role: 'user', content: 'Say pong.' }] },
        constraints: { timeout_ms: 30_000 },
        auth: { node_token: mesh.nodeToken },
      });
    const targets = [
      { name: 'direct to iicp-node', url: `${mesh.nodeUrl}/v1/task` },
      {
        name: 'through iicp-relay',
        url: `${relayUrl}/v1/relay-for/${mesh.nodeId}/v1/task`,
      },
    ];
    const rows: ResultRow[] = [];
    const lines: string[][] = [];
    if (!args.quick) {
      // The same number of calls through each target first (JIT_WARMUP_CALLS).
      for (const t of targets) {
        console.error(
          `warming up ${t.name}: ${fmtInt(JIT_WARMUP_CALLS)} calls at ${JIT_WARMUP_CONNECTIONS} connections`,
        );
        await cannon({
          url: t.url,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          makeBody,
          connections: JIT_WARMUP_CONNECTIONS,
          amount: JIT_WARMUP_CALLS,
        });
      }
    }
    for (const connections of CONNECTIONS) {
      // Both targets warmed up again at this connection count (three seconds), then
      // ROUNDS interleaved windows each; "added" is the median over the rounds of the
      // relay's p50 minus the direct p50 of the same round.
      const results = await cannonRounds(
        targets.map((t) => ({
          url: t.url,
          method: 'POST' as const,
          headers: { 'content-type': 'application/json' },
          makeBody,
          connections,
        })),
        args.quick
          ? { rounds: 1, roundS: 0, amount: 100 }
          : { rounds: ROUNDS, roundS: ROUND_S, warmupS: 3 },
      );
      const baseRounds = results[0]!.rounds.map((x) => x.latency.p50);
      const base = results[0]!.total;
      for (const [i, t] of targets.entries()) {
        const r = results[i]!.total;
        const added = pairedMedian(
          results[i]!.rounds.map((x) => x.latency.p50),
          baseRounds,
        );
        const relayRss = rssHighWater(relay?.child.pid);
        rows.push(loadRow(t.name, connections, r, { added_p50_ms: round3(added) }));
        lines.push([
          t.name,
          String(connections),
          fmtInt(r.rps),
          fmtMs(r.latency.p50),
          fmtMs(r.latency.p90),
          fmtMs(r.latency.p99),
          `+${fmtMs(added)}`,
          `${(r.rps / base.rps).toFixed(2)}×`,
          String(r.errors),
          t.name.includes('relay') ? fmtMb(relayRss) : '',
        ]);
      }
    }
    console.log(machineLine());
    if (args.quick) console.log('(quick smoke run: numbers are not meaningful)');
    console.log('');
    console.log(
      table(
        [
          'Task (non-streamed)',
          'Conns',
          'req/s',
          'p50 ms',
          'p90 ms',
          'p99 ms',
          'added p50',
          'req/s ratio',
          'errors',
          'relay peak RSS MB',
        ],
        lines,
      ),
    );
    console.log('');
    emitResult('relay', args, rows);
  } finally {
    await mesh.close();
    await stop(relay);
  }
});
