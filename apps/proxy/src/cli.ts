#!/usr/bin/env node
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { resolveProxyConfig, SETTINGS } from './config.ts';
import { startProxy, type RunningProxy, type StartProxyOptions } from './main.ts';

export interface CliIo {
  readonly env: NodeJS.ProcessEnv;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

const OPTIONS: NonNullable<ParseArgsConfig['options']> = { help: { type: 'boolean', short: 'h' } };
for (const s of SETTINGS)
  OPTIONS[s.flag] = { type: 'string', ...(s.multiple ? { multiple: true } : {}) };
// A switch: `--allow-plaintext` alone (the env variable takes true|false).
OPTIONS['allow-plaintext'] = { type: 'boolean' };

export const HELP_MAIN = `iicp-proxy: point any OpenAI, Ollama or Anthropic client at the IICP mesh.

Usage: iicp-proxy <command> [options]

Commands:
  serve    run the proxy (default 127.0.0.1:9483)

Run iicp-proxy serve --help for its options.`;

export const HELP_SERVE = `Usage: iicp-proxy serve --directory-url <url> [options]

Serves OpenAI-compatible /v1/chat/completions, /v1/completions, /v1/embeddings,
/v1/models; Ollama-compatible /api/chat, /api/generate, /api/tags, /api/version;
Anthropic-compatible /v1/messages; /status and /metrics. Every task is routed over
IICP through @iicp/client (discover, retry, circuit breaker, fallback).

Every option is also an IICP_PROXY_* variable; flag > env > default.

${SETTINGS.map((s) => `  --${s.flag.padEnd(20)} ${s.help} [${s.env}]`).join('\n')}
  -h, --help               this text`;

/**
 * Runs the CLI. `serve` resolves with 0 once it listens (the process then lives until
 * a signal); `onStarted` hands the running proxy to tests.
 */
export async function runCli(
  argv: readonly string[],
  io: CliIo,
  opts: StartProxyOptions & { onStarted?: (p: RunningProxy) => void } = {},
): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    io.out(HELP_MAIN);
    return command ? 0 : 1;
  }
  if (command !== 'serve') {
    io.err(`unknown command ${command}\n\n${HELP_MAIN}`);
    return 1;
  }
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    values = parseArgs({ args: [...rest], options: OPTIONS, strict: true, allowPositionals: false })
      .values as typeof values;
    if (values['allow-plaintext'] === true) values['allow-plaintext'] = 'true';
  } catch (err) {
    io.err(`iicp-proxy serve: ${(err as Error).message}\n\n${HELP_SERVE}`);
    return 1;
  }
  if (values.help) {
    io.out(HELP_SERVE);
    return 0;
  }
  try {
    const config = resolveProxyConfig(values, io.env);
    const running = await startProxy(config, { print: io.err, ...opts });
    opts.onStarted?.(running);
    return 0;
  } catch (err) {
    // Config errors name the flag, never the value; client errors are invalid_config.
    io.err(`iicp-proxy serve: ${(err as Error).message}`);
    return 1;
  }
}

const isMain = process.argv[1] !== undefined && /cli\.(ts|js)$/.test(process.argv[1]);
if (isMain) {
  runCli(process.argv.slice(2), {
    env: process.env,
    out: (t) => process.stdout.write(`${t}\n`),
    err: (t) => process.stderr.write(`${t}\n`),
  }).then(
    (code) => {
      if (code !== 0) process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`iicp-proxy: ${(err as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
