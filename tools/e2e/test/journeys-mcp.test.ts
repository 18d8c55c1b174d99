import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  poll,
  repoRoot,
  runClient,
  startApp,
  type AppProcess,
  startLocalDirectory,
} from '../src/index.ts';

/*
 * Journey: an agent calls an MCP tool through @iicp/client. The real directory and a
 * real node serving the tools of @modelcontextprotocol/server-everything (stdio) run as
 * their CLIs; the client runs in its own process (src/client-runner.mjs).
 */
const MCP_INTENT = 'urn:iicp:intent:mcp:tools/call:v1';
const MCP_SERVER = join(
  repoRoot,
  'node_modules/@modelcontextprotocol/server-everything/dist/index.js',
);

describe('journey: an MCP tool call through @iicp/client', () => {
  const procs: AppProcess[] = [];
  const dirs: string[] = [];

  afterAll(async () => {
    for (const p of procs.reverse()) {
      p.kill('SIGKILL');
      await p.exited();
    }
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('discovers the node by the MCP intent and gets the tool result back', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'e2e-mcp-dir-'));
    const home = await mkdtemp(join(tmpdir(), 'e2e-mcp-home-'));
    dirs.push(dataDir, home);
    const { proc: directory, url: directoryUrl } = await startLocalDirectory(dataDir);
    procs.push(directory);
    const mcp = ['--mcp-command', process.execPath, '--mcp-arg', MCP_SERVER, '--mcp-arg', 'stdio'];
    const init = startApp('node', [
      ...['init', '--yes', '--home', home, '--backend-type', 'mcp', ...mcp],
      ...['--directory-url', directoryUrl],
    ]);
    expect(await init.exited()).toBe(0);
    const node = startApp('node', [
      ...['serve', '--home', home, '--port', '0', '--log-level', 'warn', ...mcp],
    ]);
    procs.push(node);
    const nodeId = (await node.waitFor(/registered with \S+ as ([0-9a-f-]{36})/))[1]!;
    const { node_token: nodeToken } = JSON.parse(
      await readFile(join(home, 'node-state.json'), 'utf8'),
    ) as { node_token: string };

    // The directory's discover index refreshes on its own clock (bounded wait).
    const listed = await poll(async () => {
      const res = await fetch(
        `${directoryUrl}/v1/discover?intent=${encodeURIComponent(MCP_INTENT)}`,
      );
      const body = (await res.json()) as { nodes: { node_id: string }[] };
      return body.nodes.some((n) => n.node_id === nodeId) ? true : undefined;
    });
    expect(listed).toBe(true);

    const client = runClient({
      directoryUrl,
      nodeToken,
      op: 'call',
      intent: MCP_INTENT,
      payload: { tool_name: 'echo', arguments: { message: 'hello through the mesh' } },
    });
    expect(await client.exited()).toBe(0);
    const lines = client.lines();
    const result = lines.find((l) => 'result' in l);
    expect(result, JSON.stringify(lines)).toBeDefined();
    if (!result || !('result' in result)) return;
    expect(result.result.status).toBe('success');
    const content = (result.result.result as { content?: { type: string; text?: string }[] })
      .content;
    expect(content?.[0]?.type).toBe('text');
    expect(content?.[0]?.text).toContain('hello through the mesh');
    const attempts = lines.flatMap((l) => ('attempt' in l ? [l.attempt] : []));
    expect(attempts.at(-1)).toMatchObject({ nodeId, ok: true });

    // An unknown tool is a clean protocol error, not a crash of the node or the client.
    const bad = runClient({
      directoryUrl,
      nodeToken,
      op: 'call',
      intent: MCP_INTENT,
      payload: { tool_name: 'no-such-tool-e2e', arguments: {} },
    });
    expect(await bad.exited()).toBe(0);
    const err = bad.lines().find((l) => 'error' in l);
    expect(err && 'error' in err ? err.error.code : undefined).toMatch(/^[a-z_]+$|^IICP-/);
    expect(node.child.exitCode).toBeNull();
  }, 90_000);
});
