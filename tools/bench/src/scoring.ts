/**
 * Discover scoring benchmark: how long one DISCOVER takes to score and rank N candidates
 * that all serve the queried intent, with the reference ranking (rankCandidates: filter,
 * score and sort everything) and with the directory's DiscoverIndex (precomputed per
 * heartbeat, single pass, bounded top-N). Also the cost of the index updates themselves.
 *
 * Run: npm run bench:scoring. Prints a Markdown table; numbers are per operation.
 */
import { performance } from 'node:perf_hooks';
import { emitResult, parseArgs, type ResultRow } from './harness.ts';
import {
  DiscoverIndex,
  rankCandidates,
  type DiscoverQueryInput,
  type ScoringNode,
} from '@iicp/scoring';

const CHAT = 'urn:iicp:intent:llm:chat:v1';
const REGIONS = ['eu-central', 'eu-west', 'us-east', 'us-west', 'ap-south', 'ap-northeast'];
const MODELS = ['llama3-8b', 'mistral-7b', 'qwen2.5-14b', 'gemma2-9b'];
const NOW = Date.UTC(2026, 0, 15, 3, 30);

/** mulberry32: a small seeded PRNG so every run scores the same population. */
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

function population(n: number, seed: number): ScoringNode[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  return Array.from({ length: n }, (_, i) => ({
    nodeId: `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
    region: pick(REGIONS),
    capabilities: [{ intent: CHAT, models: [pick(MODELS), pick(MODELS)] }],
    maxConcurrent: 1 + Math.floor(r() * 32),
    available: r() > 0.05,
    lastSeenMs: NOW - Math.floor(r() * 100_000),
    load: r(),
    reputation: r(),
    completedTasks: Math.floor(r() * 3000),
    availability: r() < 0.2 ? [{ start: '22:00', end: '06:00', share: 0.5 + r() / 2 }] : null,
    creditCostMultiplier: r() < 0.5 ? null : 0.5 + r() * 2,
  }));
}

/** Median and p99 in microseconds of `runs` calls after `warmup` calls. */
function measure(
  fn: () => unknown,
  runs: number,
  warmup = Math.min(runs, 50),
): { median: number; p99: number } {
  for (let i = 0; i < warmup; i++) fn();
  const t = new Float64Array(runs);
  for (let i = 0; i < runs; i++) {
    const s = performance.now();
    fn();
    t[i] = (performance.now() - s) * 1000;
  }
  t.sort();
  return { median: t[Math.floor(runs / 2)]!, p99: t[Math.min(runs - 1, Math.floor(runs * 0.99))]! };
}

const fmt = (us: number): string =>
  us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(1)} µs`;

const queries: { name: string; q: DiscoverQueryInput }[] = [
  {
    name: 'region + qos=batch',
    q: { intent: CHAT, region: 'eu-central', qos: 'batch', limit: 10, now: NOW },
  },
  {
    name: 'model + region, limit 50',
    q: { intent: CHAT, model: 'llama3-8b', region: 'us-west', limit: 50, now: NOW },
  },
];

const args = parseArgs();
const rows: string[] = [];
const resultRows: ResultRow[] = [];
/** `--quick` (the smoke test): the smallest population with few runs. */
const sizes = args.quick ? [1_000] : [1_000, 10_000, 100_000];
const quickRuns = (n: number): number => (args.quick ? Math.min(n, 20) : n);
for (const n of sizes) {
  const nodes = population(n, n);
  const index = new DiscoverIndex();
  const build = performance.now();
  for (const node of nodes) index.upsert(node);
  const buildUs = ((performance.now() - build) * 1000) / n;

  // Heartbeat cost, on a second index so the queried one stays equal to `nodes`.
  const churn = new DiscoverIndex();
  for (const node of nodes) churn.upsert(node);
  let h = 0;
  const hb = measure(() => {
    const node = nodes[h++ % n]!;
    churn.heartbeat(node.nodeId, { lastSeenMs: NOW, load: (h % 100) / 100, available: true });
  }, quickRuns(20_000));

  for (const { name, q } of queries) {
    const check = index.query(q);
    const ref = rankCandidates(nodes, q);
    if (JSON.stringify(check) !== JSON.stringify(ref))
      throw new Error(`index and reference disagree at n=${n}`);
    const bruteRuns = n >= 100_000 ? 15 : n >= 10_000 ? 60 : 300;
    const brute = measure(() => rankCandidates(nodes, q), quickRuns(bruteRuns), 5);
    const ix = measure(() => index.query(q), quickRuns(n >= 100_000 ? 200 : 2000));
    resultRows.push({
      name: `${n} candidates, ${name}`,
      reference_median_us: brute.median,
      index_median_us: ix.median,
      index_p99_us: ix.p99,
      upsert_us: buildUs,
      heartbeat_us: hb.median,
    });
    rows.push(
      `| ${n.toLocaleString('en-US')} | ${name} | ${fmt(brute.median)} | ${fmt(ix.median)} | ${fmt(ix.p99)} | ${(brute.median / ix.median).toFixed(0)}× | ${fmt(buildUs)} | ${fmt(hb.median)} |`,
    );
  }
}

console.log(
  `Discover scoring, one intent served by every candidate (Node ${process.version}, ${new Date().toISOString().slice(0, 10)})\n`,
);
console.log(
  '| Candidates | Query | Reference rank (median) | Index query (median) | Index query (p99) | Speed-up | Upsert per node | Heartbeat update |',
);
console.log('|---:|---|---:|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(r);
emitResult('scoring', args, resultRows);
