import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkExpectations, loadExpectedFailures, runSuite } from '@iicp/conformance';
import { afterAll, describe, expect, it } from 'vitest';

/*
 * The node conformance suite of @iicp/conformance against the real iicp-node process,
 * registered with the real iicp-directory, serving a scripted OpenAI-compatible backend.
 */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function cli(app: string, args: string[]): ChildProcess {
  return spawn(
    process.execPath,
    [
      '--conditions=@iicp/source',
      '--import',
      'tsx',
      join(repoRoot, `apps/${app}/src/cli.ts`),
      ...args,
    ],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
}

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

function stop(child: ChildProcess | undefined): Promise<unknown> {
  if (!child || child.exitCode !== null) return Promise.resolve();
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  return exited;
}

describe('conformance: node suite against iicp-node', () => {
  let backend: Server | undefined;
  let directory: ChildProcess | undefined;
  let node: ChildProcess | undefined;
  const dirs: string[] = [];

  afterAll(async () => {
    await stop(node);
    await stop(directory);
    if (backend) await new Promise<void>((r) => backend!.close(() => r()));
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('passes every check not listed in expected-failures.json, and fails every listed one', async () => {
    const run = await runSuite('node', {
      async setup() {
        backend = createServer((req, res) => {
          req.resume();
          req.on('end', () => {
            const body =
              req.url === '/v1/models'
                ? { data: [{ id: 'conformance-model' }] }
                : {
                    model: 'conformance-model',
                    choices: [
                      {
                        index: 0,
                        message: { role: 'assistant', content: 'ok' },
                        finish_reason: 'stop',
                      },
                    ],
                    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
                  };
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
          });
        });
        await new Promise<void>((r) => backend!.listen(0, '127.0.0.1', r));
        const backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
        const dataDir = await mkdtemp(join(tmpdir(), 'conformance-node-dir-'));
        const home = await mkdtemp(join(tmpdir(), 'conformance-node-home-'));
        dirs.push(dataDir, home);
        directory = cli('directory', [
          ...['serve', '--port', '0', '--data-dir', dataDir, '--allow-private-endpoints'],
          ...['--log-level', 'warn'],
        ]);
        const directoryUrl = (
          await waitForLine(directory, /listening on (http:\/\/127\.0\.0\.1:\d+)/)
        )[1]!;
        const init = cli('node', [
          ...['init', '--yes', '--home', home, '--backend-url', backendUrl],
          ...['--backend-type', 'openai', '--directory-url', directoryUrl],
        ]);
        await waitForLine(init, /Next: iicp-node serve/);
        node = cli('node', [
          ...['serve', '--home', home, '--port', '0', '--log-level', 'warn'],
          // SEC-RN-01/02 test the strict mode; serve defaults to the open mesh (D-071).
          ...['--auth', 'token'],
        ]);
        const target = (
          await waitForLine(node, /iicp-node listening on (http:\/\/127\.0\.0\.1:\d+),.*registered/)
        )[1]!;
        const state = JSON.parse(await readFile(join(home, 'node-state.json'), 'utf8')) as {
          node_token: string;
        };
        // The directory's discover index refreshes on its own clock (NODE-REG-01).
        for (let i = 0; i < 100; i++) {
          const list = (await (
            await fetch(`${directoryUrl}/v1/discover?intent=urn:iicp:intent:llm:chat:v1`)
          ).json()) as { nodes: unknown[] };
          if (list.nodes.length > 0) break;
          await new Promise((r) => setTimeout(r, 200));
        }
        return { target, fixture: { nodeToken: state.node_token, directoryUrl } };
      },
    });
    const report = checkExpectations(run, loadExpectedFailures());
    const failures = run.results
      .filter((r) => report.unexpectedFailures.includes(r.id))
      .map((r) => `${r.id}: ${r.message}`);
    expect(failures).toEqual([]);
    expect(report.fixedButListed).toEqual([]);
    expect(run.summary.skipped).toBe(0);
    expect(run.results.map((r) => r.id)).toEqual(
      expect.arrayContaining(['NODE-TASK-01', 'NODE-TASK-06', 'SEC-AUTH-01', 'NODE-REG-01']),
    );
  });
});
