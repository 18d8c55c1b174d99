/**
 * Relay configuration from the command line: flag > environment `IICP_RELAY_*` >
 * default (DESIGN.md).
 */
import { parseArgs } from 'node:util';
import { IicpLocalError } from '@iicp/wire';
import type { RelayAppOptions } from './app.ts';
import { DEFAULT_RELAY_HOST, DEFAULT_RELAY_PORT } from './constants.ts';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
];

export interface RelayServeOptions extends RelayAppOptions {
  readonly host: string;
  readonly port: number;
  readonly logLevel: LogLevel;
}

export const USAGE = `Usage: iicp-relay serve [options]

Runs an IICP relay (iicp-dir.md §7): workers behind NAT bind over HTTP long-poll
and consumers reach them at {public-endpoint}/v1/relay-for/{node_id}/...

Options (each also as env IICP_RELAY_<NAME>, e.g. IICP_RELAY_PORT):
  --directory-url URL      directory to take the bind-ticket key from and to register
                           with as relay_capable (none: standalone, key via
                           --directory-key)
  --directory-key HEX      the directory's Ed25519 public key (64 hex), instead of
                           fetching {directory-url}/api/v1/directory-key
  --host HOST              listen address (default ${DEFAULT_RELAY_HOST})
  --port PORT              listen port (default ${DEFAULT_RELAY_PORT})
  --public-endpoint URL    URL nodes and consumers use to reach this relay
                           (default http://HOST:PORT)
  --region REGION          region announced to the directory (default global)
  --max-sessions N         concurrent worker sessions (default 256)
  --log-level LEVEL        ${LOG_LEVELS.join('|')} (default info)
  --no-require-ticket      DEVELOPMENT ONLY: accept binds without a bind ticket
  -h, --help               show this help
`;

export type CliInvocation =
  { readonly command: 'help' } | { readonly command: 'serve'; readonly options: RelayServeOptions };

function bad(msg: string): never {
  throw new IicpLocalError('bad_config', msg);
}

function intOpt(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    bad(`--${name} must be an integer in [${min}, ${max}]`);
  }
  return n;
}

function boolEnv(v: string | undefined): boolean | undefined {
  if (v === undefined || v === '') return undefined;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  return bad(`boolean setting must be true or false, got "${v}"`);
}

function urlOpt(name: string, v: string | undefined): string | undefined {
  if (v === undefined || v === '') return undefined;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return bad(`--${name} must be an http(s) URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') bad(`--${name} must be an http(s) URL`);
  return v.replace(/\/+$/, '');
}

/** Read argv and env into a command and options. */
export function parseCli(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): CliInvocation {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    allowNegative: true,
    strict: true,
    options: {
      'directory-url': { type: 'string' },
      'directory-key': { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'public-endpoint': { type: 'string' },
      region: { type: 'string' },
      'max-sessions': { type: 'string' },
      'log-level': { type: 'string' },
      'require-ticket': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const cmd = positionals[0] ?? 'serve';
  if (values.help || cmd === 'help') return { command: 'help' };
  if (cmd !== 'serve') bad(`unknown command "${cmd}" (try --help)`);
  if (positionals.length > 1) bad(`unexpected argument "${positionals[1]}"`);
  const E = (name: string): string | undefined => env[`IICP_RELAY_${name}`];
  const logLevel = values['log-level'] ?? E('LOG_LEVEL') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    bad(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const key = values['directory-key'] ?? E('DIRECTORY_KEY');
  if (key !== undefined && key !== '' && !/^[0-9a-fA-F]{64}$/.test(key.trim())) {
    bad('--directory-key must be 64 hex characters');
  }
  const directoryUrl = urlOpt('directory-url', values['directory-url'] ?? E('DIRECTORY_URL'));
  const publicEndpoint = urlOpt(
    'public-endpoint',
    values['public-endpoint'] ?? E('PUBLIC_ENDPOINT'),
  );
  const maxSessions = intOpt(
    'max-sessions',
    values['max-sessions'] ?? E('MAX_SESSIONS'),
    1,
    1_000_000,
  );
  const region = values.region ?? E('REGION');
  const options: RelayServeOptions = {
    host: values.host ?? E('HOST') ?? DEFAULT_RELAY_HOST,
    port: intOpt('port', values.port ?? E('PORT'), 0, 65535) ?? DEFAULT_RELAY_PORT,
    logLevel: logLevel as LogLevel,
    requireTicket: values['require-ticket'] ?? boolEnv(E('REQUIRE_TICKET')) ?? true,
    ...(directoryUrl ? { directoryUrl } : {}),
    ...(key ? { directoryPublicKey: key.trim() } : {}),
    ...(publicEndpoint ? { publicEndpoint } : {}),
    ...(region ? { region } : {}),
    ...(maxSessions !== undefined ? { limits: { maxSessions } } : {}),
  };
  return { command: 'serve', options };
}
