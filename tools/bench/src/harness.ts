/**
 * Shared pieces of the load scenarios: command-line flags, a load run on autocannon
 * with sub-millisecond latencies, percentiles, RSS of a process, temporary
 * directories, and the Markdown table plus one machine-readable `BENCH_RESULT` line
 * every scenario prints last (the smoke test reads it; nothing else does).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';

export interface BenchArgs {
  /** Smoke mode: a few hundred requests per row, no warm-up to speak of. */
  readonly quick: boolean;
}

export function parseArgs(argv: readonly string[] = process.argv.slice(2)): BenchArgs {
  return { quick: argv.includes('--quick') };
}

/** Latency summary in milliseconds. */
export interface Latency {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

export function percentiles(samples: ArrayLike<number>, n = samples.length): Latency {
  const sorted = Float64Array.from({ length: n }, (_, i) => samples[i]!).sort();
  const at = (p: number): number =>
    n === 0 ? Number.NaN : sorted[Math.min(n - 1, Math.floor((p / 100) * n))]!;
  return { p50: at(50), p90: at(90), p99: at(99) };
}

/** A growable list of latencies without per-sample allocation. */
export class Samples {
  #data = new Float64Array(4096);
  #n = 0;
  push(v: number): void {
    if (this.#n === this.#data.length) {
      const next = new Float64Array(this.#data.length * 2);
      next.set(this.#data);
      this.#data = next;
    }
    this.#data[this.#n++] = v;
  }
  get length(): number {
    return this.#n;
  }
  summary(): Latency {
    return percentiles(this.#data, this.#n);
  }
}

/** One measured row. */
export interface LoadResult {
  readonly requests: number;
  readonly rps: number;
  readonly latency: Latency;
  /** Socket errors, timeouts and non-2xx answers. */
  readonly errors: number;
}

export interface CannonOptions {
  readonly url: string;
  readonly connections: number;
  readonly method?: 'GET' | 'POST';
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** Per-request body (e.g. a fresh task id); overrides `body`. */
  readonly makeBody?: (i: number) => string;
  /** Per-request extra headers (e.g. each node's own token), same `i` as makeBody. */
  readonly makeHeaders?: (i: number) => Record<string, string>;
  /** Seconds of measurement (ignored when `amount` is set). */
  readonly durationS?: number;
  /** Exact number of requests instead of a duration. */
  readonly amount?: number;
  /** Seconds of warm-up run (discarded) before the measurement; default 0. */
  readonly warmupS?: number;
}

function once(
  opts: CannonOptions,
  durationS: number,
  amount?: number,
  into?: Samples,
): Promise<LoadResult> {
  const samples = new Samples();
  let errors = 0;
  let counter = 0;
  const makeBody = opts.makeBody;
  const makeHeaders = opts.makeHeaders;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: opts.url,
        connections: opts.connections,
        method: opts.method ?? 'GET',
        headers: opts.headers ?? {},
        ...(opts.body !== undefined ? { body: opts.body } : {}),
        ...(makeBody
          ? {
              requests: [
                {
                  setupRequest: (req: Record<string, unknown>) => {
                    const i = counter++;
                    return {
                      ...req,
                      body: makeBody(i),
                      ...(makeHeaders
                        ? {
                            headers: {
                              ...(req['headers'] as Record<string, string>),
                              ...makeHeaders(i),
                            },
                          }
                        : {}),
                    };
                  },
                },
              ],
            }
          : {}),
        ...(amount !== undefined ? { amount } : { duration: durationS }),
        timeout: 30,
      },
      (err, result) => {
        if (err) return reject(err);
        const seconds = Math.max(1e-3, result.duration);
        errors += result.errors + result.timeouts;
        resolve({
          requests: samples.length + errors,
          rps: samples.length / seconds,
          latency: samples.summary(),
          errors,
        });
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) {
        samples.push(responseTime);
        into?.push(responseTime);
      } else {
        errors += 1;
        if (process.env['BENCH_DEBUG'] && errors < 3) console.error('non-2xx', statusCode);
      }
    });
  });
}

/**
 * The warm-up before a scenario's first row, counted in calls: every target serves
 * this many (discarded) at {@link JIT_WARMUP_CONNECTIONS} connections. V8 optimises a
 * function after enough calls, not after enough seconds: at 1 connection the
 * two-process IICP chain needed about 10,000 calls (15-20 s) before its throughput
 * stopped rising, far more than a few seconds of warm-up gave it. Counting calls gives
 * each target the same number of executions whatever its speed; the long-running
 * services measured here spend their life in that optimised state.
 */
export const JIT_WARMUP_CALLS = 20_000;
/** Streams for the same purpose: a stream's one-time path runs once per stream. */
export const JIT_WARMUP_STREAMS = 3_000;
export const JIT_WARMUP_CONNECTIONS = 8;

/** Warm up (discarded), then measure. */
export async function cannon(opts: CannonOptions): Promise<LoadResult> {
  if (opts.warmupS && opts.warmupS > 0) await once(opts, opts.warmupS);
  return once(opts, opts.durationS ?? 5, opts.amount);
}

export interface RoundsOptions {
  /** Rounds; in each, every target runs once, in order. */
  readonly rounds: number;
  /** Seconds per target per round (ignored when `amount` is set). */
  readonly roundS: number;
  /** Requests per target per round instead of a duration (smoke runs). */
  readonly amount?: number;
  /** Seconds of discarded load per target before the first round. */
  readonly warmupS?: number;
  /**
   * The scenario's own processes: when given, each round also records the CPU that
   * other processes used during it ({@link otherCpus}).
   */
  readonly ownPids?: readonly (number | undefined)[];
}

/** One target measured over interleaved rounds. */
export interface RoundsResult {
  /** All rounds merged: percentiles over every sample, req/s over the measured time. */
  readonly total: LoadResult;
  /** Each round's own result, in round order. */
  readonly rounds: readonly LoadResult[];
  /** CPUs other processes used in each round (with `ownPids`; NaN where unknown). */
  readonly otherCpus: readonly number[];
}

/**
 * Interleaved rounds: every target is warmed up, then the targets take turns for
 * `rounds` short windows each (A B C, A B C, …), so that a disturbance of a shared
 * machine falls on all of them alike and comparisons can be made round by round
 * ({@link pairedMedian}) instead of between two windows tens of seconds apart.
 */
export async function cannonRounds(
  targets: readonly CannonOptions[],
  opts: RoundsOptions,
): Promise<RoundsResult[]> {
  if (opts.warmupS && opts.warmupS > 0) {
    for (const t of targets) await once(t, opts.warmupS);
  }
  const merged = targets.map(() => new Samples());
  const rounds: LoadResult[][] = targets.map(() => []);
  const errors = targets.map(() => 0);
  const seconds = targets.map(() => 0);
  const other: number[][] = targets.map(() => []);
  for (let round = 0; round < opts.rounds; round++) {
    for (const [i, t] of targets.entries()) {
      const before = opts.ownPids ? cpuSnapshot(opts.ownPids) : undefined;
      const started = process.hrtime.bigint();
      const r = await once(t, opts.roundS, opts.amount, merged[i]);
      seconds[i]! += Number(process.hrtime.bigint() - started) / 1e9;
      const after = before && opts.ownPids ? cpuSnapshot(opts.ownPids) : undefined;
      other[i]!.push(before && after ? otherCpus(before, after).other : Number.NaN);
      errors[i]! += r.errors;
      rounds[i]!.push(r);
    }
  }
  return targets.map((_, i) => {
    const samples = merged[i]!;
    return {
      total: {
        requests: samples.length + errors[i]!,
        rps: samples.length / Math.max(1e-3, seconds[i]!),
        latency: samples.summary(),
        errors: errors[i]!,
      },
      rounds: rounds[i]!,
      otherCpus: other[i]!,
    };
  });
}

/** The median of `a[i] - b[i]` over the rounds (the paired difference). */
export function pairedMedian(a: readonly number[], b: readonly number[]): number {
  const d = a.map((x, i) => x - b[i]!).sort((x, y) => x - y);
  if (d.length === 0) return Number.NaN;
  const mid = d.length >> 1;
  return d.length % 2 === 1 ? d[mid]! : (d[mid - 1]! + d[mid]!) / 2;
}

/** Resident set size of a process in MB (Linux /proc), or NaN elsewhere. */
export function rssMb(pid: number | undefined = process.pid): number {
  if (pid === undefined) return Number.NaN;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Samples a process's RSS every 100 ms until stopped; returns the peak. */
export function rssPeak(pid: number | undefined): () => number {
  let peak = rssMb(pid);
  const t = setInterval(() => {
    const v = rssMb(pid);
    if (v > peak || Number.isNaN(peak)) peak = v;
  }, 100);
  return () => {
    clearInterval(t);
    return Math.max(peak, rssMb(pid));
  };
}

/**
 * The peak resident set of a process since it started (`VmHWM`), in MB: one read after a
 * row instead of a sampling timer in the load generator's own process (which would
 * share its event loop with the load).
 */
export function rssHighWater(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function machineLine(): string {
  const cpu = cpus();
  return `Machine: ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}), ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
}

export const fmtMs = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '–');
export const fmtInt = (x: number): string =>
  Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–';
export const fmtMb = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : '–');
export const fmtRatio = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '–');

/** A Markdown table. Columns whose header ends in a space-free unit are right-aligned. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const align = headers.map((_, i) => (i === 0 ? '---' : '---:'));
  return [headers, align, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

/** One row as every scenario reports it (the smoke test checks these keys). */
export interface ResultRow {
  readonly name: string;
  readonly [key: string]: string | number | null;
}

/**
 * The closing `BENCH_RESULT {json}` line: scenario name, mode and the rows of every
 * table. Numbers only; never a payload.
 */
export function emitResult(scenario: string, args: BenchArgs, rows: readonly ResultRow[]): void {
  console.log(`BENCH_RESULT ${JSON.stringify({ scenario, quick: args.quick, rows })}`);
}

/** A load row flattened for {@link emitResult}. */
export function loadRow(
  name: string,
  connections: number,
  r: LoadResult,
  extra: Record<string, string | number | null> = {},
): ResultRow {
  return {
    name,
    connections,
    requests: r.requests,
    rps: Math.round(r.rps),
    p50_ms: round3(r.latency.p50),
    p90_ms: round3(r.latency.p90),
    p99_ms: round3(r.latency.p99),
    errors: r.errors,
    ...extra,
  };
}

export function round3(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1000) / 1000 : Number.NaN;
}

/**
 * CPU time of the whole machine and of the scenario's own processes, in clock ticks
 * (`/proc`, Linux). Two snapshots give how much CPU other processes used in between:
 * on a 2-core machine the 1-connection rows are one chain of processes handing a
 * request on, and a process that keeps one core busy moves that chain onto the other
 * core, where each hop waits for the previous process's post-write work (about +1 ms
 * on the streamed first token). The tables show it so a disturbed run is recognised.
 */
export interface CpuSnapshot {
  /** user + nice + system ticks of all CPUs. */
  readonly busy: number;
  /** Ticks the hypervisor ran something else on our virtual CPUs. */
  readonly steal: number;
  /** utime + stime ticks of the scenario's own processes. */
  readonly ours: number;
  readonly atMs: number;
}

/** `busy` and `steal` from the aggregate `cpu` line of /proc/stat. */
export function parseProcStat(text: string): { busy: number; steal: number } {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('no cpu line in /proc/stat');
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal …
  return { busy: (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0), steal: f[7] ?? 0 };
}

/** utime + stime of /proc/<pid>/stat (the command name may hold spaces and parentheses). */
export function parsePidStat(text: string): number {
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** CPUs (1 = one core for the whole window) used by other processes, and stolen. */
export function otherCpus(
  a: CpuSnapshot,
  b: CpuSnapshot,
  ticksPerSecond = 100,
): { other: number; steal: number } {
  const ticks = (Math.max(1, b.atMs - a.atMs) / 1000) * ticksPerSecond;
  return {
    other: Math.max(0, b.busy - a.busy - (b.ours - a.ours)) / ticks,
    steal: Math.max(0, b.steal - a.steal) / ticks,
  };
}

/** Snapshots for {@link otherCpus}; `undefined` where /proc is missing (not Linux). */
export function cpuSnapshot(pids: readonly (number | undefined)[]): CpuSnapshot | undefined {
  try {
    const { busy, steal } = parseProcStat(readFileSync('/proc/stat', 'utf8'));
    let ours = 0;
    for (const pid of pids) {
      if (pid === undefined) continue;
      try {
        ours += parsePidStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        // An exited process no longer counts.
      }
    }
    return { busy, steal, ours, atMs: performance.now() };
  } catch {
    return undefined;
  }
}

/** Median of the finite values (NaN when there are none). */
export function medianOf(xs: readonly number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((x, y) => x - y);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
