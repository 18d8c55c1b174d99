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
import { BACKEND_MODEL, STREAM_TOKENS } from './backend-spec.ts';
import {
  cannon,
  emitResult,
  fmtInt,
  fmtMb,
  fmtMs,
  loadRow,
  machineLine,
  parseArgs,
  round3,
  rssPeak,
  table,
  withTempDir,
  type LoadResult,
  type ResultRow,
} from './harness.ts';
import { startMesh } from './mesh.ts';
import { startPortkey, stop } from './procs.ts';
import { streamLoad, type StreamLoadResult } from './stream-load.ts';

const args = parseArgs();
const CONNECTIONS = [1, 8];
const DURATION_S = 5;
/**
 * Seconds of discarded load before each measured row. The proxy and node are JIT-compiled
 * JavaScript two hops deep: at 1 connection one second is only a few hundred calls, not
 * enough for V8 to optimise the hot paths, so every target gets three (and two for
 * streams) before it is measured.
 */
const WARMUP_S = 3;
const STREAM_WARMUP_S = 2;
const QUICK_AMOUNT = 100;

const messages = [{ role: 'user', content: 'Say pong.' }];
const body = JSON.stringify({ model: BACKEND_MODEL, messages });
const streamBody = JSON.stringify({ model: BACKEND_MODEL, messages, stream: true });

function freePort(): Promise<number> {
  return new Promise((r) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => r(port));
    });
  });
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
    const rows: ResultRow[] = [];
    const plain: string[][] = [];
    const streamed: string[][] = [];
    for (const connections of CONNECTIONS) {
      let base: LoadResult | undefined;
      for (const t of targets) {
        const peakProxy = rssPeak(t.pid);
        const peakNode = rssPeak(mesh.procs.node.child.pid);
        const r = await cannon({
          url: t.url,
          method: 'POST',
          headers: { 'content-type': 'application/json', ...t.headers },
          body,
          connections,
          ...(args.quick ? { amount: QUICK_AMOUNT } : { durationS: DURATION_S, warmupS: WARMUP_S }),
        });
        const rss = peakProxy();
        const nodeRss = peakNode();
        base ??= r;
        const added = r.latency.p50 - base.latency.p50;
        rows.push(
          loadRow(`non-streamed: ${t.name}`, connections, r, {
            added_p50_ms: round3(added),
            rss_mb: Math.round(rss),
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
          `${(r.rps / base.rps).toFixed(2)}×`,
          String(r.errors),
          t.name.startsWith('iicp') ? `${fmtMb(rss)} + node ${fmtMb(nodeRss)}` : fmtMb(rss),
        ]);
      }
      let sbase: StreamLoadResult | undefined;
      for (const t of targets) {
        const streamOpts = {
          url: t.url,
          headers: t.headers,
          body: streamBody,
          connections,
          firstMarker: 'tok0',
          lastMarker: `tok${STREAM_TOKENS - 1}`,
        };
        if (!args.quick) await streamLoad({ ...streamOpts, durationS: STREAM_WARMUP_S });
        const r = await streamLoad({
          ...streamOpts,
          ...(args.quick ? { amount: QUICK_AMOUNT } : { durationS: DURATION_S }),
        });
        sbase ??= r;
        rows.push({
          name: `streamed: ${t.name}`,
          connections,
          requests: r.requests,
          rps: Math.round(r.rps),
          ttft_p50_ms: round3(r.ttft.p50),
          ttft_p99_ms: round3(r.ttft.p99),
          ttlt_p50_ms: round3(r.ttlt.p50),
          ttlt_p99_ms: round3(r.ttlt.p99),
          added_ttft_p50_ms: round3(r.ttft.p50 - sbase.ttft.p50),
          errors: r.errors,
        });
        streamed.push([
          t.name,
          String(connections),
          fmtInt(r.rps),
          fmtMs(r.ttft.p50),
          fmtMs(r.ttft.p99),
          `+${fmtMs(r.ttft.p50 - sbase.ttft.p50)}`,
          fmtMs(r.ttlt.p50),
          fmtMs(r.ttlt.p99),
          `+${fmtMs(r.ttlt.p50 - sbase.ttlt.p50)}`,
          String(r.errors),
        ]);
      }
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
        ],
        streamed,
      ),
    );
    console.log('');
    emitResult('task-path', args, rows);
  } finally {
    await stop(portkey.proc);
    await mesh.close();
  }
});
