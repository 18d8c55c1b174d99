import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, type CliIo } from '../src/cli.ts';
import { resolveConfig } from '../src/config.ts';
import { startNode, type RunningNode } from '../src/main.ts';
import { gate, startScriptedBackend, type ScriptedBackend } from './support/scripted-backend.ts';
import { startScriptedDirectory, type ScriptedDirectory } from './support/scripted-directory.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../..');

let home: string;
let backend: ScriptedBackend;
let dir: ScriptedDirectory;
let running: RunningNode | undefined;

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'iicp-cli-'));
  backend = await startScriptedBackend('ollama');
  dir = await startScriptedDirectory();
});
afterEach(async () => {
  await running?.shutdown.shutdown();
  running = undefined;
  await backend.close();
  await dir.close();
  await rm(home, { recursive: true, force: true });
});

function io(env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const value: CliIo = {
    env: { IICP_HOME: home, ...env },
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  };
  return { io: value, out, err };
}

describe('iicp-node --help', () => {
  it.each(['init', 'serve', 'status', 'doctor'])('%s --help', async (cmd) => {
    const t = io();
    expect(await runCli([cmd, '--help'], t.io)).toBe(0);
    expect(t.out.join('\n')).toContain(`iicp-node ${cmd}`);
  });
  it('top-level help and unknown commands', async () => {
    const t = io();
    expect(await runCli(['--help'], t.io)).toBe(0);
    expect(t.out.join('')).toMatch(/init .*\n[\s\S]*serve[\s\S]*status[\s\S]*doctor/);
    expect(await runCli(['frobnicate'], t.io)).toBe(1);
    expect(await runCli(['serve', '--no-such-flag'], t.io)).toBe(1);
  });
  it('serve --help lists every flag with its env variable', async () => {
    const t = io();
    await runCli(['serve', '--help'], t.io);
    for (const f of [
      '--directory-url',
      '--backend-url',
      '--backend-type',
      '--model',
      '--intent',
      '--public-endpoint',
      '--host',
      '--port',
      '--region',
      '--max-concurrent',
      '--auth',
    ]) {
      expect(t.out.join('')).toContain(f);
    }
    expect(t.out.join('')).toContain('IICP_MAX_CONCURRENT');
  });
});

describe('config precedence', () => {
  it('flag > env > file > default, with errors naming the source', () => {
    const file = { port: 1000, region: 'file-r', model: 'file-m', maxConcurrent: 2 };
    const c = resolveConfig(
      { port: '3000', intent: ['urn:iicp:intent:llm:chat:v1'] },
      { IICP_PORT: '2000', IICP_REGION: 'env-r' },
      file,
    );
    expect(c).toMatchObject({
      port: 3000,
      region: 'env-r',
      model: 'file-m',
      maxConcurrent: 2,
      intents: ['urn:iicp:intent:llm:chat:v1'],
    });
    expect(resolveConfig({}, { IICP_INTENT: 'a, b' }, {}).intents).toEqual(['a', 'b']);
    expect(() => resolveConfig({ 'max-concurrent': '999' }, {}, {})).toThrow(
      /--max-concurrent \/ IICP_MAX_CONCURRENT/,
    );
    expect(() => resolveConfig({}, { IICP_AUTH: 'none' }, {})).toThrow(/--auth/);
  });
});

describe('iicp-node init', () => {
  it('non-interactive: detects the backend, writes config and operator key 0600, prints the serve command', async () => {
    const t = io();
    const code = await runCli(
      ['init', '--yes', '--backend-url', backend.url, '--directory-url', dir.url, '--region', 'eu'],
      t.io,
    );
    expect(t.err).toEqual([]);
    expect(code).toBe(0);
    const cfg = JSON.parse(await readFile(join(home, 'node.json'), 'utf8'));
    expect(cfg).toMatchObject({
      backendType: 'ollama',
      backendUrl: backend.url,
      model: 'test-model',
      directoryUrl: dir.url,
      region: 'eu',
    });
    expect(cfg.intents).toEqual([
      'urn:iicp:intent:llm:chat:v1',
      'urn:iicp:intent:llm:completion:v1',
      'urn:iicp:intent:llm:embedding:v1',
    ]);
    expect(cfg.nodeId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await stat(join(home, 'node.json'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(home, 'operator.key'))).mode & 0o777).toBe(0o600);
    expect(t.out.at(-1)).toMatch(/^Next: iicp-node serve/);
  });

  it('interactive: asks for model, intents and directory', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const answers = ['other-model', 'urn:iicp:intent:llm:chat:v1', dir.url];
    output.on('data', (d: Buffer) => {
      if (d.toString().includes(']: ')) input.write(`${answers.shift() ?? ''}\n`);
    });
    const t = io();
    const code = await runCli(['init', '--backend-url', backend.url], { ...t.io, input, output });
    expect(code).toBe(0);
    const cfg = JSON.parse(await readFile(join(home, 'node.json'), 'utf8'));
    expect(cfg).toMatchObject({
      model: 'other-model',
      intents: ['urn:iicp:intent:llm:chat:v1'],
      directoryUrl: dir.url,
    });
  });

  it('refuses intents the backend cannot serve', async () => {
    const anth = await startScriptedBackend('anthropic');
    const t = io();
    const code = await runCli(
      [
        'init',
        '-y',
        '--backend-url',
        anth.url,
        '--backend-type',
        'anthropic',
        '--intent',
        'urn:iicp:intent:llm:embedding:v1',
      ],
      t.io,
    );
    await anth.close();
    expect(code).toBe(1);
    expect(t.err.join('')).toContain('cannot serve');
  });
});

describe('serve, status, doctor', () => {
  it('serves, registers, reports status, drains in-flight work on SIGTERM, then deregisters', async () => {
    const signals = new EventEmitter();
    const g = gate();
    backend.script.before = g.promise;
    const lines: string[] = [];
    running = await startNode(
      {
        backendUrl: backend.url,
        directoryUrl: dir.url,
        port: 0,
        publicEndpoint: 'https://node.example.com',
        region: 'eu',
        logLevel: 'silent',
      },
      { home, print: (l) => lines.push(l), signals: { source: signals, exit: () => undefined } },
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^iicp-node listening on http:\/\/127\.0\.0\.1:\d+, serving llm:chat:v1, llm:completion:v1, llm:embedding:v1 from ollama at .* registered with .* as [0-9a-f-]{36}$/,
    );
    const nodeId = running.state.nodeId!;
    expect(dir.nodes.has(nodeId)).toBe(true);

    const port = new URL(running.url).port;
    const st = io();
    await runCli(
      [
        'status',
        '--json',
        '--port',
        port,
        '--backend-url',
        backend.url,
        '--backend-type',
        'ollama',
        '--public-endpoint',
        'https://node.example.com',
      ],
      st.io,
    );
    const report = JSON.parse(st.out.join(''));
    expect(report).toMatchObject({
      registered: true,
      node_id: nodeId,
      observed_source_ip: '127.0.0.1',
      node: { running: true, status: 'ok', active_jobs: 0 },
      backend: { healthy: true },
    });
    expect(report.nat_warning).toContain('does not match endpoint host node.example.com');

    const dr = io();
    const code = await runCli(
      [
        'doctor',
        '--json',
        '--port',
        port,
        '--backend-url',
        backend.url,
        '--directory-url',
        dir.url,
        '--model',
        'nope',
      ],
      dr.io,
    );
    const d = JSON.parse(dr.out.join(''));
    expect(code).toBe(1);
    const byName = Object.fromEntries(d.checks.map((c: { check: string }) => [c.check, c]));
    expect(byName.backend.ok).toBe(true);
    expect(byName.directory.ok).toBe(true);
    expect(byName.node.ok).toBe(true);
    expect(byName.model).toMatchObject({ ok: false, fix: expect.stringContaining('test-model') });
    expect(byName['public endpoint'].ok).toBe(false);

    // A task is in flight when SIGTERM arrives: it completes, then the node deregisters.
    const task = fetch(`${running.url}/v1/task`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        task_id: randomUUID(),
        intent: 'urn:iicp:intent:llm:chat:v1',
        payload: { messages: [{ role: 'user', content: 'hi' }] },
        constraints: { timeout_ms: 10_000 },
        auth: { node_token: running.state.nodeToken },
      }),
    });
    while (!backend.requests.some((r) => r.path === '/api/chat'))
      await new Promise((r) => setTimeout(r, 5));
    const deregistered = dir.waitFor('/v1/register');
    signals.emit('SIGTERM', 'SIGTERM');
    await new Promise((r) => setImmediate(r));
    expect(dir.nodes.has(nodeId)).toBe(true); // still serving the in-flight task
    g.open();
    const res = await task;
    expect(res.status).toBe(200);
    await deregistered;
    expect(dir.nodes.has(nodeId)).toBe(false);
    running = undefined;
  });

  it('runs as a process: one startup line, SIGTERM deregisters and exits 0', async () => {
    const child = spawn(
      process.execPath,
      [
        // tsx as a loader, so that the signal reaches the app itself.
        '--import',
        pathToFileURL(join(repoRoot, 'node_modules/tsx/dist/loader.mjs')).href,
        '--conditions=@iicp/source',
        join(repoRoot, 'apps/node/src/cli.ts'),
        'serve',
        '--port',
        '0',
        '--log-level',
        'warn',
      ],
      {
        env: {
          ...process.env,
          IICP_HOME: home,
          IICP_BACKEND_URL: backend.url,
          IICP_DIRECTORY_URL: dir.url,
          IICP_PUBLIC_ENDPOINT: 'https://node.example.com',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    await new Promise<void>((resolveStart, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('iicp-node listening on')) resolveStart();
      });
      child.once('exit', (c) => reject(new Error(`exited ${c}: ${stderr}`)));
    });
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(dir.nodes.size).toBe(1);
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(dir.nodes.size).toBe(0);
  }, 30_000);
});
