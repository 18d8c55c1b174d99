/**
 * A/B of the task path between two versions of the code, side by side in one run: an
 * earlier commit (A, checked out in a temporary worktree, see base-tree.ts) and this
 * working tree (B), each as its own chain of directory, node, proxy and scripted backend.
 * After the usual call-count warm-up the two chains and the direct route take turns in
 * short rounds at 1 connection, so that whatever else the shared machine does falls on
 * both alike. Reports each chain's latency, its CPU per call in proxy and node (from
 * /proc schedstat) and the paired round-by-round difference. On a machine this noisy,
 * a change of tens of microseconds shows only here, not between two separate runs.
 *
 * Run: npm run bench:ab [-- --base <rev>] [--rounds <n>] [--quick]
 *   --base    the commit to compare against (default HEAD: what the uncommitted change does)
 *   --rounds  rounds of 2 s per chain (default 16)
 *
 * Both chains use this checkout's installed packages; only the repository's own sources
 * differ. A base whose lockfile differs is measured with today's dependencies.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseAbArgs, type AbArgs } from './ab-args.ts';
import { BACKEND_MODEL } from './backend-spec.ts';
import { checkoutBase, type BaseTree } from './base-tree.ts';
import {
  cannon,
  cannonRounds,
  emitResult,
  fmtInt,
  fmtMs,
  JIT_WARMUP_CALLS,
  JIT_WARMUP_CONNECTIONS,
  loadRow,
  machineLine,
  pairedMedian,
  round3,
  table,
  withTempDir,
  type ResultRow,
} from './harness.ts';
import { startMesh, type Mesh } from './mesh.ts';

const ROUND_S = 2;
const QUICK_AMOUNT = 100;
const body = JSON.stringify({
  model: BACKEND_MODEL,
  messages: [{ role: 'user', content: 'Say pong.' }],
});

/** CPU time (µs) a process's main thread has used so far; NaN where /proc has none. */
function cpuMicros(pid: number | undefined): number {
  const file = `/proc/${pid}/task/${pid}/schedstat`;
  if (pid === undefined || !existsSync(file)) return Number.NaN;
  return Number(readFileSync(file, 'utf8').split(' ')[0]) / 1000;
}

async function main(): Promise<void> {
  let args: AbArgs;
  try {
    args = parseAbArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`bench:ab: ${(err as Error).message}`);
    process.exitCode = 2;
    return;
  }
  let base: BaseTree;
  try {
    base = await checkoutBase(args.base, (line) => console.log(line));
  } catch (err) {
    console.error(`bench:ab: ${(err as Error).message}`);
    process.exitCode = 2;
    return;
  }
  const cleanup = (): void => {
    void base.remove().finally(() => process.exit(130));
  };
  process.once('SIGINT', cleanup);
  try {
    const baseMesh = pathToFileURL(join(base.dir, 'tools/bench/src/mesh.ts')).href;
    const { startMesh: startBaseMesh } = (await import(baseMesh)) as {
      startMesh: typeof startMesh;
    };
    await withTempDir('iicp-bench-ab-', async (dir) => {
      const meshes: Mesh[] = [];
      try {
        for (const [name, start] of [
          ['a', startBaseMesh],
          ['b', startMesh],
        ] as const) {
          await mkdir(join(dir, name, 'directory'), { recursive: true });
          meshes.push(await start(join(dir, name)));
        }
        await measure(args, base.commit, meshes[0]!, meshes[1]!);
      } finally {
        for (const m of meshes) await m.close();
      }
    });
  } finally {
    process.off('SIGINT', cleanup);
    await base.remove();
  }
}

async function measure(args: AbArgs, commit: string, a: Mesh, b: Mesh): Promise<void> {
  const headers = { 'content-type': 'application/json' };
  const chains = [
    { name: `A: ${commit.slice(0, 12)} (${args.base})`, mesh: a },
    { name: 'B: working tree', mesh: b },
  ];
  const targets = [
    { url: `${b.backendUrl}/v1/chat/completions`, method: 'POST' as const, headers, body },
    ...chains.map((c) => ({
      url: `${c.mesh.proxyUrl}/v1/chat/completions`,
      method: 'POST' as const,
      headers,
      body,
    })),
  ];
  if (!args.quick) {
    for (const [i, t] of targets.entries()) {
      console.error(
        `warming up ${i === 0 ? 'direct' : chains[i - 1]!.name}: ${fmtInt(JIT_WARMUP_CALLS)} calls at ${JIT_WARMUP_CONNECTIONS} connections`,
      );
      await cannon({ ...t, connections: JIT_WARMUP_CONNECTIONS, amount: JIT_WARMUP_CALLS });
    }
  }
  const pids = chains.map((c) => [c.mesh.procs.proxy.child.pid, c.mesh.procs.node.child.pid]);
  const cpuBefore = pids.map((p) => p.map(cpuMicros));
  const results = await cannonRounds(
    targets.map((t) => ({ ...t, connections: 1 })),
    args.quick
      ? { rounds: 2, roundS: ROUND_S, amount: QUICK_AMOUNT }
      : { rounds: args.rounds, roundS: ROUND_S },
  );
  const cpuAfter = pids.map((p) => p.map(cpuMicros));
  const roundP50 = results.map((r) => r.rounds.map((x) => x.latency.p50));
  const rows: ResultRow[] = [];
  const lines: string[][] = [];
  for (const [i, r] of results.entries()) {
    const added = i === 0 ? 0 : pairedMedian(roundP50[i]!, roundP50[0]!);
    const calls = r.total.requests - r.total.errors;
    const cpu =
      i === 0
        ? [Number.NaN, Number.NaN]
        : cpuAfter[i - 1]!.map((after, j) => (after - cpuBefore[i - 1]![j]!) / calls);
    const name = i === 0 ? 'direct to backend' : chains[i - 1]!.name;
    rows.push(
      loadRow(name, 1, r.total, {
        added_p50_ms: round3(added),
        proxy_cpu_us: round3(cpu[0]!),
        node_cpu_us: round3(cpu[1]!),
      }),
    );
    lines.push([
      name,
      fmtInt(r.total.rps),
      fmtMs(r.total.latency.p50),
      fmtMs(r.total.latency.p90),
      fmtMs(r.total.latency.p99),
      i === 0 ? '+0.00' : `+${fmtMs(added)}`,
      Number.isFinite(cpu[0]!) ? fmtInt(cpu[0]!) : '–',
      Number.isFinite(cpu[1]!) ? fmtInt(cpu[1]!) : '–',
      String(r.total.errors),
    ]);
  }
  const diffs = roundP50[1]!.map((x, i) => x - roundP50[2]![i]!);
  const bFaster = diffs.filter((d) => d > 0).length;
  const median = pairedMedian(roundP50[1]!, roundP50[2]!);
  rows.push({
    name: 'paired: A minus B',
    rounds: diffs.length,
    median_ms: round3(median),
    b_faster_rounds: bFaster,
  });
  console.log(`${machineLine()}\n`);
  console.log(
    table(
      [
        'Chat, 1 connection',
        'req/s',
        'p50 ms',
        'p90 ms',
        'p99 ms',
        'added p50',
        'proxy CPU µs/call',
        'node CPU µs/call',
        'errors',
      ],
      lines,
    ),
  );
  console.log(
    `\nRound p50 of A minus B over ${diffs.length} rounds: median ${median >= 0 ? '+' : ''}${fmtMs(median)} ms; B faster in ${bFaster} of ${diffs.length}.` +
      (args.quick ? ' (--quick: numbers not meaningful)' : ''),
  );
  console.log(`A rounds: ${roundP50[1]!.map(fmtMs).join(' ')}`);
  console.log(`B rounds: ${roundP50[2]!.map(fmtMs).join(' ')}\n`);
  emitResult('ab', { quick: args.quick }, rows);
}

await main();
