import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import { McpGateway, MCP_TOOLS_CALL_INTENT } from '../src/mcp/gateway.ts';
import { classifyTool, isDangerousClass, normalizeToolName } from '../src/mcp/taxonomy.ts';
import { startNode } from '../src/main.ts';
import { NodeRuntimeState } from '../src/state.ts';
import { startScriptedDirectory } from './support/scripted-directory.ts';
import { LogCapture, NODE_ID, NODE_TOKEN } from './support/node-app.ts';

const here = dirname(fileURLToPath(import.meta.url));
const serverEverything = resolve(
  here,
  '../node_modules/@modelcontextprotocol/server-everything/dist/index.js',
);
const fallback = resolve(
  here,
  '../../../node_modules/@modelcontextprotocol/server-everything/dist/index.js',
);

async function scriptPath(): Promise<string> {
  const { existsSync } = await import('node:fs');
  return existsSync(serverEverything) ? serverEverything : fallback;
}

async function gatewayFor(
  policy: ConstructorParameters<typeof McpGateway>[1] = {},
): Promise<McpGateway> {
  const { existsSync } = await import('node:fs');
  const script = existsSync(serverEverything) ? serverEverything : fallback;
  const g = new McpGateway(
    { transport: 'stdio', command: process.execPath, args: [script, 'stdio'] },
    policy,
  );
  await g.connect();
  return g;
}

describe('tool-risk taxonomy', () => {
  it('classifies by keyword in the normalised name', () => {
    expect(normalizeToolName('readFile')).toBe('read_file');
    expect(classifyTool('readFile')).toBe('file_read');
    expect(classifyTool('run-bash')).toBe('shell_exec');
    expect(classifyTool('web_fetch')).toBe('network_fetch');
    expect(classifyTool('get_password')).toBe('credential_access');
    expect(classifyTool('echo')).toBe('benign_read');
    expect(isDangerousClass('benign_read')).toBe(false);
    expect(isDangerousClass('shell_exec')).toBe(true);
  });
  it('annotations can raise the risk, never lower it', () => {
    expect(classifyTool('echo', { openWorldHint: true })).toBe('annotated_side_effects');
    expect(classifyTool('bash', { readOnlyHint: true, destructiveHint: false })).toBe('shell_exec');
  });
});

describe('MCP tools/call against @modelcontextprotocol/server-everything', () => {
  let gateway: McpGateway;
  let app: Awaited<ReturnType<typeof buildApp>>;
  const logs = new LogCapture();

  beforeAll(async () => {
    gateway = await gatewayFor();
    app = await buildApp({
      mcp: gateway,
      state: new NodeRuntimeState({ nodeId: NODE_ID, nodeToken: NODE_TOKEN }),
      logger: { level: 'info', stream: logs },
    });
  }, 30_000);
  afterAll(async () => {
    await app.close();
    await gateway.close();
  });

  const call = (payload: Record<string, unknown>) =>
    app.inject({
      method: 'POST',
      url: '/v1/task',
      payload: {
        task_id: randomUUID(),
        intent: MCP_TOOLS_CALL_INTENT,
        payload,
        constraints: { timeout_ms: 20_000 },
        auth: { node_token: NODE_TOKEN },
      },
    });

  it('lists tools with their risk class and advertises only allowed ones', () => {
    const byName = Object.fromEntries(gateway.tools.map((t) => [t.name, t]));
    expect(byName.echo).toMatchObject({ riskClass: 'benign_read', allowed: true });
    expect(byName['gzip-file-as-resource']).toMatchObject({ dangerous: true, allowed: false });
    expect(gateway.advertisedTools).toContain('echo');
    expect(gateway.advertisedTools).not.toContain('gzip-file-as-resource');
  });

  it('executes a benign tool and returns the MCP result', async () => {
    const CANARY = 'CANARY-mcp-4411';
    const res = await call({ tool_name: 'echo', arguments: { message: CANARY } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      status: 'success',
      result: { content: [{ type: 'text', text: `Echo: ${CANARY}` }] },
      model_used: expect.stringMatching(/^mcp:/),
    });
    expect(logs.text).toContain('"tool":"echo"');
    expect(logs.text).not.toContain(CANARY);
  });

  it('denies a dangerous tool without operator opt-in (403 forbidden)', async () => {
    const res = await call({ tool_name: 'gzip-file-as-resource', arguments: {} });
    expect(res.statusCode).toBe(403);
    expect(res.json().error).toMatchObject({
      code: 'forbidden',
      reason: 'tool_risk',
      risk_class: 'annotated_side_effects',
    });
  });

  it('refuses unknown tools and bad arguments with 422', async () => {
    expect((await call({ tool_name: 'nope' })).statusCode).toBe(422);
    expect((await call({ tool_name: 'echo', arguments: [1] })).statusCode).toBe(422);
  });

  it('a tool failing inside the MCP server is 502 with only the MCP error code', async () => {
    const res = await call({ tool_name: 'get-sum', arguments: { a: 'x' } });
    const body = res.json();
    // The reference server answers invalid arguments either as a JSON-RPC error or an isError result.
    if (res.statusCode === 502) {
      expect(body.error).toMatchObject({
        code: 'backend_error',
        mcp_error: { code: expect.any(Number) },
      });
      expect(JSON.stringify(body.error)).not.toMatch(/Expected|invalid_type/);
    } else {
      expect(body.result.isError).toBe(true);
    }
  });
});

describe('dangerous tools with operator opt-in', () => {
  it('needs both the opt-in and a safe sandbox profile', async () => {
    const noSandbox = await gatewayFor({ allowTools: ['gzip-file-as-resource'] });
    expect(noSandbox.tools.find((t) => t.name === 'gzip-file-as-resource')!.allowed).toBe(false);
    await noSandbox.close();
    const g = await gatewayFor({ allowTools: ['gzip-file-as-resource'], sandbox: 'container' });
    expect(g.advertisedTools).toContain('gzip-file-as-resource');
    // Anonymous open-mesh callers still never reach it.
    expect(() => g.admit({ tool_name: 'gzip-file-as-resource' }, true)).toThrow(/refused/);
    expect(g.admit({ tool_name: 'gzip-file-as-resource' }, false).tool.name).toBe(
      'gzip-file-as-resource',
    );
    await g.close();
  }, 30_000);
});

describe('iicp-node serve with --backend-type mcp', () => {
  it('registers mcp_tools (allowed ones only) and serves tools/call', async () => {
    const dir = await startScriptedDirectory();
    const home = await mkdtemp(join(tmpdir(), 'iicp-mcp-'));
    const lines: string[] = [];
    const node = await startNode(
      {
        backendType: 'mcp',
        mcpCommand: process.execPath,
        mcpArgs: [await scriptPath(), 'stdio'],
        directoryUrl: dir.url,
        publicEndpoint: 'https://node.example.com',
        port: 0,
        logLevel: 'silent',
      },
      {
        home,
        print: (l) => lines.push(l),
        signals: { source: new EventEmitter(), exit: () => undefined },
      },
    );
    try {
      const reg = dir.calls.find((c) => c.path === '/v1/register')!.body!;
      const cap = (reg.capabilities as Record<string, unknown>[])[0]!;
      expect(cap).toMatchObject({
        intent: MCP_TOOLS_CALL_INTENT,
        mcp_version: '2025-11-25',
        sandboxed: false,
      });
      expect(cap.mcp_tools).toContain('echo');
      expect(cap.mcp_tools).not.toContain('gzip-file-as-resource');
      expect(lines.join('\n')).toMatch(/refused by the risk policy: .*gzip-file-as-resource/);
      expect(lines.at(-1)).toMatch(/MCP server mcp-servers\/everything \(\d+ tools\)/);
      const res = await fetch(`${node.url}/v1/task`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          task_id: randomUUID(),
          intent: MCP_TOOLS_CALL_INTENT,
          payload: { tool_name: 'get-sum', arguments: { a: 2, b: 3 } },
          constraints: { timeout_ms: 20_000 },
          auth: { node_token: node.state.nodeToken },
        }),
      });
      const body = (await res.json()) as {
        status: string;
        result: { content: { text: string }[] };
      };
      expect(body.status).toBe('success');
      expect(body.result.content[0]!.text).toContain('5');
    } finally {
      await node.shutdown.shutdown();
      await dir.close();
      await rm(home, { recursive: true, force: true });
    }
  }, 30_000);
});
