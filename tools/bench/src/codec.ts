/**
 * Codec benchmark: JSON vs deterministic CBOR for a task envelope at three payload
 * sizes, native framing throughput, and the full round trip (encode, frame, read,
 * decode). Plain `process.hrtime.bigint()` loops with a warm-up; results are a
 * Markdown table on stdout (copy it into docs/benchmarks.md).
 *
 * Run: npm run bench:codec [-- --quick]
 */
import { cpus } from 'node:os';
import {
  FrameReader,
  MESSAGE_TYPES,
  decodeCbor,
  decodeJson,
  encodeCbor,
  encodeFrame,
  encodeJson,
} from '@iicp/codec';
import { emitResult, parseArgs, type ResultRow } from './harness.ts';

const args = parseArgs();
/** `--quick` (the smoke test): a few milliseconds per row, enough to prove the script. */
const WARMUP_MS = args.quick ? 5 : 150;
const MEASURE_MS = args.quick ? 20 : 700;

/** Alternating rounds of the two round trips (each MEASURE_MS / ROUNDS long). */
const ROUNDS = args.quick ? 2 : 9;
const ROUND_MS = Math.ceil(MEASURE_MS / ROUNDS);

let sink = 0;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

interface Result {
  name: string;
  size: string;
  opsPerSec: number;
  mbPerSec: number;
}

/** Runs `fn` repeatedly: a warm-up, then batches until MEASURE_MS has elapsed. */
function measure(
  fn: () => number,
  bytesPerOp: number,
  measureMs = MEASURE_MS,
): { opsPerSec: number; mbPerSec: number } {
  const run = (ms: number): { ops: number; ns: bigint } => {
    const budget = BigInt(ms) * 1_000_000n;
    const start = process.hrtime.bigint();
    let ops = 0;
    let batch = 1;
    for (;;) {
      for (let i = 0; i < batch; i++) sink += fn();
      ops += batch;
      const elapsed = process.hrtime.bigint() - start;
      if (elapsed >= budget) return { ops, ns: elapsed };
      if (batch < 1024) batch *= 2;
    }
  };
  run(WARMUP_MS);
  const { ops, ns } = run(measureMs);
  const seconds = Number(ns) / 1e9;
  const opsPerSec = ops / seconds;
  return { opsPerSec, mbPerSec: (opsPerSec * bytesPerOp) / 1e6 };
}

/** A task envelope in the JSON layout of iicp-core.md §3.1 with a text payload of n bytes. */
function taskEnvelope(n: number): Record<string, unknown> {
  return {
    task_id: '550e8400-e29b-41d4-a716-446655440000',
    intent: 'urn:iicp:intent:llm:chat:v1',
    payload: { messages: [{ role: 'user', content: 'x'.repeat(n) }], temperature: 0.7 },
    constraints: { timeout_ms: 30000, max_tokens: 256, qos: 'interactive' },
    auth: { node_token: 'a'.repeat(64) },
    trace_id: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
  };
}

const SIZES: [string, number][] = [
  ['100 B', 100],
  ['10 KiB', 10 * 1024],
  ['1 MiB', 1024 * 1024],
];

const results: Result[] = [];
const ratios: string[] = [];
const ratioRows: ResultRow[] = [];
for (const [label, n] of SIZES) {
  const env = taskEnvelope(n);
  const json = encodeJson(env);
  const cbor = encodeCbor(env);
  const add = (name: string, fn: () => number, bytes: number) => {
    const r = measure(fn, bytes);
    results.push({ name, size: label, ...r });
    return r;
  };
  add('JSON encode', () => encodeJson(env).length, json.length);
  add('JSON decode', () => (decodeJson(json) === null ? 0 : 1), json.length);
  add('CBOR encode (deterministic)', () => encodeCbor(env).length, cbor.length);
  add('CBOR decode (strict)', () => (decodeCbor(cbor) === null ? 0 : 1), cbor.length);
  // The two round trips are measured in alternating rounds and compared pairwise (median
  // of the per-round ratios), so that a disturbance of the shared machine during one
  // window does not decide the comparison. The frame reader is one per "connection", as
  // in the apps: a long-lived reader fed one frame at a time.
  const reader = new FrameReader();
  const jsonRoundTrip = () => (decodeJson(encodeJson(env)) === null ? 0 : 1);
  const frameRoundTrip = () => {
    const frame = encodeFrame({ type: MESSAGE_TYPES.CALL, payload: encodeCbor(env) });
    const [f] = reader.push(frame);
    return decodeCbor(f!.payload) === null ? 0 : 1;
  };
  const jsonRounds: number[] = [];
  const frameRounds: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    jsonRounds.push(measure(jsonRoundTrip, json.length, ROUND_MS).opsPerSec);
    frameRounds.push(measure(frameRoundTrip, cbor.length + 12, ROUND_MS).opsPerSec);
  }
  const jsonRt = median(jsonRounds);
  const frameRt = median(frameRounds);
  results.push({
    name: 'JSON round trip',
    size: label,
    opsPerSec: jsonRt,
    mbPerSec: (jsonRt * json.length) / 1e6,
  });
  results.push({
    name: 'CBOR + frame round trip',
    size: label,
    opsPerSec: frameRt,
    mbPerSec: (frameRt * (cbor.length + 12)) / 1e6,
  });
  const ratio = median(frameRounds.map((f, i) => f / jsonRounds[i]!));
  ratios.push(
    `${label}: framing + CBOR round trip is ${ratio.toFixed(2)}× the JSON round trip (encoded sizes: JSON ${json.length} B, CBOR ${cbor.length} B)`,
  );
  ratioRows.push({
    name: `round trip ratio, ${label}`,
    cbor_frame_to_json: ratio,
    json_bytes: json.length,
    cbor_bytes: cbor.length,
  });
}

// Framing alone: encode 10 KiB frames, and read a 4 MiB stream delivered in 64 KiB chunks.
{
  const payload = new Uint8Array(10 * 1024).fill(7);
  const frameBytes = encodeFrame({ type: MESSAGE_TYPES.CALL, payload }).length;
  const r = measure(() => encodeFrame({ type: MESSAGE_TYPES.CALL, payload }).length, frameBytes);
  results.push({ name: 'encodeFrame', size: '10 KiB', ...r });

  const frames = Array.from({ length: 400 }, () =>
    encodeFrame({ type: MESSAGE_TYPES.CALL, payload }),
  );
  const stream = Buffer.concat(frames);
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < stream.length; i += 65536) chunks.push(stream.subarray(i, i + 65536));
  const rr = measure(() => {
    const reader = new FrameReader();
    let count = 0;
    for (const c of chunks) count += reader.push(c).length;
    return count;
  }, stream.length);
  results.push({ name: 'FrameReader (64 KiB chunks)', size: '10 KiB', ...rr });
}

const fmt = (x: number) => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1));
const cpu = cpus();
console.log(
  `Machine: ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`,
);
console.log('');
console.log('| Operation | Payload | ops/s | MB/s |');
console.log('|---|---|---:|---:|');
for (const r of results)
  console.log(`| ${r.name} | ${r.size} | ${fmt(r.opsPerSec)} | ${fmt(r.mbPerSec)} |`);
console.log('');
for (const line of ratios) console.log(`- ${line}`);
if (sink === -1) console.log('');
emitResult('codec', args, [
  ...results.map((r) => ({
    name: `${r.name}, ${r.size}`,
    ops_per_s: r.opsPerSec,
    mb_per_s: r.mbPerSec,
  })),
  ...ratioRows,
]);
