/**
 * Processes the scenarios start besides the apps (which come from @iicp/tools-e2e's
 * `startApp`): the scripted backend, the bare Fastify baseline and the Portkey gateway.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { repoRoot, watchProcess, type AppProcess } from '@iicp/tools-e2e';

const here = dirname(fileURLToPath(import.meta.url));
const tsxLoader = pathToFileURL(join(repoRoot, 'node_modules/tsx/dist/loader.mjs')).href;

/** Run one of this package's src/*.ts scripts in its own process. */
export function startScript(file: string, args: string[] = []): AppProcess {
  const child = spawn(
    process.execPath,
    ['--import', tsxLoader, '--conditions=@iicp/source', join(here, file), ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return watchProcess(child, file, { maxOutput: 200_000 });
}

/** The scripted OpenAI-compatible backend (backend-server.ts) on a free loopback port. */
export async function startBackend(): Promise<{ proc: AppProcess; url: string }> {
  const proc = startScript('backend-server.ts');
  const url = (await proc.waitFor(/backend listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
  return { proc, url };
}

/**
 * The Portkey AI gateway 1.15.2, started as npm installed it, on loopback only: its
 * server binds every interface and has no host flag, so a preload pins `listen` to
 * 127.0.0.1. `--headless` skips its web UI.
 */
export async function startPortkey(port: number): Promise<{ proc: AppProcess; url: string }> {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve('@portkey-ai/gateway/package.json');
  const entry = join(dirname(pkg), 'build/start-server.js');
  const child = spawn(
    process.execPath,
    [
      '--import',
      pathToFileURL(join(here, 'loopback-only.mjs')).href,
      entry,
      `--port=${port}`,
      '--headless',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'production' } },
  );
  const proc = watchProcess(child, 'portkey', { maxOutput: 200_000 });
  await proc.waitFor(/Ready for connections/);
  return { proc, url: `http://127.0.0.1:${port}` };
}

/** Stop a child and wait for it (SIGKILL after 5 s). */
export async function stop(
  proc: AppProcess | undefined,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<void> {
  if (!proc) return;
  proc.kill(signal);
  const t = setTimeout(() => proc.kill('SIGKILL'), 5_000);
  await proc.exited();
  clearTimeout(t);
}
