import { ROUTING_PROFILES } from '@iicp/client';
import { QOS_VALUES } from '@iicp/wire';
import { z } from 'zod';

/** Default listening port of the consumer proxy (DESIGN.md: proxy 9483). */
export const DEFAULT_PROXY_PORT = 9483;
/** Loopback by default: the proxy spends its operator's credentials, so `--host` opens it up. */
export const DEFAULT_PROXY_HOST = '127.0.0.1';
/** How long shutdown waits for in-flight answers (streams included) before cutting them. */
export const DEFAULT_PROXY_SHUTDOWN_MS = 10_000;

const csv = (v: unknown) =>
  typeof v === 'string'
    ? v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : v;

/**
 * `iicp-proxy serve` settings. Each is a flag and an `IICP_PROXY_*` variable; flag > env
 * > default. Numbers arrive as strings and are coerced; the routing options are checked
 * again by @iicp/client's `createClient` (`invalid_config`).
 */
export const ProxyConfigSchema = z.strictObject({
  directoryUrl: z.url({ protocol: /^https?$/ }),
  host: z.string().min(1).default(DEFAULT_PROXY_HOST),
  port: z.coerce.number().int().min(0).max(65535).default(DEFAULT_PROXY_PORT),
  region: z.string().min(1).max(64).optional(),
  qos: z.enum(QOS_VALUES).optional(),
  routingProfile: z.enum(ROUTING_PROFILES).optional(),
  allowedRegions: z.preprocess(csv, z.array(z.string().min(1).max(64))).optional(),
  timeoutMs: z.coerce.number().int().min(100).max(120_000).optional(),
  attemptGraceMs: z.coerce.number().int().min(0).max(60_000).optional(),
  discoverLimit: z.coerce.number().int().min(1).max(50).optional(),
  dispatch: z.enum(['discover', 'ticket']).optional(),
  localFallback: z.url({ protocol: /^https?$/ }).optional(),
  operatorToken: z.string().min(1).optional(),
  nodeId: z.string().min(1).optional(),
  nodeToken: z.string().min(1).optional(),
  /** IICP-CX escape hatch: plaintext to nodes without a `cx_public_key` (refused by default). */
  allowPlaintext: z
    .union([z.boolean(), z.enum(['true', 'false', '1', '0'])])
    .transform((v) => v === true || v === 'true' || v === '1')
    .optional(),
  shutdownTimeoutMs: z.coerce.number().int().min(0).max(600_000).default(DEFAULT_PROXY_SHUTDOWN_MS),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type ProxyConfig = z.infer<typeof ProxyConfigSchema>;

/** One setting: its flag, its env variable, its help line. */
export interface SettingSpec {
  readonly key: keyof ProxyConfig;
  readonly flag: string;
  readonly env: string;
  readonly help: string;
  readonly multiple?: boolean;
  /** Secrets are never echoed in errors or the startup line. */
  readonly secret?: boolean;
}

export const SETTINGS: readonly SettingSpec[] = [
  {
    key: 'directoryUrl',
    flag: 'directory-url',
    env: 'IICP_PROXY_DIRECTORY_URL',
    help: 'directory to discover nodes from (required)',
  },
  {
    key: 'host',
    flag: 'host',
    env: 'IICP_PROXY_HOST',
    help: `listen address (default ${DEFAULT_PROXY_HOST})`,
  },
  {
    key: 'port',
    flag: 'port',
    env: 'IICP_PROXY_PORT',
    help: `listen port (default ${DEFAULT_PROXY_PORT}; 0 picks one)`,
  },
  {
    key: 'region',
    flag: 'region',
    env: 'IICP_PROXY_REGION',
    help: 'preferred node region for discovery (a preference, not a filter)',
  },
  {
    key: 'qos',
    flag: 'qos',
    env: 'IICP_PROXY_QOS',
    help: `QoS class: ${QOS_VALUES.join('|')} (sets the attempt budget)`,
  },
  {
    key: 'routingProfile',
    flag: 'routing-profile',
    env: 'IICP_PROXY_ROUTING_PROFILE',
    help: `${ROUTING_PROFILES.join('|')} (default standard)`,
  },
  {
    key: 'allowedRegions',
    flag: 'allowed-region',
    env: 'IICP_PROXY_ALLOWED_REGIONS',
    help: 'region allowed by eu_restricted/allowed_regions_strict (repeatable; env: comma-separated)',
    multiple: true,
  },
  {
    key: 'timeoutMs',
    flag: 'timeout-ms',
    env: 'IICP_PROXY_TIMEOUT_MS',
    help: 'per-attempt task timeout, 100-120000 ms (default 30000)',
  },
  {
    key: 'attemptGraceMs',
    flag: 'attempt-grace-ms',
    env: 'IICP_PROXY_ATTEMPT_GRACE_MS',
    help: "wait past the timeout for the node's own 504 (default 2000)",
  },
  {
    key: 'discoverLimit',
    flag: 'discover-limit',
    env: 'IICP_PROXY_DISCOVER_LIMIT',
    help: 'nodes asked from discovery, 1-50',
  },
  {
    key: 'dispatch',
    flag: 'dispatch',
    env: 'IICP_PROXY_DISPATCH',
    help: 'discover (default) or ticket (prompt-free dispatch tickets)',
  },
  {
    key: 'localFallback',
    flag: 'local-fallback',
    env: 'IICP_PROXY_LOCAL_FALLBACK',
    help: 'URL of a local node tried after the remote ones',
  },
  {
    key: 'operatorToken',
    flag: 'operator-token',
    env: 'IICP_PROXY_OPERATOR_TOKEN',
    help: 'operator node_token sent to nodes as auth.node_token (prefer the env variable)',
    secret: true,
  },
  {
    key: 'nodeId',
    flag: 'node-id',
    env: 'IICP_PROXY_NODE_ID',
    help: "the proxy's own node id (with --node-token: consumer tokens, observed IP)",
  },
  {
    key: 'nodeToken',
    flag: 'node-token',
    env: 'IICP_PROXY_NODE_TOKEN',
    help: "the proxy's own node token, sent only to the directory (prefer the env variable)",
    secret: true,
  },
  {
    key: 'allowPlaintext',
    flag: 'allow-plaintext',
    env: 'IICP_PROXY_ALLOW_PLAINTEXT',
    help: 'send plaintext to nodes without an IICP-CX key (default: refuse them; flag alone, or true|false)',
  },
  {
    key: 'shutdownTimeoutMs',
    flag: 'shutdown-timeout-ms',
    env: 'IICP_PROXY_SHUTDOWN_TIMEOUT_MS',
    help: `drain deadline on SIGTERM/SIGINT (default ${DEFAULT_PROXY_SHUTDOWN_MS})`,
  },
  {
    key: 'logLevel',
    flag: 'log-level',
    env: 'IICP_PROXY_LOG_LEVEL',
    help: 'fatal|error|warn|info|debug|trace|silent (default info)',
  },
];

/**
 * Merge flag > env > default and validate. A bad value names its flag and variable,
 * never its content (it may be a token).
 */
export function resolveProxyConfig(
  flags: Readonly<Record<string, string | string[] | boolean | undefined>>,
  env: NodeJS.ProcessEnv,
): ProxyConfig {
  const merged: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    const e = env[s.env];
    if (e !== undefined && e !== '') merged[s.key] = e;
    const f = flags[s.flag];
    if (f !== undefined && typeof f !== 'boolean') merged[s.key] = f;
  }
  const r = ProxyConfigSchema.safeParse(merged);
  if (!r.success) {
    const issue = r.error.issues[0];
    const key = String(issue?.path[0] ?? '');
    const spec = SETTINGS.find((s) => s.key === key);
    const where = spec ? `--${spec.flag} / ${spec.env}` : key || '(config)';
    const missing = issue?.code === 'invalid_type' && merged[key] === undefined;
    throw new Error(
      `${missing ? 'missing' : 'invalid'} ${where}${missing ? '' : `: ${issue?.message ?? 'invalid value'}`}`,
    );
  }
  if ((r.data.nodeId === undefined) !== (r.data.nodeToken === undefined)) {
    throw new Error('--node-id and --node-token go together (the proxy identity)');
  }
  return r.data;
}
