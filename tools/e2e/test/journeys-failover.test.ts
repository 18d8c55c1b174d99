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
  type ClientLine,
  type ScriptedBackend,
  startLocalDirectory,
} from '../src/index.ts';

/*
 * Journey: a node dies in the middle of a stream. Two real nodes (open mode, so one
 * client reaches both without per-node tokens) serve scripted backends that hold each
 * stream after its first token; the client streams, the node that answers is SIGKILLed.
 *
 * Decision (D-064/D-065, packages/client README "Streaming"): failover covers every
 * attempt until the stream has started. Once a delta reached the caller the client
 * cannot replay the task elsewhere without duplicating or contradicting output it
 * already handed over, so a stream cut after its first delta fails cleanly with
 * `backend_error` (a disconnect is a failed outcome, lifecycle profile §4), after the
 * partial output. The next task fails over: the dead node is still listed (its
 * liveness window has not passed), the client's attempt on it fails and it moves on.
 */
const CHAT = 'urn:iicp:intent:llm:chat:v1';
const payload = { messages: [{ role: 'user', content: 'tell me two words' }] };

async function discoverIds(directoryUrl: string): Promise<string[]> {
  const res = await fetch(`${directoryUrl}/v1/discover?intent=${encodeURIComponent(CHAT)}`);
  return ((await res.json()) as { nodes: { node_id: string }[] }).nodes.map((n) => n.node_id);
}

const attemptsOf = (lines: ClientLine[]) =>
  lines.flatMap((l) => ('attempt' in l ? [l.attempt] : []));

describe('journey: a node dies mid-stream', () => {
  const procs: AppProcess[] = [];
  const backends: ScriptedBackend[] = [];
  const dirs: string[] = [];

  afterAll(async () => {
    for (const p of procs.reverse()) {
      p.kill('SIGKILL');
      await p.exited();
    }
    for (const b of backends) await b.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('the started stream fails cleanly with backend_error; the next task fails over', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'e2e-failover-dir-'));
    dirs.push(dataDir);
    const { proc: directory, url: directoryUrl } = await startLocalDirectory(dataDir);
    procs.push(directory);

    const nodes = new Map<string, AppProcess>();
    for (let i = 0; i < 2; i++) {
      const backend = await startScriptedBackend();
      backends.push(backend);
      const home = await mkdtemp(join(tmpdir(), `e2e-failover-node${i}-`));
      dirs.push(home);
      const init = startApp('node', [
        ...['init', '--yes', '--home', home, '--backend-url', backend.url],
        ...['--backend-type', 'openai', '--directory-url', directoryUrl],
      ]);
      expect(await init.exited()).toBe(0);
      const node = startApp('node', [
        ...['serve', '--home', home, '--port', '0', '--log-level', 'warn', '--auth', 'open'],
      ]);
      procs.push(node);
      nodes.set((await node.waitFor(/registered with \S+ as ([0-9a-f-]{36})/))[1]!, node);
    }
    const both = await poll(async () => {
      const ids = await discoverIds(directoryUrl);
      return [...nodes.keys()].every((id) => ids.includes(id)) ? ids : undefined;
    });
    expect(both).toBeDefined();

    // 1. The stream starts, the answering node dies after the first token.
    const stream = runClient({ directoryUrl, op: 'stream', intent: CHAT, payload });
    const first = JSON.parse((await stream.waitFor(/^\{"delta".*$/m))[0]) as {
      delta: { text: string; node_id: string };
    };
    expect(first.delta.text).toBe('first');
    const victim = first.delta.node_id;
    const survivor = [...nodes.keys()].find((id) => id !== victim)!;
    expect(nodes.has(victim)).toBe(true);
    nodes.get(victim)!.kill('SIGKILL');
    await nodes.get(victim)!.exited();
    expect(await stream.exited()).toBe(0);
    const lines = stream.lines();
    const texts = lines.flatMap((l) => ('delta' in l ? [l.delta.text] : []));
    expect(texts).toEqual(['first']);
    expect(lines.some((l) => 'done' in l)).toBe(false);
    expect(lines.find((l) => 'error' in l)).toEqual({
      error: { code: 'backend_error', status: 502 },
    });

    // 2. The next task: the dead node is still listed; the client moves on to the survivor.
    const listedFirst = (await discoverIds(directoryUrl))[0];
    const call = runClient({ directoryUrl, op: 'call', intent: CHAT, payload });
    expect(await call.exited()).toBe(0);
    const callLines = call.lines();
    const result = callLines.find((l) => 'result' in l);
    expect(result && 'result' in result ? result.result.status : callLines).toBe('success');
    const attempts = attemptsOf(callLines);
    expect(attempts.at(-1)).toMatchObject({ nodeId: survivor, ok: true });
    for (const a of attempts.slice(0, -1)) expect(a).toMatchObject({ nodeId: victim, ok: false });
    if (listedFirst === victim) expect(attempts[0]).toMatchObject({ nodeId: victim, ok: false });
  }, 90_000);
});
