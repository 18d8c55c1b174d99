import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { AUTH_MODES } from './auth.ts';
import {
  BACKEND_TYPE_OPERATIONS,
  BACKEND_TYPES,
  operationForIntent,
  type BackendType,
} from './backends/types.ts';
import { readJsonFile, writeSecretFile } from './directory/store.ts';

/** Default listening port of the provider node (DESIGN.md: node 9484; iicp-core.md §11.3). */
export const DEFAULT_NODE_PORT = 9484;
/** Loopback by default; `--host 0.0.0.0` opens the node up. */
export const DEFAULT_NODE_HOST = '127.0.0.1';
export const CONFIG_FILE = 'node.json';
export const OPERATOR_KEY_FILE = 'operator.key';

/**
 * The node's settings: the config file (`$IICP_HOME/node.json`, written by `init`),
 * each also a flag and an `IICP_*` variable. Flag > env > file > default.
 */
export const NodeConfigSchema = z.strictObject({
  directoryUrl: z.url().optional(),
  backendUrl: z.url().optional(),
  /** `mcp` serves only MCP tools (no model backend). */
  backendType: z.enum([...BACKEND_TYPES, 'mcp']).optional(),
  backendApiKey: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
  intents: z.array(z.string().min(1)).optional(),
  publicEndpoint: z.url().optional(),
  host: z.string().min(1).optional(),
  port: z.coerce.number().int().min(0).max(65535).optional(),
  region: z.string().min(1).max(64).optional(),
  maxConcurrent: z.coerce.number().int().min(1).max(256).optional(),
  auth: z.enum(AUTH_MODES).optional(),
  /** Node id claimed at first registration (init creates one so it can be delegated). */
  nodeId: z.uuid().optional(),
  /** MCP server over stdio: program and its arguments. */
  mcpCommand: z.string().min(1).optional(),
  mcpArgs: z.array(z.string()).optional(),
  /** MCP server over Streamable HTTP (https unless loopback). */
  mcpUrl: z.url().optional(),
  /** Dangerous MCP tools the operator opts in to (still needs mcpSandbox). */
  mcpAllowTools: z.array(z.string().min(1)).optional(),
  /** Sandbox the MCP server runs in: 1, true, strict, container or sandbox. */
  mcpSandbox: z.string().min(1).optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  /** Refuse plaintext tasks: only IICP-CX encrypted ones are served (iicp-confidentiality.md §7). */
  requireEncryption: z
    .union([z.boolean(), z.enum(['true', 'false', '1', '0'])])
    .transform((v) => v === true || v === 'true' || v === '1')
    .optional(),
  /**
   * Relay-worker mode (iicp-dir.md §7): `auto` binds to a relay elected from the
   * directory when the directory's liveness probe cannot reach the node; a relay URL
   * always serves through that relay; `off` (default) never.
   */
  relay: z
    .union([z.enum(['auto', 'off']), z.url({ protocol: /^https?$/ })], {
      message: 'must be auto, off or an http(s) relay URL',
    })
    .optional(),
});
export type NodeConfig = z.infer<typeof NodeConfigSchema>;

/** One setting: its flag, its env variable, and whether it repeats. */
export interface SettingSpec {
  key: keyof NodeConfig;
  flag: string;
  env: string;
  help: string;
  multiple?: boolean;
}

export const SETTINGS: readonly SettingSpec[] = [
  {
    key: 'directoryUrl',
    flag: 'directory-url',
    env: 'IICP_DIRECTORY_URL',
    help: 'directory to register with (omit to serve unregistered)',
  },
  {
    key: 'backendUrl',
    flag: 'backend-url',
    env: 'IICP_BACKEND_URL',
    help: 'model server base URL',
  },
  {
    key: 'backendType',
    flag: 'backend-type',
    env: 'IICP_BACKEND_TYPE',
    help: `${BACKEND_TYPES.join('|')}|mcp (auto-detected when omitted)`,
  },
  {
    key: 'backendApiKey',
    flag: 'backend-api-key',
    env: 'IICP_BACKEND_API_KEY',
    help: 'API key for the backend (OpenAI, Anthropic)',
  },
  {
    key: 'model',
    flag: 'model',
    env: 'IICP_MODEL',
    help: 'default model (payloads may pick another served model)',
  },
  {
    key: 'intents',
    flag: 'intent',
    env: 'IICP_INTENT',
    help: 'intent URN to serve (repeatable; env: comma-separated)',
    multiple: true,
  },
  {
    key: 'publicEndpoint',
    flag: 'public-endpoint',
    env: 'IICP_PUBLIC_ENDPOINT',
    help: 'URL peers use to reach this node',
  },
  {
    key: 'host',
    flag: 'host',
    env: 'IICP_HOST',
    help: `listen address (default ${DEFAULT_NODE_HOST})`,
  },
  {
    key: 'port',
    flag: 'port',
    env: 'IICP_PORT',
    help: `listen port (default ${DEFAULT_NODE_PORT})`,
  },
  {
    key: 'region',
    flag: 'region',
    env: 'IICP_REGION',
    help: 'region advertised to the directory (default global)',
  },
  {
    key: 'maxConcurrent',
    flag: 'max-concurrent',
    env: 'IICP_MAX_CONCURRENT',
    help: 'concurrent tasks, 1–256 (default 4)',
  },
  {
    key: 'auth',
    flag: 'auth',
    env: 'IICP_AUTH',
    help: 'open (default: open mesh, rate-limited per IP and Origin) or token',
  },
  {
    key: 'nodeId',
    flag: 'node-id',
    env: 'IICP_NODE_ID',
    help: 'node id to claim at first registration',
  },
  {
    key: 'mcpCommand',
    flag: 'mcp-command',
    env: 'IICP_MCP_COMMAND',
    help: 'MCP server program (stdio)',
  },
  {
    key: 'mcpArgs',
    flag: 'mcp-arg',
    env: 'IICP_MCP_ARGS',
    help: 'argument of the MCP program (repeatable; env: comma-separated)',
    multiple: true,
  },
  { key: 'mcpUrl', flag: 'mcp-url', env: 'IICP_MCP_URL', help: 'MCP server URL (Streamable HTTP)' },
  {
    key: 'mcpAllowTools',
    flag: 'mcp-allow-tool',
    env: 'IICP_MCP_ALLOW_TOOLS',
    help: 'opt a dangerous MCP tool in (repeatable; needs --mcp-sandbox)',
    multiple: true,
  },
  {
    key: 'mcpSandbox',
    flag: 'mcp-sandbox',
    env: 'IICP_MCP_SANDBOX',
    help: 'sandbox profile of the MCP server (strict|container|sandbox)',
  },
  {
    key: 'relay',
    flag: 'relay',
    env: 'IICP_RELAY',
    help: 'auto|URL|off: serve through a relay when unreachable (auto) or always (URL)',
  },
  { key: 'logLevel', flag: 'log-level', env: 'IICP_LOG_LEVEL', help: 'log level (default info)' },
  {
    key: 'requireEncryption',
    flag: 'require-encryption',
    env: 'IICP_REQUIRE_ENCRYPTION',
    help: 'serve IICP-CX encrypted tasks only (flag alone, or true|false)',
  },
];

/** `$IICP_HOME`, default `~/.iicp`. */
export function iicpHome(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? env.IICP_HOME ?? join(homedir(), '.iicp');
}

export async function readConfigFile(path: string): Promise<NodeConfig> {
  const raw = await readJsonFile(path);
  if (raw === undefined) return {};
  const r = NodeConfigSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new Error(
      `${path}: ${issue?.path.join('.') || '(file)'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return r.data;
}

export async function writeConfigFile(path: string, config: NodeConfig): Promise<void> {
  await writeSecretFile(path, `${JSON.stringify(config, null, 2)}\n`);
}

/**
 * Merge the layers: flag > env > file > default. Values from flags and env are
 * strings; the schema coerces and checks them, and a bad one names its source.
 */
export function resolveConfig(
  flags: Record<string, string | string[] | boolean | undefined>,
  env: NodeJS.ProcessEnv,
  file: NodeConfig,
): NodeConfig {
  const merged: Record<string, unknown> = { ...file };
  for (const s of SETTINGS) {
    const e = env[s.env];
    if (e !== undefined && e !== '')
      merged[s.key] = s.multiple
        ? e
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean)
        : e;
    const f = flags[s.flag];
    if (f !== undefined && typeof f !== 'boolean')
      merged[s.key] = s.multiple ? (Array.isArray(f) ? f : [f]) : f;
  }
  const r = NodeConfigSchema.safeParse(merged);
  if (!r.success) {
    const issue = r.error.issues[0];
    const key = String(issue?.path[0] ?? '');
    const spec = SETTINGS.find((s) => s.key === key);
    const where = spec ? `--${spec.flag} / ${spec.env}` : key;
    throw new Error(`invalid ${where}: ${issue?.message ?? 'invalid value'}`);
  }
  checkIntentsForBackend(r.data.backendType, r.data.intents);
  return r.data;
}

/**
 * Refuse, at config time, an intent the chosen backend family cannot serve (e.g.
 * `audio:transcribe:v1` on Ollama or Anthropic, any model intent on `mcp`). With no
 * backend type yet (auto-detected) the check waits for the app to be built.
 */
export function checkIntentsForBackend(
  backendType: BackendType | 'mcp' | undefined,
  intents: readonly string[] | undefined,
): void {
  if (backendType === undefined || intents === undefined) return;
  const ops = backendType === 'mcp' ? [] : BACKEND_TYPE_OPERATIONS[backendType];
  for (const intent of intents) {
    const op = operationForIntent(intent);
    if (op !== undefined && !ops.includes(op)) {
      throw new Error(
        `invalid --intent / IICP_INTENT: backend type ${backendType} cannot serve ${intent}`,
      );
    }
  }
}
