/**
 * Directory configuration: the options `buildApp` takes, their defaults, and how the
 * CLI reads them (flag > environment `IICP_DIRECTORY_*` > default).
 */
import { parseArgs } from 'node:util';
import { IicpLocalError } from '@iicp/wire';
import type { AccountingOptions } from './accounting.ts';
import { DEFAULT_DATA_DIR } from './storage/open.ts';

export const DEFAULT_HOST = '127.0.0.1';
/** Default listening port of the directory (DESIGN.md: directory 8090). */
export const DEFAULT_DIRECTORY_PORT = 8090;
/** "60 registrations per 60 s per source IP" (iicp-dir.md §6; digest C1). */
export const DEFAULT_REGISTER_RATE_LIMIT = 60;
export const REGISTER_RATE_WINDOW_MS = 60_000;
/** How long a dormant node is kept before it is deleted (digest C29: 30 days). */
export const DEFAULT_DORMANT_RETENTION_MS = 30 * 24 * 3600_000;
/** Address history is kept at least 30 days (iicp-core.md §11 DIR-ADDR-06); we keep 35. */
export const ADDRESS_HISTORY_RETENTION_MS = 35 * 24 * 3600_000;
/** Sweeper period: dormancy is decided at 90 s, so a 15 s sweep is at most 15 s late. */
export const DEFAULT_SWEEP_INTERVAL_MS = 15_000;
/** Index refresh from the database: the spec allows 5 s of discover staleness. */
export const DEFAULT_INDEX_REFRESH_MS = 2_000;
/** Registration liveness probe timeout (digest §1.1 step 7: 5 s). */
export const LIVENESS_PROBE_TIMEOUT_MS = 5_000;
/**
 * Verified node tokens kept (by SHA-256, never the token) and for how long. Sized so a
 * directory's live nodes all stay cached: 100,000 nodes beating every 30 s with a 300 s
 * lifetime would redo ~330 bcrypt checks (cost 10, ~65 ms each) per second, far more
 * than two cores have. A long lifetime weakens nothing: an entry only answers for the
 * stored hash it was checked against, which a rotation or deregistration replaces.
 */
export const NODE_TOKEN_CACHE_MAX_ENTRIES = 500_000;
export const NODE_TOKEN_CACHE_TTL_S = 24 * 3600;

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Also takes the accounting knobs (accounting.ts: telemetry α, credit cap, probing). */
export interface DirectoryOptions extends AccountingOptions {
  readonly host?: string;
  readonly port?: number;
  readonly dataDir?: string;
  readonly databaseUrl?: string;
  /** Set to `:memory:` for a throwaway SQLite database (tests). */
  readonly sqliteFile?: string;
  /** The directory's public origin, returned as ACK `directory`. */
  readonly publicUrl?: string;
  readonly registerRateLimit?: number;
  /** Development and tests only: private/loopback/http endpoints accepted, addresses unchecked. */
  readonly allowPrivateEndpoints?: boolean;
  /** Test-only `host:port` → `addr:port` overrides for the liveness probe. */
  readonly probeConnectTo?: Readonly<Record<string, string>>;
  /** Extra CA certificates (PEM) trusted by the liveness probe (plus NODE_EXTRA_CA_CERTS). */
  readonly probeCa?: string | Buffer | readonly (string | Buffer)[];
  readonly logLevel?: LogLevel;
  /** bcrypt cost for node tokens (default 10; tests lower it). */
  readonly bcryptCost?: number;
  readonly sweepIntervalMs?: number;
  readonly indexRefreshMs?: number;
  readonly dormantRetentionMs?: number;
  /** Trust X-Forwarded-For / CF-Connecting-IP (only behind a proxy you run). */
  readonly trustProxy?: boolean;
  /** Clock in epoch ms (tests). */
  readonly now?: () => number;
  /** Start the sweeper and index refresher timers (default true). */
  readonly timers?: boolean;
  /** Directory signing key, 64-hex Ed25519 seed (env IICP_DIRECTORY_SIGNING_KEY). */
  readonly signingKey?: string;
  /** File holding the 64-hex seed, mode 0600 (`--signing-key-file`). */
  readonly signingKeyFile?: string;
  /** Bearer tokens accepted by `GET /v1/snapshot` until replicas register (D-041). */
  readonly replicaTokens?: readonly string[];
}

export const USAGE = `Usage: iicp-directory <command> [options]

Commands:
  serve      run the directory (default)
  migrate    apply database migrations and exit
  verify-log replay the signed event log from genesis, check every link and
             signature, and compare with the live node set (exit 1 on mismatch)

Options (each also as env IICP_DIRECTORY_<NAME>, e.g. IICP_DIRECTORY_PORT):
  --host HOST                    listen address (default 127.0.0.1)
  --port PORT                    listen port (default 8090)
  --data-dir DIR                 SQLite data directory (default ./.iicp/directory)
  --database-url URL             postgres://… to use PostgreSQL instead of SQLite
  --public-url URL               public origin announced in ACKs
  --register-rate-limit N        registrations per source IP per 60 s (default 60)
  --allow-private-endpoints      development/tests only: accept loopback, private and
                                 http:// endpoints without address checks
  --probe-connect-to H:P=A:P     tests: dial A:P for liveness probes of H:P (repeatable)
  --trust-proxy                  trust CF-Connecting-IP / X-Forwarded-For
  --signing-key-file FILE        directory Ed25519 seed (64 hex, mode 0600); required
                                 with PostgreSQL unless IICP_DIRECTORY_SIGNING_KEY is set
                                 (SQLite: generated in the data directory)
  --replica-token TOKEN          bearer accepted by GET /v1/snapshot (repeatable;
                                 env: comma-separated)
  --log-level LEVEL              fatal|error|warn|info|debug|trace|silent (default info)
  -h, --help                     show this help
`;

export interface CliInvocation {
  readonly command: 'serve' | 'migrate' | 'verify-log' | 'help';
  readonly options: DirectoryOptions;
}

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

function bad(msg: string): never {
  throw new IicpLocalError('bad_config', msg);
}

function intOpt(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    bad(`--${name} must be an integer in [${min}, ${max}]`);
  return n;
}

function boolEnv(v: string | undefined): boolean | undefined {
  if (v === undefined || v === '') return undefined;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  return bad(`boolean setting must be true or false, got "${v}"`);
}

/** Parse `HOST:PORT=ADDR:PORT` entries (comma-separated in the env form). */
export function parseConnectTo(entries: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of entries) {
    const m = /^([^=\s]+:\d+)=([^=\s]+:\d+)$/.exec(e.trim());
    if (!m) bad(`--probe-connect-to expects HOST:PORT=ADDR:PORT, got "${e}"`);
    out[m[1]!] = m[2]!;
  }
  return out;
}

/** Read argv and env into a command and options (flag > env > default). */
export function parseCli(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): CliInvocation {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      'database-url': { type: 'string' },
      'public-url': { type: 'string' },
      'register-rate-limit': { type: 'string' },
      'allow-private-endpoints': { type: 'boolean' },
      'probe-connect-to': { type: 'string', multiple: true },
      'trust-proxy': { type: 'boolean' },
      'signing-key-file': { type: 'string' },
      'replica-token': { type: 'string', multiple: true },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const cmd = positionals[0] ?? 'serve';
  if (values.help || cmd === 'help') return { command: 'help', options: {} };
  if (cmd !== 'serve' && cmd !== 'migrate' && cmd !== 'verify-log')
    bad(`unknown command "${cmd}" (try --help)`);
  if (positionals.length > 1) bad(`unexpected argument "${positionals[1]}"`);
  const E = (name: string): string | undefined => env[`IICP_DIRECTORY_${name}`];
  const logLevel = values['log-level'] ?? E('LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.has(logLevel)) bad(`--log-level must be one of ${[...LOG_LEVELS].join(', ')}`);
  const connectTo =
    values['probe-connect-to'] ??
    (E('PROBE_CONNECT_TO') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const opts: DirectoryOptions = {
    host: values.host ?? E('HOST') ?? DEFAULT_HOST,
    port: intOpt('port', values.port ?? E('PORT'), 0, 65535) ?? DEFAULT_DIRECTORY_PORT,
    dataDir: values['data-dir'] ?? E('DATA_DIR') ?? DEFAULT_DATA_DIR,
    ...defined('databaseUrl', values['database-url'] ?? E('DATABASE_URL')),
    ...defined('publicUrl', values['public-url'] ?? E('PUBLIC_URL')),
    registerRateLimit:
      intOpt(
        'register-rate-limit',
        values['register-rate-limit'] ?? E('REGISTER_RATE_LIMIT'),
        1,
        1_000_000,
      ) ?? DEFAULT_REGISTER_RATE_LIMIT,
    allowPrivateEndpoints:
      values['allow-private-endpoints'] ?? boolEnv(E('ALLOW_PRIVATE_ENDPOINTS')) ?? false,
    probeConnectTo: parseConnectTo(connectTo),
    trustProxy: values['trust-proxy'] ?? boolEnv(E('TRUST_PROXY')) ?? false,
    logLevel: logLevel as LogLevel,
    ...defined('signingKey', E('SIGNING_KEY')),
    ...defined('signingKeyFile', values['signing-key-file'] ?? E('SIGNING_KEY_FILE')),
    replicaTokens:
      values['replica-token'] ??
      (E('REPLICA_TOKENS') ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
  };
  return { command: cmd, options: opts };
}

function defined<K extends string>(k: K, v: string | undefined): Partial<Record<K, string>> {
  return v === undefined || v === '' ? {} : ({ [k]: v } as Record<K, string>);
}
