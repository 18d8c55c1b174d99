// Shared helpers of the end-to-end tests: start the apps as their real CLIs, wait for
// what they print, and a scripted OpenAI-compatible backend that can hold a stream.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The repository root (tools/e2e/src → ../../..). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/**
 * tsx as a loader inside the app's own process (not its CLI, which runs the app in a
 * child): SIGKILL, SIGSTOP and SIGCONT must reach the app itself, and a killed app
 * must not leave an orphan behind.
 */
const tsxLoader = pathToFileURL(join(repoRoot, 'node_modules/tsx/dist/loader.mjs')).href;

export type AppName = 'directory' | 'node' | 'relay' | 'proxy';

/** A running app process with everything it printed so far. */
export interface AppProcess {
  readonly child: ChildProcess;
  /** stdout and stderr, interleaved as received. */
  output(): string;
  /** Resolve with the first match of `re` in the output (earlier output included). */
  waitFor(re: RegExp): Promise<RegExpMatchArray>;
  /** Resolve with the exit code once the process exited. */
  exited(): Promise<number | null>;
  /** Send a signal (no-op once exited). */
  kill(signal?: NodeJS.Signals): void;
}

/** Start `apps/<app>/src/cli.ts` with `args` on the workspace sources. */
export function startApp(app: AppName, args: string[], env: NodeJS.ProcessEnv = {}): AppProcess {
  return startScript(
    app,
    join(repoRoot, `apps/${app}/src/cli.ts`),
    args,
    env,
    cpuProfileFlags(app),
  );
}

/**
 * A directory on a free loopback port over SQLite in `dataDir`, accepting private
 * (loopback) endpoints, logging at `warn`; resolves once it listens.
 */
export async function startLocalDirectory(
  dataDir: string,
  extraArgs: readonly string[] = [],
): Promise<{ proc: AppProcess; url: string }> {
  const proc = startApp('directory', [
    ...['serve', '--port', '0', '--data-dir', dataDir, '--allow-private-endpoints'],
    ...['--log-level', 'warn', ...extraArgs],
  ]);
  const url = (await proc.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
  return { proc, url };
}

let profileSeq = 0;

/**
 * With `IICP_CPU_PROF_DIR` set, every app started here writes a V8 CPU profile into
 * that folder when it exits (`<app>-<seq>-<pid of the starter>.cpuprofile`); read them
 * with `npm run bench:flame`. `IICP_CPU_PROF_INTERVAL` sets the sampling interval in µs
 * (V8's default is 1000; a few tens of µs resolve single requests on a timeline).
 */
function cpuProfileFlags(app: string): string[] {
  const dir = process.env['IICP_CPU_PROF_DIR'];
  if (!dir) return [];
  const name = `${app}-${++profileSeq}-${process.pid}.cpuprofile`;
  const interval = process.env['IICP_CPU_PROF_INTERVAL'];
  return [
    '--cpu-prof',
    `--cpu-prof-dir=${dir}`,
    `--cpu-prof-name=${name}`,
    ...(interval && /^\d+$/.test(interval) ? [`--cpu-prof-interval=${interval}`] : []),
  ];
}

/** One job of the consumer process (src/client-runner.mjs). */
export interface ClientJob {
  readonly directoryUrl: string;
  readonly op: 'call' | 'stream';
  readonly intent: string;
  readonly payload: unknown;
  readonly constraints?: Record<string, unknown>;
  /** Phase 1 operator credential sent as `auth.node_token` (D-015). */
  readonly nodeToken?: string;
  readonly timeoutMs?: number;
}

/** What the consumer process prints, one JSON object a line. */
export type ClientLine =
  | { attempt: { nodeId: string | null; ok: boolean; errorCode: string | null } }
  | { delta: { event: string; text: string | null; node_id: string | null } }
  | { result: { status: string; node_id: string | null; result: unknown } }
  | { error: { code: string; status: number | null } }
  | { done: true };

/** Run `@iicp/client` in its own process (as an agent would) for one job. */
export function runClient(job: ClientJob): AppProcess & { lines(): ClientLine[] } {
  const p = startScript('client', join(repoRoot, 'tools/e2e/src/client-runner.mjs'), [
    JSON.stringify(job),
  ]);
  return {
    ...p,
    lines: () =>
      p
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as ClientLine),
  };
}

/** Start a script on the workspace sources (tsx in-process, `@iicp/source` condition). */
export function startScript(
  label: string,
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  nodeFlags: readonly string[] = [],
): AppProcess {
  const child = spawn(
    process.execPath,
    [...nodeFlags, '--import', tsxLoader, '--conditions=@iicp/source', file, ...args],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return watchProcess(child, label);
}

/**
 * Wrap a spawned child (stdout and stderr piped): output capture, `waitFor`, `exited`,
 * `kill`. `maxOutput` keeps only the tail of a long-running process's output.
 */
export function watchProcess(
  child: ChildProcess,
  label: string,
  opts: { maxOutput?: number } = {},
): AppProcess {
  let seen = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer): void => {
    seen += d.toString();
    if (opts.maxOutput !== undefined && seen.length > opts.maxOutput)
      seen = seen.slice(-Math.floor(opts.maxOutput / 2));
    for (const l of [...listeners]) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((r) => {
    if (child.exitCode !== null) r(child.exitCode);
    else child.once('exit', (c) => r(c));
  });
  return {
    child,
    output: () => seen,
    waitFor(re) {
      return new Promise((resolveMatch, reject) => {
        const check = (): boolean => {
          const m = seen.match(re);
          if (m) {
            listeners.delete(onChange);
            resolveMatch(m);
          }
          return m !== null;
        };
        const onChange = (): void => void check();
        if (check()) return;
        listeners.add(onChange);
        void exited.then((code) => {
          if (listeners.delete(onChange) && !check())
            reject(new Error(`${label} exited (${code}) before ${re}: ${seen.slice(-3000)}`));
        });
      });
    },
    exited: () => exited,
    kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/** Poll `fn` until it returns a value other than undefined (at most `tries` × `intervalMs`). */
export async function poll<T>(
  fn: () => Promise<T | undefined>,
  { tries = 150, intervalMs = 200 }: { tries?: number; intervalMs?: number } = {},
): Promise<T | undefined> {
  for (let i = 0; i < tries; i++) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return undefined;
}

/** An OpenAI-compatible backend in the test process. */
export interface ScriptedBackend {
  readonly url: string;
  /** Held streams (see {@link ScriptedBackendOptions.holdStreams}) go on to their end. */
  releaseStreams(): void;
  /** Requests served so far. */
  readonly requests: number;
  /** The raw body of every completion request, in arrival order. */
  readonly bodies: readonly string[];
  close(): Promise<void>;
}

export interface ScriptedBackendOptions {
  /** The one model `/v1/models` lists and every answer names (default `e2e-model`). */
  readonly model?: string;
  /** The buffered answer's text (default `pong`). */
  readonly reply?: string;
  /** The streamed answer's tokens (default `first`, ` second`). */
  readonly streamTokens?: readonly string[];
  /** Hold each stream after its first token until `releaseStreams` (default true). */
  readonly holdStreams?: boolean;
}

/**
 * `/v1/models` → one model; `/v1/chat/completions` → the reply buffered, or SSE: the
 * first token at once, the rest and the end once released (or at once when streams
 * are not held).
 */
export function startScriptedBackend(opts: ScriptedBackendOptions = {}): Promise<ScriptedBackend> {
  const model = opts.model ?? 'e2e-model';
  const [firstToken = '', ...restTokens] = opts.streamTokens ?? ['first', ' second'];
  const usage = { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 };
  let held: (() => void)[] = [];
  let released = opts.holdStreams === false;
  let requests = 0;
  const bodies: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests += 1;
      if (req.method === 'GET' && req.url === '/v1/models') {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ data: [{ id: model }] }));
        return;
      }
      const text = Buffer.concat(chunks).toString();
      bodies.push(text);
      const body = JSON.parse(text || '{}') as { stream?: boolean };
      if (!body.stream) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            model,
            choices: [
              {
                index: 0,
                message: { role: 'assistant', content: opts.reply ?? 'pong' },
                finish_reason: 'stop',
              },
            ],
            usage,
          }),
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const frame = (content: string): string =>
        `data: ${JSON.stringify({ model, choices: [{ index: 0, delta: { content } }] })}\n\n`;
      res.write(frame(firstToken));
      const finish = (): void => {
        for (const t of restTokens) res.write(frame(t));
        res.end(
          `data: ${JSON.stringify({ model, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage })}\n\ndata: [DONE]\n\n`,
        );
      };
      if (released) finish();
      else held.push(finish);
    });
  });
  return new Promise((r) =>
    server.listen(0, '127.0.0.1', () => {
      r({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        releaseStreams() {
          const h = held;
          held = [];
          for (const f of h) f();
        },
        get requests() {
          return requests;
        },
        bodies,
        close: () =>
          new Promise<void>((done) => {
            released = true;
            for (const f of held) f();
            held = [];
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    }),
  );
}
