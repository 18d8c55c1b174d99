import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  checkExpectations,
  loadExpectedFailures,
  runSuite,
  toResultBundle,
  type SuiteRun,
} from '@iicp/conformance';
import { afterAll, describe, expect, it } from 'vitest';

/*
 * The directory conformance suite of @iicp/conformance against the real iicp-directory
 * process (loopback, throwaway SQLite, --allow-private-endpoints so the harness's
 * loopback fixture node may register). The expected-failures list is checked both ways.
 */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function waitForLine(child: ChildProcess, re: RegExp): Promise<RegExpMatchArray> {
  return new Promise((res, rej) => {
    let seen = '';
    const onData = (d: Buffer): void => {
      seen += d.toString();
      const m = seen.match(re);
      if (m) res(m);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (c) => rej(new Error(`exited (${c}) before ${re}: ${seen.slice(-2000)}`)));
  });
}

describe('conformance: directory suite against iicp-directory', () => {
  let directory: ChildProcess | undefined;
  let dataDir = '';

  afterAll(async () => {
    if (directory && directory.exitCode === null) {
      const exited = new Promise((r) => directory!.once('exit', r));
      directory.kill('SIGTERM');
      await exited;
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('passes every check not listed in expected-failures.json, and fails every listed one', async () => {
    let target = '';
    const run: SuiteRun = await runSuite('directory', {
      async setup() {
        dataDir = await mkdtemp(join(tmpdir(), 'conformance-dir-'));
        directory = spawn(
          process.execPath,
          [
            '--conditions=@iicp/source',
            '--import',
            'tsx',
            join(repoRoot, 'apps/directory/src/cli.ts'),
            ...['serve', '--port', '0', '--data-dir', dataDir, '--allow-private-endpoints'],
            ...['--log-level', 'warn'],
          ],
          { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
        );
        target = (await waitForLine(directory, /listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
        return { target };
      },
    });
    const report = checkExpectations(run, loadExpectedFailures());
    const failures = run.results
      .filter((r) => report.unexpectedFailures.includes(r.id))
      .map((r) => `${r.id}: ${r.message}`);
    expect(failures).toEqual([]);
    expect(report.fixedButListed).toEqual([]);
    // Every check ran: the target is loopback, so nothing was skipped.
    expect(run.summary.skipped).toBe(0);
    expect(run.results.map((r) => r.id)).toContain('DIR-LIFECYCLE-06');

    // Content-free: no endpoint, no token, no node id; only the fixture digest is hex.
    const { fixture_digest: digest, ...rest } = toResultBundle(run);
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const bundle = JSON.stringify(rest);
    expect(bundle).not.toContain(target.replace('http://', ''));
    expect(bundle).not.toMatch(/[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-/);
  });
});
