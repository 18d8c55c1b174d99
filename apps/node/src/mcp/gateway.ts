import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LATEST_PROTOCOL_VERSION, McpError } from '@modelcontextprotocol/sdk/types.js';
import { IicpProtocolError } from '@iicp/wire';
import { classifyTool, isDangerousClass, isSafeSandboxProfile } from './taxonomy.ts';

/** Generic MCP tool dispatch (iicp-mcp-binding.md §2.2, §3). */
export const MCP_TOOLS_CALL_INTENT = 'urn:iicp:intent:mcp:tools/call:v1';

export type McpServerSpec =
  | {
      transport: 'stdio';
      command: string;
      args?: string[];
      env?: Record<string, string>;
      cwd?: string;
    }
  | { transport: 'http'; url: string };

export interface McpPolicy {
  /** Dangerous tools the operator opts in to, by name (explicit_operator_opt_in). */
  allowTools?: string[];
  /** Opt in to every dangerous tool (still needs a sandbox profile). */
  allowDangerous?: boolean;
  /** Declared sandbox of the MCP server (sandbox_profile): one of the taxonomy's safe profiles. */
  sandbox?: string;
}

export interface McpToolInfo {
  name: string;
  riskClass: string;
  dangerous: boolean;
  /** Served: benign, or dangerous with opt-in and a safe sandbox profile. */
  allowed: boolean;
}

export interface McpCallContext {
  signal: AbortSignal;
  timeoutMs: number;
  /** Anonymous open-mesh callers never reach dangerous tools (authz_policy). */
  anonymous: boolean;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The node's MCP side: one MCP server (stdio or Streamable HTTP) reached through
 * @modelcontextprotocol/sdk, its tools classified by the tool-risk taxonomy, and
 * `tools/call` tasks executed under the dangerous-tool policy. No IICP credential is
 * forwarded to the MCP server (§7 token passthrough), and audit lines carry the tool
 * name and class, never arguments.
 */
export class McpGateway {
  readonly spec: McpServerSpec;
  readonly policy: McpPolicy;
  #client: Client | undefined;
  #tools = new Map<string, McpToolInfo>();

  constructor(spec: McpServerSpec, policy: McpPolicy = {}) {
    if (
      spec.transport === 'http' &&
      new URL(spec.url).protocol !== 'https:' &&
      !/^(127\.|localhost$|\[::1\]$)/.test(new URL(spec.url).hostname)
    ) {
      // §7: remote MCP HTTP endpoints use HTTPS.
      throw new Error('remote MCP HTTP endpoints must use https');
    }
    this.spec = spec;
    this.policy = policy;
  }

  async connect(): Promise<void> {
    const client = new Client({ name: 'iicp-node', version: '0.0.0' });
    const transport =
      this.spec.transport === 'stdio'
        ? new StdioClientTransport({
            command: this.spec.command,
            args: this.spec.args ?? [],
            stderr: 'ignore',
            ...(this.spec.env ? { env: this.spec.env } : {}),
            ...(this.spec.cwd ? { cwd: this.spec.cwd } : {}),
          })
        : new StreamableHTTPClientTransport(new URL(this.spec.url));
    await client.connect(transport);
    this.#client = client;
    await this.refreshTools();
  }

  /** The negotiated MCP revision (legacy era unless the server speaks the modern one). */
  get mcpVersion(): string {
    return LATEST_PROTOCOL_VERSION;
  }

  get serverName(): string {
    return this.#client?.getServerVersion()?.name ?? 'mcp';
  }

  async refreshTools(): Promise<McpToolInfo[]> {
    const client = this.#requireClient();
    const tools: McpToolInfo[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor ? { cursor } : {});
      for (const t of page.tools) {
        const riskClass = classifyTool(t.name, t.annotations);
        const dangerous = isDangerousClass(riskClass);
        const optedIn =
          this.policy.allowDangerous === true || (this.policy.allowTools ?? []).includes(t.name);
        tools.push({
          name: t.name,
          riskClass,
          dangerous,
          allowed: !dangerous || (optedIn && isSafeSandboxProfile(this.policy.sandbox)),
        });
      }
      cursor = page.nextCursor;
    } while (cursor);
    this.#tools = new Map(tools.map((t) => [t.name, t]));
    return tools;
  }

  get tools(): McpToolInfo[] {
    return [...this.#tools.values()];
  }

  /** Tool names to advertise (`mcp_tools`): only those this node will execute. */
  get advertisedTools(): string[] {
    return this.tools.filter((t) => t.allowed).map((t) => t.name);
  }

  /**
   * Check a `tools/call` payload before the task is accepted: unknown tool → 422,
   * denied by policy → 403 `forbidden` with the risk class.
   */
  admit(
    payload: Record<string, unknown>,
    anonymous: boolean,
  ): { tool: McpToolInfo; args: Record<string, unknown> } {
    const name = payload.tool_name;
    if (typeof name !== 'string' || name === '') {
      throw new IicpProtocolError('validation_error', 'tool_name is required', {
        details: { field: 'tool_name' },
      });
    }
    const args = payload.arguments ?? {};
    if (!isRecord(args)) {
      throw new IicpProtocolError('validation_error', 'arguments must be an object', {
        details: { field: 'arguments' },
      });
    }
    const tool = this.#tools.get(name);
    if (!tool)
      throw new IicpProtocolError('validation_error', 'unknown tool', {
        details: { field: 'tool_name' },
      });
    if (!tool.allowed || (tool.dangerous && anonymous)) {
      throw new IicpProtocolError('forbidden', 'tool refused by the node policy', {
        details: { reason: 'tool_risk', risk_class: tool.riskClass },
      });
    }
    return { tool, args };
  }

  /** Execute one tool call; JSON-RPC failures are 502 `backend_error` with only the MCP code. */
  async call(
    tool: McpToolInfo,
    args: Record<string, unknown>,
    ctx: McpCallContext,
  ): Promise<unknown> {
    const client = this.#requireClient();
    try {
      return await client.callTool({ name: tool.name, arguments: args }, undefined, {
        signal: ctx.signal,
        timeout: ctx.timeoutMs,
      });
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      // §6: the raw MCP error is for debugging; untrusted callers get its code only.
      const code = err instanceof McpError ? err.code : -32603;
      throw new IicpProtocolError('backend_error', 'MCP tool execution failed', {
        details: { mcp_error: { code } },
      });
    }
  }

  async close(): Promise<void> {
    await this.#client?.close();
    this.#client = undefined;
  }

  #requireClient(): Client {
    if (!this.#client) throw new Error('MCP gateway is not connected');
    return this.#client;
  }
}
