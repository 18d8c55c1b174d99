import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatLine, MESH_HELP, parseMeshArgs, readyText, REPO_ROOT } from '../src/index.ts';

/*
 * `npm start` for real: the mesh CLI as a process, its four planes as their own
 * processes, on free ports, with a scripted OpenAI-compatible backend in this process.
 * A chat goes through the proxy; then a double SIGINT (a terminal Ctrl-C arrives both
 * directly and relayed by tsx) stops everything, the node deregistering first.
 */
const CANARY = 'mesh-canary-7f3a';

let backend: Server;
let backendUrl = '';

function startBackend(): Promise<void> {
  backend = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const json = (v: unknown): void => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(v));
      };
      if (req.method === 'GET' && req.url === '/v1/models')
        return json({ object: 'list', data: [{ id: 'mesh-model', object: 'model' }] });
      if (req.url === '/v1/chat/completions')
        return json({
          model: 'mesh-model',
          choices: [
            { index: 0, message: { role: 'assistant', content: 'pong' }, finish_reason: 'stop' },
          ],
          usage: { prompt_tokens: 2, completion_tokens: 1, total_tokens: 3 },
        });
      res.writeHead(404).end();
    });
  });
  return new Promise((r) =>
    backend.listen(0, '127.0.0.1', () => {
      backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
      r();
    }),
  );
}

function exitCode(child: ChildProcess): Promise<number | null> {
  return new Promise((r) =>
    child.exitCode !== null ? r(child.exitCode) : child.once('exit', (c) => r(c)),
  );
}

describe('options and output', () => {
  it('parses planes, ports and defaults; refuses a mesh without its directory', () => {
    const o = parseMeshArgs(['--planes', 'directory,node', '--node-port', '0'], '/x')!;
    expect(o.planes).toEqual(['directory', 'node']);
    expect(o.ports).toMatchObject({ directory: 8090, node: 0, proxy: 9483, relay: 9485 });
    expect(o.dataDir).toBe('/x/.iicp');
    expect(o.mcp).toBe(true);
    expect(parseMeshArgs(['--no-relay'])!.planes).toEqual(['directory', 'node', 'proxy']);
    expect(parseMeshArgs(['--help'])).toBeUndefined();
    expect(() => parseMeshArgs(['--planes', 'node,proxy'])).toThrow(/directory/);
    expect(() => parseMeshArgs(['--proxy-port', '70000'])).toThrow(/0–65535/);
    expect(() => parseMeshArgs(['--backend-url', 'ftp://x'])).toThrow(/http/);
    expect(() => parseMeshArgs(['--bogus'])).toThrow();
    for (const flag of ['--planes', '--backend-url', '--data-dir', '--proxy-port', '--no-mcp'])
      expect(MESH_HELP).toContain(flag);
  });

  it('renders pino lines readably and leaves other lines alone', () => {
    const line = JSON.stringify({ level: 40, time: 0, pid: 1, hostname: 'h', msg: 'hi', a: 1 });
    expect(formatLine(line)).toBe('00:00:00 WARN hi a=1');
    expect(formatLine('iicp-node listening on x')).toBe('iicp-node listening on x');
    expect(formatLine('{not json')).toBe('{not json');
  });

  it('prints copy-paste examples for what is served, and no token', () => {
    const text = readyText(
      {
        urls: { proxy: 'http://127.0.0.1:1', directory: 'http://127.0.0.1:2' },
        intents: ['urn:iicp:intent:llm:chat:v1', 'urn:iicp:intent:mcp:tools/call:v1'],
        models: ['m1'],
      },
      '/d',
    );
    expect(text).toContain('curl -s http://127.0.0.1:1/v1/chat/completions');
    expect(text).toContain("new OpenAI({ baseURL: 'http://127.0.0.1:1/v1'");
    expect(text).toContain("createClient({ directoryUrl: 'http://127.0.0.1:2'");
    expect(text).toContain("iicp.call('urn:iicp:intent:mcp:tools/call:v1'");
    expect(text).not.toMatch(/node_token":/);
  });
});

describe('npm start: the whole mesh as processes', () => {
  let dataDir: string;
  let mesh: ChildProcess | undefined;
  let out = '';

  beforeAll(async () => {
    await startBackend();
    dataDir = await mkdtemp(join(tmpdir(), 'iicp-mesh-'));
  });

  afterAll(async () => {
    if (mesh && mesh.exitCode === null) {
      mesh.kill('SIGTERM');
      await exitCode(mesh);
    }
    await new Promise<void>((r) => backend.close(() => r()));
    await rm(dataDir, { recursive: true, force: true });
  });

  it('comes up, routes a chat through the proxy, and stops cleanly on Ctrl-C', async () => {
    mesh = spawn(
      process.execPath,
      [
        '--conditions=@iicp/source',
        '--import',
        'tsx',
        join(REPO_ROOT, 'tools/mesh/src/cli.ts'),
        ...['--directory-port', '0', '--relay-port', '0', '--node-port', '0', '--proxy-port', '0'],
        ...['--backend-url', backendUrl, '--backend-type', 'openai'],
        ...['--data-dir', dataDir, '--log-level', 'info'],
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
    );
    mesh.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    mesh.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const ready = new Promise<void>((resolveReady, reject) => {
      const check = (): void => {
        if (out.includes('Ctrl-C stops the mesh.')) resolveReady();
      };
      mesh!.stdout!.on('data', check);
      mesh!.once('exit', (c) => reject(new Error(`mesh exited (${c}): ${out.slice(-3000)}`)));
    });
    await ready;
    expect(out).toContain('--allow-private-endpoints');
    expect(out).toMatch(/intents\s+urn:iicp:intent:llm:chat:v1/);
    // The bundled MCP server's tools are served next to the model backend.
    expect(out).toMatch(/intents\s+.*urn:iicp:intent:mcp:tools\/call:v1/);
    expect(out).toMatch(/mcp\s+\S+ \(\d+ tools\)/);
    expect(out).toMatch(/models\s+mesh-model/);
    expect(out).toMatch(/\[relay\]\s+iicp-relay listening/);
    const proxyUrl = /proxy\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;

    const res = await fetch(`${proxyUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mesh-model', messages: [{ role: 'user', content: CANARY }] }),
    });
    expect(res.status).toBe(200);
    const chat = (await res.json()) as { choices: { message: { content: string } }[] };
    expect(chat.choices[0]!.message.content).toBe('pong');

    mesh.kill('SIGINT');
    mesh.kill('SIGINT');
    expect(await exitCode(mesh)).toBe(0);
    expect(out).toContain('[mesh]      stopped.');
    // The node deregistered while the directory was still up (it stops last).
    expect(out).toMatch(/\[directory\].*"method":"DELETE","url":"\/api\/v1\/register"/);
    // Payloads never reach a log line.
    expect(out).not.toContain(CANARY);
  });
});
