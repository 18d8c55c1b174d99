import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  poll,
  runClient,
  startApp,
  startScriptedBackend,
  type AppProcess,
  type ScriptedBackend,
} from '../src/index.ts';

/*
 * Journey: the directory is restarted (same port, same SQLite data directory) while a
 * node keeps running; the node is listed again within one heartbeat interval
 * (HEARTBEAT_INTERVAL_MS, 30 s: the node takes its cadence from the directory's
 * next_heartbeat_ms, which has no override) and tasks route to it again. The waits are
 * bounded by that interval plus the discover index refresh; nothing asserts a duration.
 */
const CHAT = 'urn:iicp:intent:llm:chat:v1';
/** One heartbeat interval (30 s) plus the index refresh and slack, in 250 ms polls. */
const ONE_HEARTBEAT_POLLS = { tries: 160, intervalMs: 250 };

async function listed(directoryUrl: string, nodeId: string): Promise<true | undefined> {
  const res = await fetch(`${directoryUrl}/v1/discover?intent=${encodeURIComponent(CHAT)}`);
  const body = (await res.json()) as { nodes: { node_id: string }[] };
  return body.nodes.some((n) => n.node_id === nodeId) ? true : undefined;
}

describe('journey: the directory restarts', () => {
  const procs: AppProcess[] = [];
  let backend: ScriptedBackend | undefined;
  const dirs: string[] = [];

  afterAll(async () => {
    for (const p of procs.reverse()) {
      p.kill('SIGKILL');
      await p.exited();
    }
    await backend?.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('nodes re-appear within one heartbeat and tasks route again', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'e2e-restart-dir-'));
    const home = await mkdtemp(join(tmpdir(), 'e2e-restart-home-'));
    dirs.push(dataDir, home);
    backend = await startScriptedBackend();
    const dirArgs = (port: string) => [
      ...['serve', '--port', port, '--data-dir', dataDir, '--allow-private-endpoints'],
      ...['--log-level', 'warn'],
    ];
    const first = startApp('directory', dirArgs('0'));
    procs.push(first);
    const directoryUrl = (await first.waitFor(/listening on (http:\/\/127\.0\.0\.1:(\d+))/))[1]!;
    const port = new URL(directoryUrl).port;

    const init = startApp('node', [
      ...['init', '--yes', '--home', home, '--backend-url', backend.url],
      ...['--backend-type', 'openai', '--directory-url', directoryUrl],
    ]);
    expect(await init.exited()).toBe(0);
    const node = startApp('node', [
      ...['serve', '--home', home, '--port', '0', '--log-level', 'warn', '--auth', 'open'],
    ]);
    procs.push(node);
    const nodeId = (await node.waitFor(/registered with \S+ as ([0-9a-f-]{36})/))[1]!;
    expect(await poll(() => listed(directoryUrl, nodeId))).toBe(true);

    first.kill('SIGTERM');
    expect(await first.exited()).toBe(0);
    await expect(fetch(`${directoryUrl}/v1/discover?intent=x`)).rejects.toThrow();

    const second = startApp('directory', dirArgs(port));
    procs.push(second);
    await second.waitFor(/listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(await poll(() => listed(directoryUrl, nodeId), ONE_HEARTBEAT_POLLS)).toBe(true);

    const call = runClient({
      directoryUrl,
      op: 'call',
      intent: CHAT,
      payload: { messages: [{ role: 'user', content: 'are you back?' }] },
    });
    expect(await call.exited()).toBe(0);
    const result = call.lines().find((l) => 'result' in l);
    expect(result && 'result' in result ? result.result.status : call.output()).toBe('success');
    expect(node.child.exitCode).toBeNull();
  }, 90_000);
});
