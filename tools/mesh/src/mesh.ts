/**
 * The local mesh: directory, relay, one provider node and the proxy, each as its own
 * child process running the app's CLI from source (`node --import tsx
 * --conditions=@iicp/source apps/X/src/cli.ts`), started in dependency order and
 * stopped in the reverse one (the node drains and deregisters before the directory goes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pipeLines } from './logs.ts';
import type { MeshOptions, Plane } from './options.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export const MCP_TOOLS_CALL_INTENT = 'urn:iicp:intent:mcp:tools/call:v1';

/** How long a plane may take to print its startup line (a cold tsx start is slow). */
const START_TIMEOUT_MS = 90_000;
/** How long the mesh waits for the directory to list the node in discover. */
const DISCOVER_TIMEOUT_MS = 30_000;

export interface MeshIo {
  /** Where the mesh writes its own lines and the children's prefixed logs. */
  readonly write: (text: string) => void;
  readonly colour: boolean;
  readonly env?: NodeJS.ProcessEnv;
}

export interface MeshInfo {
  readonly urls: Partial<Record<Plane, string>>;
  readonly nodeId?: string;
  readonly intents: readonly string[];
  readonly models: readonly string[];
  /** e.g. `ollama at http://127.0.0.1:11434`, or undefined when only MCP tools are served. */
  readonly backend?: string;
  /** e.g. `mcp-servers/everything (12 tools)`. */
  readonly mcp?: string;
  readonly nodeHome?: string;
}

interface Child {
  readonly plane: Plane | 'node-init';
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly lines: string[];
}

/** The bundled MCP server's entry point (a devDependency of apps/node). */
export function bundledMcpServer(): string | undefined {
  const rel = 'node_modules/@modelcontextprotocol/server-everything/dist/index.js';
  for (const base of [join(REPO_ROOT, 'apps/node'), REPO_ROOT]) {
    const p = join(base, rel);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export class Mesh {
  readonly #opts: MeshOptions;
  readonly #io: MeshIo;
  readonly #children: Child[] = [];
  #stopping: Promise<void> | undefined;
  /** Resolves when a plane exits on its own (the mesh is then broken). */
  #onUnexpectedExit: ((plane: string, code: number | null) => void) | undefined;

  constructor(opts: MeshOptions, io: MeshIo) {
    this.#opts = opts;
    this.#io = io;
  }

  /** Called when a plane exits without being asked to. */
  onUnexpectedExit(fn: (plane: string, code: number | null) => void): void {
    this.#onUnexpectedExit = fn;
  }

  say(text: string): void {
    const label = this.#io.colour ? '\u001b[1m[mesh]\u001b[0m     ' : '[mesh]     ';
    for (const line of text.split('\n')) this.#io.write(`${label} ${line}\n`);
  }

  #spawn(plane: Child['plane'], app: string, args: string[], env: NodeJS.ProcessEnv = {}): Child {
    if (this.#stopping) throw new Error('the mesh is stopping');
    const proc = spawn(
      process.execPath,
      [
        '--conditions=@iicp/source',
        '--import',
        'tsx',
        join(REPO_ROOT, `apps/${app}/src/cli.ts`),
        ...args,
      ],
      {
        cwd: REPO_ROOT,
        env: { ...(this.#io.env ?? process.env), ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group: a Ctrl-C on the terminal reaches the mesh only, which
        // then stops the planes in order (the node must deregister before the directory goes).
        detached: true,
      },
    );
    const lines: string[] = [];
    const keep = (l: string): void => {
      lines.push(l);
      if (lines.length > 200) lines.shift();
    };
    const name = plane === 'node-init' ? 'node' : plane;
    pipeLines(proc.stdout!, name, this.#io.colour, this.#io.write, keep);
    pipeLines(proc.stderr!, name, this.#io.colour, this.#io.write, keep);
    const exited = new Promise<number | null>((r) => {
      proc.once('exit', (code, signal) => r(code ?? (signal ? 128 : null)));
      proc.once('error', () => r(127));
    });
    const child: Child = { plane, proc, exited, lines };
    this.#children.push(child);
    void exited.then((code) => {
      if (!this.#stopping && plane !== 'node-init') this.#onUnexpectedExit?.(plane, code);
    });
    return child;
  }

  /** Wait for a line matching `re` on the child's output. */
  #waitFor(child: Child, re: RegExp, what: string): Promise<RegExpMatchArray> {
    return new Promise((res, rej) => {
      const seen = child.lines.map((l) => l.match(re)).find(Boolean);
      if (seen) return res(seen);
      const timer = setTimeout(
        () => rej(new Error(`${child.plane} did not report ${what} within 90 s`)),
        START_TIMEOUT_MS,
      );
      const onData = (): void => {
        const m = child.lines.map((l) => l.match(re)).find(Boolean);
        if (m) {
          cleanup();
          res(m);
        }
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        child.proc.stdout!.off('data', onData);
        child.proc.stderr!.off('data', onData);
      };
      // Listeners added after pipeLines' own, so `lines` is already updated.
      child.proc.stdout!.on('data', onData);
      child.proc.stderr!.on('data', onData);
      void child.exited.then((code) => {
        cleanup();
        rej(new Error(`${child.plane} exited (code ${code}) before ${what}`));
      });
    });
  }

  /** Start the planes in order; resolves once the proxy can route to the node. */
  async start(): Promise<MeshInfo> {
    const o = this.#opts;
    const has = (p: Plane): boolean => o.planes.includes(p);
    const level = o.logLevel;
    const urls: Partial<Record<Plane, string>> = {};
    await mkdir(o.dataDir, { recursive: true, mode: 0o700 });

    const dir = this.#spawn('directory', 'directory', [
      'serve',
      '--host',
      '127.0.0.1',
      '--port',
      String(o.ports.directory),
      '--data-dir',
      join(o.dataDir, 'directory'),
      '--allow-private-endpoints',
      '--log-level',
      level,
    ]);
    urls.directory = (
      await this.#waitFor(dir, /iicp-directory listening on (http:\/\/[^\s,]+)/, 'listening')
    )[1]!;
    this.say(
      `directory ready at ${urls.directory} (--allow-private-endpoints: accepts loopback and private node endpoints; for development only)`,
    );

    if (has('relay')) {
      const relay = this.#spawn('relay', 'relay', [
        'serve',
        '--host',
        '127.0.0.1',
        '--port',
        String(o.ports.relay),
        '--directory-url',
        urls.directory,
        '--log-level',
        level,
      ]);
      urls.relay = (
        await this.#waitFor(relay, /iicp-relay listening on (http:\/\/[^\s,]+)/, 'listening')
      )[1]!;
    }

    let info: MeshInfo = { urls, intents: [], models: [] };
    if (has('node')) info = await this.#startNode(urls.directory, urls);

    if (has('proxy')) {
      const env: NodeJS.ProcessEnv = {};
      if (info.nodeHome) {
        // Phase 1 operator credential (D-015): the proxy spends the mesh node's token.
        // It travels in the environment, never on a command line or in the output.
        const state = JSON.parse(
          await readFile(join(info.nodeHome, 'node-state.json'), 'utf8'),
        ) as { node_token?: string };
        if (state.node_token) env.IICP_PROXY_OPERATOR_TOKEN = state.node_token;
      }
      const proxy = this.#spawn(
        'proxy',
        'proxy',
        [
          'serve',
          '--host',
          '127.0.0.1',
          '--port',
          String(o.ports.proxy),
          '--directory-url',
          urls.directory,
          '--log-level',
          level,
        ],
        env,
      );
      urls.proxy = (
        await this.#waitFor(proxy, /iicp-proxy listening on (http:\/\/[^\s,]+)/, 'listening')
      )[1]!;
    }
    return { ...info, urls };
  }

  async #startNode(
    directoryUrl: string,
    urls: Partial<Record<Plane, string>>,
  ): Promise<MeshInfo & { nodeHome: string }> {
    const o = this.#opts;
    const home = join(o.dataDir, 'node');
    await mkdir(home, { recursive: true, mode: 0o700 });
    const configPath = join(home, 'node.json');
    // Keep the node id across runs; re-run init's probing each time so a model server
    // started (or stopped) since the last run is picked up.
    let nodeId: string | undefined;
    try {
      nodeId = (JSON.parse(await readFile(configPath, 'utf8')) as { nodeId?: string }).nodeId;
    } catch {
      nodeId = undefined;
    }
    await rm(configPath, { force: true });
    const common = [
      '--yes',
      '--home',
      home,
      '--directory-url',
      directoryUrl,
      ...(nodeId ? ['--node-id', nodeId] : []),
    ];
    const mcpServer = o.mcp ? bundledMcpServer() : undefined;
    if (o.mcp && !mcpServer)
      this.say('the bundled MCP server is not installed (run npm ci); serving without MCP tools');
    const mcpFlags = mcpServer
      ? ['--mcp-command', process.execPath, '--mcp-arg', mcpServer, '--mcp-arg', 'stdio']
      : [];

    let llm = false;
    if (o.backendUrl || o.probe) {
      this.say(
        o.backendUrl
          ? `checking the model backend at ${o.backendUrl} ...`
          : 'looking for a local model server (Ollama, LM Studio, vLLM, llama.cpp) ...',
      );
      const init = this.#spawn('node-init', 'node', [
        'init',
        ...common,
        ...(o.backendUrl ? ['--backend-url', o.backendUrl] : []),
        ...(o.backendType ? ['--backend-type', o.backendType] : []),
      ]);
      llm = (await init.exited) === 0;
      if (!llm && o.backendUrl) throw new Error(`no model backend answered at ${o.backendUrl}`);
      if (!llm) this.say('no local model server found: the node serves MCP tools only');
    }
    if (!llm) {
      if (!mcpServer) throw new Error('nothing to serve: no model backend and no MCP server');
      const init = this.#spawn('node-init', 'node', [
        'init',
        ...common,
        '--backend-type',
        'mcp',
        ...mcpFlags,
      ]);
      if ((await init.exited) !== 0) throw new Error('iicp-node init failed');
    }

    // init writes the LLM intents it chose into node.json, and a file's intent list
    // wins over the default; name every intent on the command line so the MCP one is
    // served next to them.
    let intentFlags: string[] = [];
    if (llm && mcpServer) {
      const cfg = JSON.parse(await readFile(configPath, 'utf8')) as { intents?: string[] };
      intentFlags = [...(cfg.intents ?? []), MCP_TOOLS_CALL_INTENT].flatMap((i) => ['--intent', i]);
    }
    const node = this.#spawn('node', 'node', [
      'serve',
      '--home',
      home,
      '--host',
      '127.0.0.1',
      '--port',
      String(o.ports.node),
      '--log-level',
      o.logLevel,
      ...mcpFlags,
      ...intentFlags,
    ]);
    const m = await this.#waitFor(
      node,
      /iicp-node listening on (http:\/\/[^\s,]+), serving (.*?) from (.*), registered with \S+ as ([0-9a-f-]{36})/,
      'registration with the directory',
    );
    urls.node = m[1]!;
    const intents = m[2]!.split(', ').map((s) => `urn:iicp:intent:${s}`);
    const from = m[3]!;
    const mcpPart = /MCP server (.+)$/.exec(from)?.[1];
    const backendPart = /^(\S+ at \S+)/.exec(from)?.[1];
    const id = m[4]!;
    await this.#waitDiscoverable(directoryUrl, intents[0]!, id);
    let models: string[] = [];
    try {
      const h = (await (await fetch(`${urls.node}/iicp/health`)).json()) as { models?: string[] };
      models = h.models ?? [];
    } catch {
      models = [];
    }
    return {
      urls,
      nodeId: id,
      intents,
      models,
      ...(backendPart ? { backend: backendPart } : {}),
      ...(mcpPart ? { mcp: mcpPart } : {}),
      nodeHome: home,
    };
  }

  /** The directory's discover index refreshes on its own clock; wait until it lists the node. */
  async #waitDiscoverable(directoryUrl: string, intent: string, nodeId: string): Promise<void> {
    const url = `${directoryUrl}/v1/discover?intent=${encodeURIComponent(intent)}&limit=50`;
    const deadline = Date.now() + DISCOVER_TIMEOUT_MS;
    while (Date.now() < deadline) {
      try {
        const list = (await (await fetch(url)).json()) as { nodes?: { node_id?: string }[] };
        if (list.nodes?.some((n) => n.node_id === nodeId)) return;
      } catch {
        // not yet
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`the directory did not list node ${nodeId} within 30 s`);
  }

  /**
   * Stop every plane in reverse start order: SIGTERM, then SIGKILL after `graceMs`
   * (the node gets longer: it drains in-flight tasks, then deregisters).
   */
  stop(graceMs = 15_000): Promise<void> {
    this.#stopping ??= (async () => {
      for (const c of [...this.#children].reverse()) {
        if (c.proc.exitCode !== null || c.proc.signalCode !== null) continue;
        c.proc.kill('SIGTERM');
        const budget = c.plane === 'node' ? Math.max(graceMs, 320_000) : graceMs;
        let timer: NodeJS.Timeout | undefined;
        const killed = new Promise<void>((r) => {
          timer = setTimeout(() => {
            c.proc.kill('SIGKILL');
            r();
          }, budget);
        });
        await Promise.race([c.exited, killed]);
        clearTimeout(timer);
        await c.exited;
      }
    })();
    return this.#stopping;
  }

  /** Last resort on process exit: no plane outlives the mesh. */
  killAll(): void {
    for (const c of this.#children) {
      if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    }
  }

  /** Exit codes of the planes, once stopped (tests). */
  async exitCodes(): Promise<Partial<Record<string, number | null>>> {
    const out: Partial<Record<string, number | null>> = {};
    for (const c of this.#children) if (c.plane !== 'node-init') out[c.plane] = await c.exited;
    return out;
  }
}

/** The "ready" block: where things are and what to paste. */
export function readyText(info: MeshInfo, dataDir: string): string {
  const u = info.urls;
  const rows: string[] = ['IICP mesh ready.'];
  const row = (k: string, v: string): void => {
    rows.push(`  ${k.padEnd(10)} ${v}`);
  };
  if (u.proxy) row('proxy', `${u.proxy}  (OpenAI ${u.proxy}/v1, Ollama ${u.proxy}/api)`);
  if (u.directory) row('directory', `${u.directory}  (loopback nodes allowed)`);
  if (u.relay) row('relay', u.relay);
  if (u.node) row('node', `${u.node}  id ${info.nodeId ?? '?'}`);
  if (info.intents.length > 0) row('intents', info.intents.join(', '));
  if (info.backend) row('backend', info.backend);
  row('models', info.models.length > 0 ? info.models.join(', ') : '(none)');
  if (info.mcp) row('mcp', info.mcp);
  row('data', dataDir);
  const chat = info.intents.includes('urn:iicp:intent:llm:chat:v1');
  const model = info.models[0] ?? 'MODEL';
  rows.push('');
  if (chat && u.proxy) {
    rows.push(
      'Try it:',
      `  curl -s ${u.proxy}/v1/chat/completions -H 'content-type: application/json' \\`,
      `    -d '{"model":"${model}","messages":[{"role":"user","content":"Hello"}]}'`,
      '',
      `  // openai: new OpenAI({ baseURL: '${u.proxy}/v1', apiKey: 'unused' })`,
      `  //   .chat.completions.create({ model: '${model}', messages: [{ role: 'user', content: 'Hello' }] })`,
      '',
    );
  }
  if (u.directory) {
    const token = `JSON.parse(readFileSync('${join(dataDir, 'node', 'node-state.json')}', 'utf8')).node_token`;
    rows.push(
      `  // @iicp/client (the node accepts its operator's token, D-015):`,
      `  const iicp = createClient({ directoryUrl: '${u.directory}', nodeToken: ${token} });`,
    );
    if (chat) rows.push(`  await iicp.chat([{ role: 'user', content: 'Hello' }]);`);
    if (info.intents.includes(MCP_TOOLS_CALL_INTENT))
      rows.push(
        `  await iicp.call('${MCP_TOOLS_CALL_INTENT}', { tool_name: 'echo', arguments: { message: 'hi' } });`,
      );
  }
  rows.push('', 'Ctrl-C stops the mesh.');
  return rows.join('\n');
}
