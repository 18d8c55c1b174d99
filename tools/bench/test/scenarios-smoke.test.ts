import { spawn, spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/*
 * Every load scenario in --quick mode (a few hundred requests per row): proves the
 * scripts start what they need, measure and print their table and the closing
 * BENCH_RESULT line. Structure only, never timing.
 */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const tsx = join(repoRoot, 'node_modules/tsx/dist/cli.mjs');
/** bench:ab checks out a commit with git: it needs this tree to be a git checkout. */
const inGitCheckout =
  spawnSync('git', ['rev-parse', '--verify', 'HEAD'], { cwd: repoRoot }).status === 0;

interface Result {
  scenario: string;
  quick: boolean;
  rows: Record<string, unknown>[];
}

function runQuick(
  scenario: string,
): Promise<{ code: number | null; out: string; result?: Result }> {
  return new Promise((resolveRun) => {
    const child = spawn(
      process.execPath,
      [
        tsx,
        '--conditions=@iicp/source',
        join(repoRoot, `tools/bench/src/${scenario}.ts`),
        '--quick',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
      resolveRun({
        code,
        out,
        ...(line ? { result: JSON.parse(line.slice('BENCH_RESULT '.length)) as Result } : {}),
      });
    });
  });
}

/** Rows named like `prefix…` with every key in `keys` a number. */
function expectRows(r: Result, prefix: string, keys: string[], min = 1): void {
  const rows = r.rows.filter((x) => String(x['name']).startsWith(prefix));
  expect(rows.length, `${r.scenario}: rows named ${prefix}…`).toBeGreaterThanOrEqual(min);
  for (const row of rows)
    for (const k of keys) expect(typeof row[k], `${prefix} ${k}`).toBe('number');
}

const LOAD = ['connections', 'requests', 'rps', 'p50_ms', 'p90_ms', 'p99_ms', 'errors'];

describe('bench scenarios, --quick', () => {
  it.concurrent(
    'task-path: direct, Portkey and proxy → node, plain, streamed and paced, 1 and 8 connections',
    async () => {
      const { code, out, result } = await runQuick('task-path');
      expect(code, out.slice(-2000)).toBe(0);
      expect(result).toMatchObject({ scenario: 'task-path', quick: true });
      expect(out).toContain('| Non-streamed chat |');
      expect(out).toContain('TTFT p50');
      for (const t of ['direct to backend', 'Portkey gateway', 'iicp-proxy']) {
        expectRows(result!, `non-streamed: ${t}`, [...LOAD, 'added_p50_ms'], 2);
        expectRows(result!, `streamed: ${t}`, ['ttft_p50_ms', 'ttlt_p50_ms', 'errors'], 2);
        expectRows(result!, `paced: ${t}`, ['p50_ms', 'added_p50_ms', 'pause_ms', 'errors'], 1);
      }
      expect(out).toContain('pause between calls');
      // Every call through every path succeeded.
      for (const row of result!.rows) expect(row['errors'], String(row['name'])).toBe(0);
    },
    110_000,
  );

  (inGitCheckout ? it.concurrent : it.concurrent.skip)(
    'ab: the last commit (in a temporary worktree) against the working tree, side by side',
    async () => {
      const { code, out, result } = await runQuick('ab');
      expect(code, out.slice(-2000)).toBe(0);
      expect(result).toMatchObject({ scenario: 'ab', quick: true });
      expectRows(result!, 'direct to backend', LOAD);
      expectRows(result!, 'A: ', [...LOAD, 'added_p50_ms', 'proxy_cpu_us', 'node_cpu_us']);
      expectRows(result!, 'B: working tree', [
        ...LOAD,
        'added_p50_ms',
        'proxy_cpu_us',
        'node_cpu_us',
      ]);
      expectRows(result!, 'paired: A minus B', ['rounds', 'median_ms', 'b_faster_rounds']);
      for (const row of result!.rows) if ('errors' in row) expect(row['errors']).toBe(0);
      // The worktree is gone again.
      const list = spawnSync('git', ['worktree', 'list', '--porcelain'], { cwd: repoRoot });
      expect(list.stdout.toString()).not.toContain('iicp-bench-base-');
    },
    110_000,
  );

  it.concurrent(
    'relay: direct node call vs through iicp-relay',
    async () => {
      const { code, out, result } = await runQuick('relay');
      expect(code, out.slice(-2000)).toBe(0);
      expectRows(result!, 'direct to iicp-node', LOAD, 2);
      expectRows(result!, 'through iicp-relay', [...LOAD, 'added_p50_ms'], 2);
      for (const row of result!.rows) expect(row['errors'], String(row['name'])).toBe(0);
    },
    110_000,
  );

  it.concurrent(
    'discover: directory vs bare Fastify at 1, 8, 64 connections, with memory',
    async () => {
      const { code, out, result } = await runQuick('discover');
      expect(code, out.slice(-2000)).toBe(0);
      expectRows(result!, 'bare Fastify', LOAD, 3);
      expectRows(result!, 'directory discover', [...LOAD, 'ratio_to_baseline', 'body_bytes'], 3);
      expectRows(result!, 'directory memory', ['rest_rss_mb', 'load_rss_mb']);
    },
    110_000,
  );

  it.concurrent(
    'heartbeats: directory vs raw better-sqlite3',
    async () => {
      const { code, out, result } = await runQuick('heartbeats');
      expect(code, out.slice(-2000)).toBe(0);
      expectRows(result!, 'directory heartbeats', LOAD, 2);
      expectRows(result!, 'better-sqlite3', ['rps'], 2);
      for (const row of result!.rows) if ('errors' in row) expect(row['errors']).toBe(0);
    },
    110_000,
  );

  it.concurrent(
    'crypto: Ed25519, bcrypt and the token cache',
    async () => {
      const { code, out, result } = await runQuick('crypto');
      expect(code, out.slice(-2000)).toBe(0);
      expect(result!.rows.map((r) => r['name'])).toEqual([
        'consumer token verify (Ed25519, claims checked)',
        'Ed25519 verify, 200 B message',
        'node token: bcrypt verify (cost 10)',
        'node token: verified-token cache hit',
        'Ed25519 sign, 200 B message (directory key)',
      ]);
      expectRows(result!, '', ['ops_per_s'], 5);
    },
    110_000,
  );

  it.concurrent(
    'scaling: discover through one and two directory instances on one PostgreSQL',
    async () => {
      const { code, out, result } = await runQuick('scaling');
      expect(code, out.slice(-2000)).toBe(0);
      expect(result).toMatchObject({ scenario: 'scaling', quick: true });
      expectRows(result!, 'discover via 1 instance', [...LOAD, 'instances', 'ratio_to_one'], 2);
      expectRows(result!, 'discover via 2 instances', [...LOAD, 'instances', 'ratio_to_one'], 2);
      for (const row of result!.rows) expect(row['errors'], String(row['name'])).toBe(0);
    },
    110_000,
  );

  it.concurrent(
    'codec: JSON vs CBOR at three sizes, framing, round-trip ratios',
    async () => {
      const { code, out, result } = await runQuick('codec');
      expect(code, out.slice(-2000)).toBe(0);
      expect(out).toContain('| Operation | Payload | ops/s | MB/s |');
      for (const size of ['100 B', '10 KiB', '1 MiB'])
        for (const op of ['JSON round trip', 'CBOR + frame round trip'])
          expectRows(result!, `${op}, ${size}`, ['ops_per_s', 'mb_per_s']);
      expectRows(result!, 'round trip ratio', ['cbor_frame_to_json', 'json_bytes'], 3);
    },
    110_000,
  );

  it.concurrent(
    'scoring: reference rank vs the discover index (identical results checked)',
    async () => {
      const { code, out, result } = await runQuick('scoring');
      expect(code, out.slice(-2000)).toBe(0);
      expectRows(result!, '1000 candidates', ['reference_median_us', 'index_median_us'], 2);
    },
    110_000,
  );

  it.concurrent(
    'memory: directory, node and proxy RSS',
    async () => {
      const { code, out, result } = await runQuick('memory');
      expect(code, out.slice(-2000)).toBe(0);
      expectRows(result!, 'iicp-directory', ['rest_rss_mb', 'load_rss_mb']);
      expectRows(result!, 'iicp-node', ['rest_rss_mb', 'load_rss_mb']);
      expectRows(result!, 'iicp-proxy', ['rest_rss_mb', 'load_rss_mb']);
    },
    110_000,
  );
});
