import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkExpectations,
  isLoopbackTarget,
  loadExpectedFailures,
  runConformanceCli,
  runSuite,
  SUITES,
  toResultBundle,
  type SuiteRun,
} from '../src/index.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const schemaPath = join(repoRoot, '../shared/iicp-spec/schemas/conformance-result-v1.json');

/** A directory that gets everything wrong: 200 text/plain for every request. */
let bad: Server;
let badUrl = '';

beforeAll(async () => {
  bad = createServer((req, res) => {
    req.resume();
    res
      .writeHead(200, { 'content-type': 'text/plain' })
      .end('at Object.<anonymous> (/home/x/y.js:1:1)');
  });
  await new Promise<void>((r) => bad.listen(0, '127.0.0.1', r));
  badUrl = `http://127.0.0.1:${(bad.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => bad.close(() => r())));

describe('runSuite', () => {
  it('fails the checks a broken target gets wrong, with the reason and observed status', async () => {
    const run = await runSuite('directory', {
      target: badUrl,
      only: ['DIR-DISC-10', 'DIR-HB-02', 'PROTO-MSG-05', 'SEC-LEAK-01', 'SEC-LEAK-02'],
    });
    const by = Object.fromEntries(run.results.map((r) => [r.id, r]));
    expect(by['DIR-DISC-10']).toMatchObject({
      outcome: 'fail',
      reason: 'unexpected_status',
      observedStatus: 200,
    });
    expect(by['DIR-HB-02']!.outcome).toBe('fail');
    expect(by['PROTO-MSG-05']).toMatchObject({
      outcome: 'fail',
      reason: 'assertion_failed',
      observedStatus: null,
    });
    expect(by['SEC-LEAK-01']!.outcome).toBe('fail');
    expect(by['SEC-LEAK-02']!.outcome).toBe('fail');
    expect(run.summary).toMatchObject({ total: 5, failed: 5, passed: 0 });
  });

  it('refuses to mutate a non-loopback target unless allowed', async () => {
    const mutating = SUITES.directory!.checks.filter((c) => c.mutates).map((c) => c.id);
    expect(mutating.length).toBeGreaterThan(10);
    const run = await runSuite('directory', { target: 'http://192.0.2.1:9', only: mutating });
    expect(run.results.every((r) => r.outcome === 'skip')).toBe(true);
    expect(run.results[0]!.message).toMatch(/--allow-remote-mutation/);
  });

  it('skips node checks that need a credential when none is given, and says why', async () => {
    const run = await runSuite('node', { target: badUrl, only: ['PROTO-URN-03'] });
    expect(run.results[0]).toMatchObject({
      outcome: 'skip',
      message: expect.stringMatching(/node token/),
    });
  });

  it('runs setup and teardown around the checks', async () => {
    const calls: string[] = [];
    await runSuite('directory', {
      only: ['DIR-DISC-10'],
      setup: async () => {
        calls.push('setup');
        return { target: badUrl };
      },
      teardown: async () => {
        calls.push('teardown');
      },
    });
    expect(calls).toEqual(['setup', 'teardown']);
  });

  it('knows loopback targets', () => {
    expect(isLoopbackTarget('http://127.0.0.1:8090')).toBe(true);
    expect(isLoopbackTarget('http://[::1]:8090')).toBe(true);
    expect(isLoopbackTarget('http://localhost')).toBe(true);
    expect(isLoopbackTarget('https://directory.example.net')).toBe(false);
    expect(isLoopbackTarget('http://10.0.0.1')).toBe(false);
  });
});

function fakeRun(outcomes: Record<string, 'pass' | 'fail' | 'skip'>): SuiteRun {
  const results = Object.entries(outcomes).map(([id, outcome]) => ({
    id,
    title: id,
    outcome,
    reason:
      outcome === 'pass'
        ? ('passed' as const)
        : outcome === 'fail'
          ? ('unexpected_status' as const)
          : ('skipped' as const),
    observedStatus: outcome === 'skip' ? null : 404,
    durationMs: 1.5,
  }));
  return {
    role: 'directory',
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:01.000Z',
    results,
    summary: { total: results.length, passed: 0, failed: 0, skipped: 0 },
  };
}

describe('expected failures, both ways', () => {
  it('a new failure and a fixed-but-listed entry are both reported', () => {
    const run = fakeRun({ 'DIR-A': 'fail', 'DIR-B': 'pass', 'DIR-C': 'fail', 'DIR-D': 'skip' });
    const r = checkExpectations(run, { directory: { 'DIR-B': 'x', 'DIR-C': 'y', 'DIR-D': 'z' } });
    expect(r.unexpectedFailures).toEqual(['DIR-A']);
    expect(r.fixedButListed).toEqual(['DIR-B']);
  });

  it('every listed ID is a check of its role (no stale or misspelt entries)', () => {
    const expected = loadExpectedFailures();
    for (const [role, entries] of Object.entries(expected)) {
      const ids = new Set(SUITES[role as 'directory']!.checks.map((c) => c.id));
      for (const [id, why] of Object.entries(entries ?? {})) {
        expect(ids.has(id), `${role} ${id}`).toBe(true);
        expect(why.length).toBeGreaterThan(0);
      }
    }
  });
});

describe('result bundle (conformance-result-v1.json)', () => {
  it('has exactly the schema keys, enum values and no skipped or content fields', async () => {
    const schema = JSON.parse(await readFile(schemaPath, 'utf8')) as {
      required: string[];
      properties: Record<
        string,
        { properties?: Record<string, unknown>; items?: { required: string[] } }
      >;
    };
    const b = toResultBundle(fakeRun({ 'DIR-A': 'fail', 'DIR-B': 'pass', 'DIR-D': 'skip' }));
    for (const k of schema.required) expect(b).toHaveProperty(k);
    for (const k of Object.keys(b)) expect(Object.keys(schema.properties)).toContain(k);
    expect(b.schema).toBe('iicp.conformance_result.v1');
    expect(b.content_free).toBe(true);
    expect(b.fixture_digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(['directory', 'provider', 'client']).toContain(b.target_role);
    expect(b.summary).toEqual({ total: 2, passed: 1, failed: 1 });
    const itemKeys = schema.properties.results!.items!.required;
    for (const r of b.results) expect(Object.keys(r).sort()).toEqual([...itemKeys].sort());
    expect(b.results.map((r) => r.test_id)).toEqual(['DIR-A', 'DIR-B']);
  });
});

describe('iicp-conformance CLI', () => {
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return {
      out,
      err,
      io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), env: {} },
    };
  };

  it('prints usage, refuses bad roles and targets', async () => {
    const a = io();
    expect(await runConformanceCli(['--help'], a.io)).toBe(0);
    expect(a.out.join('\n')).toMatch(/--allow-remote-mutation/);
    const b = io();
    expect(await runConformanceCli(['run', '--role', 'bogus', '--target', badUrl], b.io)).toBe(2);
    const c = io();
    expect(
      await runConformanceCli(['run', '--role', 'directory', '--target', 'ftp://x'], c.io),
    ).toBe(2);
  });

  it('lists checks and the IDs not checkable over the wire with a reason', async () => {
    const a = io();
    expect(await runConformanceCli(['list', '--role', 'directory'], a.io)).toBe(0);
    const text = a.out.join('\n');
    expect(text).toMatch(/DIR-REG-01\s+\[mutates\]/);
    expect(text).toMatch(/DIR-REG-07\s+not checkable over the wire: /);
  });

  it('prints one line per check and a summary, exits 1 on failure, writes the bundle', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'conformance-cli-'));
    try {
      const a = io();
      const file = join(dir, 'out.json');
      const code = await runConformanceCli(
        [
          'run',
          '--role',
          'directory',
          '--target',
          badUrl,
          '--only',
          'DIR-DISC-10,DIR-BS-01',
          '--json',
          file,
        ],
        a.io,
      );
      expect(code).toBe(1);
      expect(a.out.filter((l) => /^(PASS|FAIL|SKIP) /.test(l))).toHaveLength(2);
      expect(a.out.join('\n')).toMatch(/FAILED: \d+ passed, \d+ failed/);
      const bundle = await readFile(file, 'utf8');
      expect(JSON.parse(bundle).results).toHaveLength(2);
      expect(bundle).not.toContain(badUrl.replace('http://', ''));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
