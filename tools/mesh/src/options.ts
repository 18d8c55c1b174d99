/**
 * `npm start` options: which planes to run, their ports, the model backend and the data
 * directory. Flags only (plus `NO_COLOR`); every app keeps its own env and flags.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

export const PLANES = ['directory', 'relay', 'node', 'proxy'] as const;
export type Plane = (typeof PLANES)[number];

/** DESIGN.md default ports: directory 8090, proxy 9483, node 9484, relay 9485. */
export const DEFAULT_PORTS: Readonly<Record<Plane, number>> = {
  directory: 8090,
  proxy: 9483,
  node: 9484,
  relay: 9485,
};

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface MeshOptions {
  readonly planes: readonly Plane[];
  readonly ports: Readonly<Record<Plane, number>>;
  /** Model backend base URL; absent: the node probes Ollama, LM Studio, vLLM, llama.cpp. */
  readonly backendUrl?: string;
  readonly backendType?: string;
  /** Serve the bundled MCP server's tools (default true). */
  readonly mcp: boolean;
  /** Where the directory's SQLite file and the node's identity live. */
  readonly dataDir: string;
  readonly logLevel: LogLevel;
  /** Skip the node's `init` probing of local model servers (MCP tools only, unless --backend-url). */
  readonly probe: boolean;
}

export const MESH_HELP = `npm start [-- options]   (tools/mesh)

Brings up a complete IICP mesh on loopback, each plane as its own process:
  directory  (SQLite under --data-dir, --allow-private-endpoints for loopback nodes)
  relay      (registered with the directory)
  node       (a local Ollama / llama.cpp / vLLM / LM Studio if one runs, plus the
              tools of the bundled MCP server @modelcontextprotocol/server-everything)
  proxy      (OpenAI-, Ollama- and Anthropic-compatible, routing over IICP)
Ctrl-C (SIGINT) or SIGTERM stops everything: proxy, node (drained, deregistered),
relay, directory.

Options:
  --planes LIST            planes to run, comma-separated (default directory,relay,node,proxy)
  --no-relay               the same as leaving relay out of --planes
  --directory-port PORT    default ${DEFAULT_PORTS.directory} (0 picks a free port)
  --relay-port PORT        default ${DEFAULT_PORTS.relay}
  --node-port PORT         default ${DEFAULT_PORTS.node}
  --proxy-port PORT        default ${DEFAULT_PORTS.proxy}
  --backend-url URL        model server for the node (default: probe the local ones)
  --backend-type TYPE      openai|vllm|llamacpp|lmstudio|ollama|anthropic (default: detected)
  --no-probe               do not look for local model servers
  --no-mcp                 do not serve the bundled MCP server's tools
  --data-dir DIR           state directory (default ./.iicp)
  --log-level LEVEL        ${LOG_LEVELS.join('|')} for every plane (default warn;
                           info shows every request)
  -h, --help               this text

Logs are prefixed with the plane's name, coloured only on a terminal (NO_COLOR turns
colour off).
`;

export class MeshUsageError extends Error {
  override readonly name = 'MeshUsageError';
}

function port(name: string, v: string | undefined, def: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535) throw new MeshUsageError(`--${name} must be 0–65535`);
  return n;
}

/** Parse `npm start` arguments; `undefined` means `--help` was asked for. */
export function parseMeshArgs(
  argv: readonly string[],
  cwd = process.cwd(),
): MeshOptions | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        planes: { type: 'string' },
        'no-relay': { type: 'boolean' },
        'directory-port': { type: 'string' },
        'relay-port': { type: 'string' },
        'node-port': { type: 'string' },
        'proxy-port': { type: 'string' },
        'backend-url': { type: 'string' },
        'backend-type': { type: 'string' },
        'no-probe': { type: 'boolean' },
        'no-mcp': { type: 'boolean' },
        'data-dir': { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new MeshUsageError((err as Error).message);
  }
  if (values.help) return undefined;
  let planes: Plane[] = [...PLANES];
  if (values.planes !== undefined) {
    const asked = values.planes
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const unknown = asked.filter((p) => !(PLANES as readonly string[]).includes(p));
    if (unknown.length > 0 || asked.length === 0)
      throw new MeshUsageError(`--planes takes a list of ${PLANES.join(', ')}`);
    planes = PLANES.filter((p) => asked.includes(p));
  }
  if (values['no-relay']) planes = planes.filter((p) => p !== 'relay');
  // Every plane talks to the directory; the proxy routes to a node of this mesh.
  if (planes.length > 0 && !planes.includes('directory'))
    throw new MeshUsageError('the mesh needs its directory (add directory to --planes)');
  const logLevel = values['log-level'] ?? 'warn';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel))
    throw new MeshUsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  if (values['backend-url'] !== undefined) {
    try {
      const u = new URL(values['backend-url']);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
    } catch {
      throw new MeshUsageError('--backend-url must be an http(s) URL');
    }
  }
  return {
    planes,
    ports: {
      directory: port('directory-port', values['directory-port'], DEFAULT_PORTS.directory),
      relay: port('relay-port', values['relay-port'], DEFAULT_PORTS.relay),
      node: port('node-port', values['node-port'], DEFAULT_PORTS.node),
      proxy: port('proxy-port', values['proxy-port'], DEFAULT_PORTS.proxy),
    },
    ...(values['backend-url'] !== undefined ? { backendUrl: values['backend-url'] } : {}),
    ...(values['backend-type'] !== undefined ? { backendType: values['backend-type'] } : {}),
    mcp: !values['no-mcp'],
    probe: !values['no-probe'],
    dataDir: resolve(cwd, values['data-dir'] ?? '.iicp'),
    logLevel: logLevel as LogLevel,
  };
}
