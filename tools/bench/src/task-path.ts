/**
 * Task path (the headline): consumer → iicp-proxy → iicp-node → scripted
 * OpenAI-compatible backend, against the same request sent to the backend directly and
 * through the Portkey AI gateway (one hop) to the same backend. Non-streamed with
 * autocannon (req/s, p50/p90/p99); streamed with the purpose-built generator (time to
 * first token, time to last token). 1 and 8 connections.
 *
 * Run: npm run bench:task-path [-- --quick]
 */
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { BACKEND_MODEL, BACKEND_REPLY, STREAM_TOKENS } from './backend-spec.ts';
import {
  cannon,
  cannonRounds,
  JIT_WARMUP_CALLS,
  JIT_WARMUP_CONNECTIONS,
  JIT_WARMUP_STREAMS,
  cpuSnapshot,
  emitResult,
  fmtInt,
  fmtMb,
  fmtMs,
  loadRow,
  machineLine,
  medianOf,
  otherCpus,
  parseArgs,
  pairedMedian,
  round3,
  rssHighWater,
  Samples,
  table,
  withTempDir,
  type ResultRow,
} from './harness.ts';
import { startMesh } from './mesh.ts';
import { startPortkey, stop } from './procs.ts';
import {
  streamLoad,
  type StreamLoadOptions,
  type StreamLoadResult,
  type StreamSamples,
} from './stream-load.ts';

const args = parseArgs();
const CONNECTIONS = [1, 8];
/** Interleaved rounds per connection count, and seconds per target per round. */
const ROUNDS = 5;
const ROUND_S = 2;
/**
 * Seconds of discarded load before each measured row. The proxy and node are JIT-compiled
 * JavaScript two hops deep: at 1 connection one second is only a few hundred calls, not
 * enough for V8 to optimise the hot paths, so every target gets three (and two for
 * streams) before it is measured.
 */
const WARMUP_S = 3;
const STREAM_WARMUP_S = 2;
/**
 * The paced rows: one connection, each call sent this many milliseconds after the
 * previous answer, so every call meets an idle chain (processes asleep, CPUs possibly
 * halted) instead of one kept hot by back-to-back calls. A caller that does anything
 * between its calls sees this case; so does a stream's first token.
 */
const PAUSE_MS = 3;
const QUICK_AMOUNT = 100;

const messages = [{ role: 'user', content: 'Say pong.' }];
const body = JSON.stringify({ model: BACKEND_MODEL, messages });
const streamBody = JSON.stringify({ model: BACKEND_MODEL, messages, stream: true });

const fmtCpus = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '–');

function freePort(): Promise<number> {
  return new Promise((r) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => r(port));
    });
  });
}

/** What {@link streamRounds} measured, per target (same order as its options). */
interface StreamRounds {
  /** Every sample of every round. */
  readonly merged: StreamSamples[];
  readonly perRound: StreamLoadResult[][];
  /** CPUs used outside the scenario in each round. */
  readonly other: number[][];
  /** Seconds spent measuring. */
  readonly spent: number[];
}

/**
 * Interleaved rounds of the stream generator, as `cannonRounds` does for autocannon:
 * each round runs every target once, in order (one round of a few calls with --quick).
 */
async function streamRounds(
  opts: readonly StreamLoadOptions[],
  ownPids: readonly (number | undefined)[],
): Promise<StreamRounds> {
  const out: StreamRounds = {
    merged: opts.map(() => ({ ttft: new Samples(), ttlt: new Samples() })),
    perRound: opts.map(() => []),
    other: opts.map(() => []),
    spent: opts.map(() => 0),
  };
  for (let round = 0; round < (args.quick ? 1 : ROUNDS); round++) {
    for (const [i, o] of opts.entries()) {
      const before = cpuSnapshot(ownPids);
      const started = performance.now();
      const r = await streamLoad(
        { ...o, ...(args.quick ? { amount: QUICK_AMOUNT } : { durationS: ROUND_S }) },
        out.merged[i],
      );
      out.spent[i]! += (performance.now() - started) / 1000;
      const after = before ? cpuSnapshot(ownPids) : undefined;
      out.other[i]!.push(before && after ? otherCpus(before, after).other : Number.NaN);
      out.perRound[i]!.push(r);
    }
  }
  return out;
}

interface Target {
  readonly name: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly pid: number | undefined;
}

await withTempDir('iicp-bench-task-', async (dir) => {
  // The directory's --data-dir may be expected to exist: create it rather than depend on it.
  await mkdir(join(dir, 'directory'), { recursive: true });
  const mesh = await startMesh(dir);
  const portkey = await startPortkey(await freePort());
  try {
    const targets: Target[] = [
      {
        name: 'direct to backend',
        url: `${mesh.backendUrl}/v1/chat/completions`,
        headers: {},
        pid: mesh.procs.backend.child.pid,
      },
      {
        name: 'Portkey gateway → backend',
        url: `${portkey.url}/v1/chat/completions`,
        headers: {
          'x-portkey-provider': 'openai',
          'x-portkey-custom-host': `${mesh.backendUrl}/v1`,
          authorization: 'Bearer bench-unused',
        },
        pid: portkey.proc.child.pid,
      },
      {
        name: 'iicp-proxy → iicp-node → backend',
        url: `${mesh.proxyUrl}/v1/chat/completions`,
        headers: {},
        pid: mesh.procs.proxy.child.pid,
      },
    ];
    // Everything this scenario runs; any other CPU use on the machine is shown per row.
    const ownPids = [
      process.pid,
      ...Object.values(mesh.procs).map((p) => p.child.pid),
      portkey.proc.child.pid,
    ];
    const rows: ResultRow[] = [];
    const plain: string[][] = [];
    const streamed: string[][] = [];
    if (!args.quick) {
      for (const t of targets) {
        console.error(
          `warming up ${t.name}: ${fmtInt(JIT_WARMUP_CALLS)} calls and ${fmtInt(JIT_WARMUP_STREAMS)} streams at ${JIT_WARMUP_CONNECTIONS} connections`,
        );
        await cannon({
          url: t.url,
          method: 'POST',
          headers: { 'content-type': 'application/json', ...t.headers },
          body,
          connections: JIT_WARMUP_CONNECTIONS,
          amount: JIT_WARMUP_CALLS,
        });
        await streamLoad({
          url: t.url,
          headers: t.headers,
          body: streamBody,
          connections: JIT_WARMUP_CONNECTIONS,
          firstMarker: 'tok0',
          lastMarker: `tok${STREAM_TOKENS - 1}`,
          amount: JIT_WARMUP_STREAMS,
        });
      }
    }
    for (const connections of CONNECTIONS) {
      // Non-streamed: every target warmed up, then ROUNDS interleaved windows each
      // (direct, Portkey, IICP, direct, …). "added" is the median over the rounds of the
      // target's p50 minus the direct p50 of the same round.
      const results = await cannonRounds(
        targets.map((t) => ({
          url: t.url,
          method: 'POST' as const,
          headers: { 'content-type': 'application/json', ...t.headers },
          body,
          connections,
        })),
        args.quick
          ? { rounds: 1, roundS: 0, amount: QUICK_AMOUNT, ownPids }
          : { rounds: ROUNDS, roundS: ROUND_S, warmupS: WARMUP_S, ownPids },
      );
      const baseRounds = results[0]!.rounds.map((r) => r.latency.p50);
      const baseRps = results[0]!.total.rps;
      for (const [i, t] of targets.entries()) {
        const r = results[i]!.total;
        const added = pairedMedian(
          results[i]!.rounds.map((x) => x.latency.p50),
          baseRounds,
        );
        const rss = rssHighWater(t.pid);
        const nodeRss = rssHighWater(mesh.procs.node.child.pid);
        const other = medianOf(results[i]!.otherCpus);
        rows.push(
          loadRow(`non-streamed: ${t.name}`, connections, r, {
            added_p50_ms: round3(added),
            rss_mb: Math.round(rss),
            other_cpus: round3(other),
          }),
        );
        plain.push([
          t.name,
          String(connections),
          fmtInt(r.rps),
          fmtMs(r.latency.p50),
          fmtMs(r.latency.p90),
          fmtMs(r.latency.p99),
          `+${fmtMs(added)}`,
          `${(r.rps / baseRps).toFixed(2)}×`,
          String(r.errors),
          t.name.startsWith('iicp') ? `${fmtMb(rss)} + node ${fmtMb(nodeRss)}` : fmtMb(rss),
          fmtCpus(other),
        ]);
      }

      // Streamed, the same way: warm-up, then interleaved rounds.
      const streamOpts = targets.map((t) => ({
        url: t.url,
        headers: t.headers,
        body: streamBody,
        connections,
        firstMarker: 'tok0',
        lastMarker: `tok${STREAM_TOKENS - 1}`,
      }));
      if (!args.quick) {
        for (const o of streamOpts) await streamLoad({ ...o, durationS: STREAM_WARMUP_S });
      }
      const {
        merged,
        perRound,
        other: otherPerRound,
        spent,
      } = await streamRounds(streamOpts, ownPids);
      const ttftBase = perRound[0]!.map((r) => r.ttft.p50);
      const ttltBase = perRound[0]!.map((r) => r.ttlt.p50);
      for (const [i, t] of targets.entries()) {
        const ttft = merged[i]!.ttft.summary();
        const ttlt = merged[i]!.ttlt.summary();
        const done = merged[i]!.ttft.length;
        const errors = perRound[i]!.reduce((n, r) => n + r.errors, 0);
        const rps = done / Math.max(1e-3, spent[i]!);
        const addedTtft = pairedMedian(
          perRound[i]!.map((r) => r.ttft.p50),
          ttftBase,
        );
        const addedTtlt = pairedMedian(
          perRound[i]!.map((r) => r.ttlt.p50),
          ttltBase,
        );
        const other = medianOf(otherPerRound[i]!);
        rows.push({
          name: `streamed: ${t.name}`,
          connections,
          requests: done + errors,
          rps: Math.round(rps),
          ttft_p50_ms: round3(ttft.p50),
          ttft_p99_ms: round3(ttft.p99),
          ttlt_p50_ms: round3(ttlt.p50),
          ttlt_p99_ms: round3(ttlt.p99),
          added_ttft_p50_ms: round3(addedTtft),
          errors,
          other_cpus: round3(other),
        });
        streamed.push([
          t.name,
          String(connections),
          fmtInt(rps),
          fmtMs(ttft.p50),
          fmtMs(ttft.p99),
          `+${fmtMs(addedTtft)}`,
          fmtMs(ttlt.p50),
          fmtMs(ttlt.p99),
          `+${fmtMs(addedTtlt)}`,
          String(errors),
          fmtCpus(other),
        ]);
      }
    }
    // Paced: non-streamed calls at 1 connection with a pause between them, interleaved
    // rounds as above; the time measured is the whole answer.
    const pacedOpts = targets.map((t) => ({
      url: t.url,
      headers: t.headers,
      body,
      connections: 1,
      firstMarker: BACKEND_REPLY,
      lastMarker: BACKEND_REPLY,
      pauseMs: PAUSE_MS,
    }));
    const {
      merged: pacedMerged,
      perRound: pacedRounds,
      other: pacedOther,
      spent: pacedSpent,
    } = await streamRounds(pacedOpts, ownPids);
    const pacedBase = pacedRounds[0]!.map((r) => r.ttlt.p50);
    const paced: string[][] = [];
    for (const [i, t] of targets.entries()) {
      const lat = pacedMerged[i]!.ttlt.summary();
      const done = pacedMerged[i]!.ttlt.length;
      const errors = pacedRounds[i]!.reduce((n, r) => n + r.errors, 0);
      const added = pairedMedian(
        pacedRounds[i]!.map((r) => r.ttlt.p50),
        pacedBase,
      );
      const other = medianOf(pacedOther[i]!);
      rows.push({
        name: `paced: ${t.name}`,
        connections: 1,
        pause_ms: PAUSE_MS,
        requests: done + errors,
        p50_ms: round3(lat.p50),
        p90_ms: round3(lat.p90),
        p99_ms: round3(lat.p99),
        added_p50_ms: round3(added),
        errors,
        other_cpus: round3(other),
      });
      paced.push([
        t.name,
        fmtInt(done / Math.max(1e-3, pacedSpent[i]!)),
        fmtMs(lat.p50),
        fmtMs(lat.p90),
        fmtMs(lat.p99),
        `+${fmtMs(added)}`,
        String(errors),
        fmtCpus(other),
      ]);
    }

    console.log(machineLine());
    console.log(args.quick ? '(quick smoke run: numbers are not meaningful)' : '');
    console.log('');
    console.log(
      table(
        [
          'Non-streamed chat',
          'Conns',
          'req/s',
          'p50 ms',
          'p90 ms',
          'p99 ms',
          'added p50',
          'req/s ratio',
          'errors',
          'peak RSS MB',
          'other CPUs',
        ],
        plain,
      ),
    );
    console.log('');
    console.log(
      table(
        [
          `Streamed chat (${STREAM_TOKENS} tokens)`,
          'Conns',
          'streams/s',
          'TTFT p50',
          'TTFT p99',
          'added TTFT p50',
          'TTLT p50',
          'TTLT p99',
          'added TTLT p50',
          'errors',
          'other CPUs',
        ],
        streamed,
      ),
    );
    console.log('');
    console.log(
      table(
        [
          `Non-streamed chat, 1 connection, ${PAUSE_MS} ms pause between calls`,
          'calls/s',
          'p50 ms',
          'p90 ms',
          'p99 ms',
          'added p50',
          'errors',
          'other CPUs',
        ],
        paced,
      ),
    );
    console.log('');
    console.log(
      '"other CPUs": CPU used by processes outside this scenario during the row\'s rounds (median; 1 = one core). On 2 cores the 1-connection rows need it near 0: one busy core puts the whole chain on the other one and adds about 1 ms to the streamed first token.',
    );
    console.log('');
    emitResult('task-path', args, rows);
  } finally {
    await stop(portkey.proc);
    await mesh.close();
  }
});
