#!/usr/bin/env node
import { randomUUID } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { createHttpClient } from '@iicp/http';
import { createBackend, createBackendHttpClient, DEFAULT_BACKEND_URLS } from './backends/index.ts';
import { OPERATION_INTENTS, type BackendType } from './backends/types.ts';
import {
  CONFIG_FILE,
  DEFAULT_NODE_HOST,
  DEFAULT_NODE_PORT,
  iicpHome,
  readConfigFile,
  resolveConfig,
  SETTINGS,
  writeConfigFile,
  type NodeConfig,
} from './config.ts';
import { DirectoryClient } from './directory/client.ts';
import { NodeStateStore } from './directory/store.ts';
import { CX_KEY_FILE, ensureCxKeys, rotateCxKeys } from './cx/key-store.ts';
import { ensureOperatorKey, loadOperatorKey } from './identity.ts';
import { startNode } from './main.ts';
import { McpGateway, MCP_TOOLS_CALL_INTENT } from './mcp/gateway.ts';
import { detectBackend, probeLocalBackends, type ProbeResult } from './probe.ts';

export interface CliIo {
  env: NodeJS.ProcessEnv;
  out: (text: string) => void;
  err: (text: string) => void;
  /** Interactive input; absent means non-interactive. */
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
}

const COMMON: ParseArgsConfig['options'] = {
  help: { type: 'boolean', short: 'h' },
  home: { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
  'non-interactive': { type: 'boolean' },
};
for (const s of SETTINGS)
  COMMON[s.flag] = { type: 'string', ...(s.multiple ? { multiple: true } : {}) };
// A switch: `--require-encryption` alone (the env variable takes true|false).
COMMON['require-encryption'] = { type: 'boolean' };

const SETTINGS_HELP = SETTINGS.map((s) => `  --${s.flag.padEnd(18)} ${s.help} [${s.env}]`).join(
  '\n',
);

const HELP: Record<string, string> = {
  main: `iicp-node: serve intents to the IICP mesh from a local or hosted model backend.

Usage: iicp-node <command> [options]

Commands:
  init     set up $IICP_HOME (default ~/.iicp): find backends, choose intents,
           create the operator identity and node config
  serve    run the node: serve POST /v1/task, register and heartbeat
  status   registration, last heartbeat, observed IP, backend health, load
  doctor   check each step a node needs and say how to fix what fails
  rotate-cx-key
           replace the IICP-CX encryption key (the old one still decrypts for 15 min);
           the next serve advertises it through the refresh proof current_node_token

Run iicp-node <command> --help for its options.`,
  init: `Usage: iicp-node init [options]

Finds local backends (Ollama :11434, LM Studio :1234, vLLM :8000, llama.cpp :8080),
lists their models, chooses intents, creates the operator Ed25519 key and the node
config under $IICP_HOME (files 0600), and prints the serve command.

  -y, --yes, --non-interactive   take flags and detected defaults, ask nothing
  --home <dir>                   IICP home (default ~/.iicp) [IICP_HOME]
${SETTINGS_HELP}`,
  serve: `Usage: iicp-node serve [options]

Every option is also an IICP_* variable and a key of $IICP_HOME/${CONFIG_FILE};
flag > env > file > default.

  --home <dir>                   IICP home (default ~/.iicp) [IICP_HOME]
  --config <file>                config file (default $IICP_HOME/${CONFIG_FILE}) [IICP_CONFIG]
${SETTINGS_HELP}`,
  status: `Usage: iicp-node status [--json] [--home <dir>] [--config <file>] [options]

Shows the registration (node id, directory, time), the last heartbeat, the source IP
the directory observed (with the NAT warning of iicp-core.md §11.2), whether the local
node answers /iicp/health, its load, and backend health.`,
  'rotate-cx-key': `Usage: iicp-node rotate-cx-key [--home <dir>]

Creates a new X25519 key in $IICP_HOME/${CX_KEY_FILE} (mode 0600). The previous key
keeps decrypting tasks already sealed to it for 15 minutes. Restart iicp-node serve to
advertise the new key: it re-registers with current_node_token, the proof the directory
asks for before it changes cx_public_key (IICP-E049 otherwise). Keys last 90 days
(CX-NODE-01); serve warns 7 days before expiry.`,
  doctor: `Usage: iicp-node doctor [--json] [--home <dir>] [--config <file>] [options]

Checks the IICP home, config, operator key, backend, model, directory, public endpoint
and the local node, and says how to fix each failure. Exit code 1 when any check fails.`,
};

interface Parsed {
  values: Record<string, string | string[] | boolean | undefined>;
  home: string;
  configPath: string;
}

function parse(argv: string[], env: NodeJS.ProcessEnv): Parsed {
  const { values } = parseArgs({
    args: argv,
    options: COMMON,
    strict: true,
    allowPositionals: false,
  });
  const v = values as Parsed['values'];
  if (v['require-encryption'] === true) v['require-encryption'] = 'true';
  const home = iicpHome(typeof v.home === 'string' ? v.home : undefined, env);
  const configPath =
    typeof v.config === 'string' ? v.config : (env.IICP_CONFIG ?? join(home, CONFIG_FILE));
  return { values: v, home, configPath };
}

async function loadConfig(p: Parsed, env: NodeJS.ProcessEnv): Promise<NodeConfig> {
  return resolveConfig(p.values, env, await readConfigFile(p.configPath));
}

// --- init ------------------------------------------------------------------------------

async function init(p: Parsed, io: CliIo): Promise<number> {
  const interactive = !p.values.yes && !p.values['non-interactive'] && io.input !== undefined;
  const rl = interactive
    ? createInterface({ input: io.input!, output: io.output ?? process.stdout })
    : undefined;
  const ask = async (q: string, def: string): Promise<string> => {
    if (!rl) return def;
    const a = (await rl.question(`${q} [${def}]: `)).trim();
    return a === '' ? def : a;
  };
  try {
    const file = await readConfigFile(p.configPath);
    const cfg = resolveConfig(p.values, io.env, file);
    await mkdir(p.home, { recursive: true, mode: 0o700 });
    if (cfg.backendType === 'mcp') return await initMcp(p, io, file, cfg);
    const llmType = cfg.backendType;
    const http = createBackendHttpClient();
    let chosen: ProbeResult | undefined;
    try {
      if (cfg.backendUrl || llmType) {
        const url = cfg.backendUrl ?? DEFAULT_BACKEND_URLS[llmType!];
        io.out(`Checking the backend at ${url} ...`);
        chosen = llmType
          ? await createBackend({
              type: llmType,
              baseUrl: url,
              http,
              ...(cfg.backendApiKey ? { apiKey: cfg.backendApiKey } : {}),
            })
              .listModels({ timeoutMs: 3_000 })
              .then((models) => ({ type: llmType!, url, models }))
              .catch(() => ({ type: llmType!, url, models: [] }))
          : await detectBackend(url, http);
        if (!chosen) {
          io.err(`No backend answered at ${url}. Start it, or pass --backend-type.`);
          return 1;
        }
      } else {
        io.out('Looking for local backends (Ollama, LM Studio, vLLM, llama.cpp) ...');
        const found = await probeLocalBackends(http);
        for (const [i, f] of found.entries())
          io.out(`  ${i + 1}. ${f.type} at ${f.url} (${f.models.length} models)`);
        if (found.length === 0) {
          io.err(
            'No local backend found. Start one (e.g. `ollama serve`) or pass --backend-url and --backend-type.',
          );
          return 1;
        }
        const pick = Number(await ask('Backend', '1'));
        chosen =
          found[Math.max(0, Math.min(found.length - 1, (Number.isInteger(pick) ? pick : 1) - 1))];
      }
    } finally {
      await http.close();
    }
    const backendType: BackendType = chosen!.type;
    if (chosen!.models.length > 0) io.out(`Models: ${chosen!.models.join(', ')}`);
    const model = cfg.model ?? (await ask('Default model', chosen!.models[0] ?? ''));
    const ops = createBackend({ type: backendType, baseUrl: chosen!.url }).operations;
    const offered = ops.map((op) => OPERATION_INTENTS[op]);
    const intentsText =
      cfg.intents?.join(',') ??
      (await ask('Intents to serve (comma-separated)', offered.join(',')));
    const intents = intentsText
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = intents.filter((i) => !offered.includes(i));
    if (bad.length > 0) {
      io.err(`${backendType} cannot serve ${bad.join(', ')}; choose from ${offered.join(', ')}`);
      return 1;
    }
    const directoryUrl =
      cfg.directoryUrl ??
      (rl ? (await ask('Directory URL (empty: none)', '')) || undefined : undefined);
    const key = await ensureOperatorKey(p.home);
    const cx = await ensureCxKeys(p.home);
    const config: NodeConfig = {
      ...file,
      ...cfg,
      backendType,
      backendUrl: chosen!.url,
      ...(model ? { model } : {}),
      intents,
      ...(directoryUrl ? { directoryUrl } : {}),
      nodeId: cfg.nodeId ?? file.nodeId ?? randomUUID(),
    };
    resolveConfig({}, {}, config); // validates the merged result
    await writeConfigFile(p.configPath, config);
    io.out(
      `Operator key ${key.created ? 'created' : 'kept'}: ${join(p.home, 'operator.key')} (public ${key.publicKeyHex.slice(0, 16)}…)`,
    );
    io.out(
      `IICP-CX key ${cx.created ? 'created' : 'kept'}: ${join(p.home, CX_KEY_FILE)} (${cx.keys.current.keyId})`,
    );
    io.out(`Config written: ${p.configPath} (mode 0600)`);
    const homeFlag = p.values.home ? ` --home ${p.home}` : '';
    io.out(
      `Next: iicp-node serve${homeFlag}${config.directoryUrl ? '' : ' --directory-url <url>'}`,
    );
    return 0;
  } finally {
    rl?.close();
  }
}

async function initMcp(p: Parsed, io: CliIo, file: NodeConfig, cfg: NodeConfig): Promise<number> {
  if (!cfg.mcpCommand && !cfg.mcpUrl) {
    io.err('--backend-type mcp needs --mcp-command (stdio) or --mcp-url (Streamable HTTP)');
    return 1;
  }
  const key = await ensureOperatorKey(p.home);
  await ensureCxKeys(p.home);
  const config: NodeConfig = {
    ...file,
    ...cfg,
    intents: [MCP_TOOLS_CALL_INTENT],
    nodeId: cfg.nodeId ?? file.nodeId ?? randomUUID(),
  };
  await writeConfigFile(p.configPath, config);
  io.out(`Operator key ${key.created ? 'created' : 'kept'}: ${join(p.home, 'operator.key')}`);
  io.out(`Config written: ${p.configPath} (mode 0600)`);
  io.out(`Next: iicp-node serve${p.values.home ? ` --home ${p.home}` : ''}`);
  return 0;
}

// --- status ------------------------------------------------------------------------------

async function getJson(url: string, timeoutMs = 2_000): Promise<unknown> {
  const http = createHttpClient({ timeoutMs });
  try {
    return (await http.request({ url })).body;
  } finally {
    await http.close();
  }
}

function localUrl(cfg: NodeConfig): string {
  const host = cfg.host ?? DEFAULT_NODE_HOST;
  const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host;
  return `http://${h}:${cfg.port ?? DEFAULT_NODE_PORT}`;
}

async function status(p: Parsed, io: CliIo): Promise<number> {
  const cfg = await loadConfig(p, io.env);
  const saved = await new NodeStateStore(p.home).load();
  const health = await getJson(`${localUrl(cfg)}/iicp/health`).catch(() => undefined);
  const type = cfg.backendType === 'mcp' ? undefined : cfg.backendType;
  const backendUrl = cfg.backendUrl ?? (type ? DEFAULT_BACKEND_URLS[type] : undefined);
  let backend: { type?: string; url?: string; healthy: boolean; models: string[] } = {
    healthy: false,
    models: [],
  };
  if (backendUrl) {
    const found = type
      ? await createBackend({
          type,
          baseUrl: backendUrl,
          ...(cfg.backendApiKey ? { apiKey: cfg.backendApiKey } : {}),
        })
          .listModels({ timeoutMs: 2_000 })
          .then((models) => ({ type, url: backendUrl, models }))
          .catch(() => undefined)
      : await detectBackend(backendUrl, createBackendHttpClient());
    backend = found
      ? { ...found, healthy: true }
      : { ...(type ? { type } : {}), url: backendUrl, healthy: false, models: [] };
  }
  const endpointHost = cfg.publicEndpoint ? new URL(cfg.publicEndpoint).hostname : undefined;
  const observed = saved?.observed_source_ip;
  const natWarning =
    observed && endpointHost && observed !== endpointHost
      ? `Observed external IP ${observed} does not match endpoint host ${endpointHost} — this node may be behind NAT or a misconfigured reverse proxy.`
      : null;
  const h = health as { status?: string; load?: number; active_jobs?: number } | undefined;
  const report = {
    registered: saved !== undefined,
    node_id: saved?.node_id ?? null,
    directory_url: saved?.directory_url ?? cfg.directoryUrl ?? null,
    registered_at: saved?.registered_at ?? null,
    last_heartbeat_at: saved?.last_heartbeat_at ?? null,
    observed_source_ip: observed ?? null,
    nat_warning: natWarning,
    node: {
      url: localUrl(cfg),
      running: h !== undefined,
      status: h?.status ?? null,
      load: h?.load ?? null,
      active_jobs: h?.active_jobs ?? null,
    },
    backend,
  };
  if (p.values.json) {
    io.out(JSON.stringify(report, null, 2));
    return 0;
  }
  io.out(
    `Registration:   ${report.registered ? `${report.node_id} at ${report.directory_url} (since ${report.registered_at})` : 'not registered'}`,
  );
  io.out(`Last heartbeat: ${report.last_heartbeat_at ?? 'never'}`);
  io.out(`Observed IP:    ${report.observed_source_ip ?? 'unknown'}`);
  if (natWarning) io.out(`WARNING: ${natWarning}`);
  io.out(
    `Node:           ${report.node.running ? `${report.node.status} at ${report.node.url}, load ${report.node.load}, ${report.node.active_jobs} active` : `not answering at ${report.node.url}`}`,
  );
  io.out(
    `Backend:        ${backend.url ? `${backend.type ?? '?'} at ${backend.url}: ${backend.healthy ? `healthy, ${backend.models.length} models` : 'not answering'}` : 'not configured'}`,
  );
  return 0;
}

// --- doctor ------------------------------------------------------------------------------

interface Check {
  check: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

async function doctor(p: Parsed, io: CliIo): Promise<number> {
  const checks: Check[] = [];
  const add = (check: string, ok: boolean, detail: string, fix?: string): void => {
    checks.push({ check, ok, detail, ...(ok || !fix ? {} : { fix }) });
  };
  let cfg: NodeConfig = {};
  try {
    const st = await stat(p.home);
    add(
      'home',
      st.isDirectory() && (st.mode & 0o077) === 0,
      `${p.home} mode ${(st.mode & 0o777).toString(8)}`,
      `chmod 700 ${p.home}`,
    );
  } catch {
    add('home', false, `${p.home} does not exist`, 'run iicp-node init');
  }
  try {
    cfg = await loadConfig(p, io.env);
    add('config', true, p.configPath);
  } catch (err) {
    add(
      'config',
      false,
      (err as Error).message,
      `fix or remove ${p.configPath}, or run iicp-node init`,
    );
  }
  try {
    const k = await loadOperatorKey(p.home);
    add(
      'operator key',
      k !== undefined,
      k ? 'present' : 'missing',
      'run iicp-node init to create it',
    );
  } catch (err) {
    add(
      'operator key',
      false,
      (err as Error).message,
      'run iicp-node init after moving the bad file away',
    );
  }
  const llmType = cfg.backendType === 'mcp' ? undefined : cfg.backendType;
  if (cfg.mcpCommand || cfg.mcpUrl) {
    const g = new McpGateway(
      cfg.mcpCommand
        ? { transport: 'stdio', command: cfg.mcpCommand, args: cfg.mcpArgs ?? [] }
        : { transport: 'http', url: cfg.mcpUrl! },
      {
        ...(cfg.mcpAllowTools ? { allowTools: cfg.mcpAllowTools } : {}),
        ...(cfg.mcpSandbox ? { sandbox: cfg.mcpSandbox } : {}),
      },
    );
    try {
      await g.connect();
      const refused = g.tools.filter((t) => !t.allowed).map((t) => t.name);
      add(
        'mcp server',
        true,
        `${g.serverName}: ${g.advertisedTools.length} tools served${refused.length ? `, refused by the risk policy: ${refused.join(', ')}` : ''}`,
      );
    } catch (err) {
      add(
        'mcp server',
        false,
        (err as Error).message,
        'check --mcp-command/--mcp-arg or --mcp-url',
      );
    } finally {
      await g.close().catch(() => undefined);
    }
  }
  const backendUrl =
    cfg.backendUrl ?? (llmType ? DEFAULT_BACKEND_URLS[llmType] : DEFAULT_BACKEND_URLS.ollama);
  const http = createBackendHttpClient();
  try {
    const found = llmType
      ? await createBackend({
          type: llmType,
          baseUrl: backendUrl,
          http,
          ...(cfg.backendApiKey ? { apiKey: cfg.backendApiKey } : {}),
        })
          .listModels({ timeoutMs: 2_000 })
          .then((models) => ({ type: llmType!, url: backendUrl, models }))
          .catch(() => undefined)
      : await detectBackend(backendUrl, http);
    add(
      'backend',
      found !== undefined,
      found
        ? `${found.type} at ${backendUrl}, ${found.models.length} models`
        : `nothing answers at ${backendUrl}`,
      'start the model server, or set --backend-url/--backend-type',
    );
    if (found && cfg.model) {
      add(
        'model',
        found.models.includes(cfg.model),
        `default model ${cfg.model}`,
        `pull/load ${cfg.model} or choose one of: ${found.models.join(', ') || '(none)'}`,
      );
    }
  } finally {
    await http.close();
  }
  if (cfg.directoryUrl) {
    try {
      await new DirectoryClient(cfg.directoryUrl).directoryKey();
      add('directory', true, `${cfg.directoryUrl} answers with its key`);
    } catch (err) {
      add(
        'directory',
        false,
        `${cfg.directoryUrl}: ${(err as Error).message}`,
        'check --directory-url and the network',
      );
    }
    const ep = cfg.publicEndpoint;
    const loop = !ep || /^(localhost|127\.|\[?::1\]?)/.test(new URL(ep).hostname);
    add(
      'public endpoint',
      !loop,
      ep ?? '(none: the loopback listen address would be advertised)',
      'set --public-endpoint to a URL peers can reach (see iicp-node status for the observed IP)',
    );
  } else {
    add(
      'directory',
      false,
      'no directory configured: the node serves but nobody discovers it',
      'set --directory-url',
    );
  }
  const health = await getJson(`${localUrl(cfg)}/iicp/health`).catch(() => undefined);
  add(
    'node',
    health !== undefined,
    health ? `answers at ${localUrl(cfg)}` : `not running at ${localUrl(cfg)}`,
    'start it with iicp-node serve',
  );
  const failed = checks.filter((c) => !c.ok);
  if (p.values.json) io.out(JSON.stringify({ ok: failed.length === 0, checks }, null, 2));
  else {
    for (const c of checks)
      io.out(
        `${c.ok ? 'ok  ' : 'FAIL'} ${c.check.padEnd(16)} ${c.detail}${c.fix ? `\n     fix: ${c.fix}` : ''}`,
      );
  }
  return failed.length === 0 ? 0 : 1;
}

// --- entry -------------------------------------------------------------------------------

/** Run the CLI; resolves with the exit code (`serve` resolves once it is listening). */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    io.out(HELP.main!);
    return command ? 0 : 1;
  }
  if (!(command in HELP) || command === 'main') {
    io.err(`unknown command ${command}\n\n${HELP.main}`);
    return 1;
  }
  let p: Parsed;
  try {
    p = parse(rest, io.env);
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${HELP[command]}`);
    return 1;
  }
  if (p.values.help) {
    io.out(HELP[command]!);
    return 0;
  }
  try {
    switch (command) {
      case 'init':
        return await init(p, io);
      case 'status':
        return await status(p, io);
      case 'doctor':
        return await doctor(p, io);
      case 'rotate-cx-key': {
        const before = await ensureCxKeys(p.home);
        const keys = await rotateCxKeys(p.home);
        io.out(
          `IICP-CX key rotated: ${before.keys.current.keyId} -> ${keys.current.keyId} (valid until ${keys.current.notAfter.toISOString()})`,
        );
        io.out(
          'Restart iicp-node serve to advertise it (it re-registers with current_node_token).',
        );
        return 0;
      }
      default: {
        const cfg = await loadConfig(p, io.env);
        await startNode(cfg, { home: p.home, print: io.err });
        return 0;
      }
    }
  } catch (err) {
    io.err(`iicp-node ${command}: ${(err as Error).message}`);
    return 1;
  }
}

const isMain = process.argv[1] !== undefined && /cli\.(ts|js)$/.test(process.argv[1]);
if (isMain) {
  const interactive = process.stdin.isTTY === true;
  runCli(process.argv.slice(2), {
    env: process.env,
    out: (t) => process.stdout.write(`${t}\n`),
    err: (t) => process.stderr.write(`${t}\n`),
    ...(interactive ? { input: process.stdin, output: process.stdout } : {}),
  }).then(
    (code) => {
      if (code !== 0) process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`iicp-node: ${(err as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
