import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/*
 * The PostgreSQL half of the heartbeat benchmark in --quick mode: a throwaway cluster
 * (PostgreSQL server binaries required, as for the directory tests; their absence fails
 * with a clear message), the seeded directory under load, the raw `pg` baselines.
 * Structure only, never timing.
 */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const tsx = join(repoRoot, 'node_modules/tsx/dist/cli.mjs');

function runQuick(): Promise<{ code: number | null; out: string }> {
  return new Promise((done) => {
    const child = spawn(
      process.execPath,
      [
        tsx,
        '--conditions=@iicp/source',
        join(repoRoot, 'tools/bench/src/heartbeats.ts'),
        '--quick',
        '--storage',
        'postgres',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => done({ code, out }));
  });
}

describe('heartbeats on PostgreSQL, --quick', () => {
  it('loads a directory on a throwaway cluster and measures the raw pg baseline', async () => {
    const { code, out } = await runQuick();
    expect(code, out.slice(-2000)).toBe(0);
    expect(out).toContain('| Heartbeats, PostgreSQL |');
    expect(out).not.toContain('| Heartbeats, SQLite |');
    const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
    expect(line, out.slice(-2000)).toBeDefined();
    const result = JSON.parse(line!.slice('BENCH_RESULT '.length)) as {
      scenario: string;
      quick: boolean;
      rows: Record<string, unknown>[];
    };
    expect(result).toMatchObject({ scenario: 'heartbeats', quick: true });
    const load = result.rows.filter((r) => String(r['name']).startsWith('directory heartbeats'));
    expect(load.map((r) => r['connections'])).toEqual([8, 64]);
    for (const r of load) {
      expect(r['storage']).toBe('postgresql');
      expect(r['errors']).toBe(0);
      expect(r['requests']).toBeGreaterThan(0);
      for (const k of ['rps', 'p50_ms', 'p99_ms', 'rss_mb']) expect(typeof r[k]).toBe('number');
    }
    const raw = result.rows.filter((r) => String(r['name']).startsWith('pg:'));
    expect(raw.map((r) => r['connections'])).toEqual(['1', '8']);
    for (const r of raw) expect(r['rps']).toBeGreaterThan(0);
  }, 170_000);
});
