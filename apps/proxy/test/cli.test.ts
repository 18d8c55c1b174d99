/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers are inspected freely */
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveProxyConfig, runCli, type RunningProxy } from '../src/index.ts';
import {
  entry,
  llmNode,
  startDirectory,
  startNode,
  type ScriptedDirectory,
  type ScriptedNode,
} from './support/mesh.ts';

let cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

function io(env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: { env, out: (t: string) => out.push(t), err: (t: string) => err.push(t) },
  };
}

describe('iicp-proxy CLI', () => {
  it('--help lists every flag with its IICP_PROXY_* variable', async () => {
    const h = io();
    expect(await runCli(['serve', '--help'], h.io)).toBe(0);
    const text = h.out.join('\n');
    for (const flag of [
      '--directory-url',
      '--host',
      '--port',
      '--region',
      '--routing-profile',
      '--timeout-ms',
      '--log-level',
    ]) {
      expect(text).toContain(flag);
    }
    expect(text).toContain('IICP_PROXY_DIRECTORY_URL');
    expect(await runCli(['--help'], h.io)).toBe(0);
  });

  it('refuses a missing directory, bad values and unknown flags, naming the flag only', async () => {
    const a = io();
    expect(await runCli(['serve'], a.io)).toBe(1);
    expect(a.err.join('\n')).toMatch(/missing --directory-url \/ IICP_PROXY_DIRECTORY_URL/);
    const b = io();
    expect(await runCli(['serve', '--directory-url', 'http://d', '--port', 'x'], b.io)).toBe(1);
    expect(b.err.join('\n')).toMatch(/--port/);
    const c = io();
    expect(await runCli(['serve', '--bogus'], c.io)).toBe(1);
    const d = io();
    expect(
      await runCli(
        ['serve', '--directory-url', 'http://d', '--node-token', 'secret-token-value'],
        d.io,
      ),
    ).toBe(1);
    expect(d.err.join('\n')).not.toContain('secret-token-value');
    const e = io();
    expect(
      await runCli(
        [
          'serve',
          '--directory-url',
          'http://d',
          '--routing-profile',
          'eu_restricted',
          '--port',
          '0',
        ],
        e.io,
      ),
    ).toBe(1);
    expect(e.err.join('\n')).toMatch(/allowedRegions/);
  });

  it('flag beats env, env beats default', () => {
    const env = {
      IICP_PROXY_DIRECTORY_URL: 'http://env:1',
      IICP_PROXY_PORT: '7000',
      IICP_PROXY_ALLOWED_REGIONS: 'eu-west, eu-central',
    };
    const c = resolveProxyConfig({ port: '7001' }, env);
    expect(c).toMatchObject({
      directoryUrl: 'http://env:1',
      port: 7001,
      host: '127.0.0.1',
      allowedRegions: ['eu-west', 'eu-central'],
    });
    expect(resolveProxyConfig({}, { IICP_PROXY_DIRECTORY_URL: 'http://d' }).port).toBe(9483);
  });

  it('serve: one startup line, answers over a real socket, drains on SIGTERM', async () => {
    const node: ScriptedNode = await startNode(llmNode({ parts: ['cli'] }));
    const dir: ScriptedDirectory = await startDirectory({ nodes: () => [entry(node, 0.9)] });
    cleanup.push(
      () => node.close(),
      () => dir.close(),
    );
    const signals = new EventEmitter();
    const exits: number[] = [];
    let running: RunningProxy | undefined;
    const h = io({
      IICP_PROXY_DIRECTORY_URL: dir.url,
      IICP_PROXY_OPERATOR_TOKEN: 'operator-token-1234',
    });
    // The scripted node advertises no IICP-CX key.
    const code = await runCli(
      ['serve', '--port', '0', '--log-level', 'silent', '--allow-plaintext'],
      h.io,
      {
        shutdown: { source: signals, exit: (c) => exits.push(c) },
        onStarted: (p) => (running = p),
      },
    );
    expect(code).toBe(0);
    expect(h.err).toHaveLength(1);
    expect(h.err[0]).toMatch(/^iicp-proxy listening on http:\/\/127\.0\.0\.1:\d+ /);
    expect(h.err[0]).not.toContain('operator-token-1234');
    const res = await fetch(`${running!.url}/api/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'scripted-model',
        messages: [{ role: 'user', content: 'x' }],
        stream: false,
      }),
    });
    expect(((await res.json()) as any).message.content).toBe('cli');
    expect(node.tasks[0]!.body.auth).toEqual({ node_token: 'operator-token-1234' });
    signals.emit('SIGTERM', 'SIGTERM');
    const result = await running!.shutdown.shutdown();
    expect(result.drained).toBe(true);
    expect(exits).toEqual([0]);
  });
});
