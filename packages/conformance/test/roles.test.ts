import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PROJECT_RELAY_ID_PREFIX,
  proxySuite,
  relaySuite,
  runConformanceCli,
  runSuite,
  startProxyMesh,
  type ProxyMesh,
} from '../src/index.ts';

/*
 * The relay and proxy suites against targets that get things wrong: the checks must
 * fail them (a check that cannot fail proves nothing). The real apps pass them in
 * tools/e2e/test/conformance-{relay,proxy}.test.ts.
 */

function listen(server: Server): Promise<string> {
  return new Promise((r) =>
    server.listen(0, '127.0.0.1', () =>
      r(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );
}

let mesh: ProxyMesh;
/** A "proxy" that never asks the directory and answers every chat 200 with a fixed text. */
let lazyProxy: Server;
let lazyUrl = '';
/** A "relay" that answers everything 200 text/plain. */
let plain: Server;
let plainUrl = '';

beforeAll(async () => {
  mesh = await startProxyMesh();
  lazyProxy = createServer((req, res) => {
    req.resume();
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ choices: [{ index: 0, message: { content: 'canned' } }] }));
  });
  lazyUrl = await listen(lazyProxy);
  plain = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
  plainUrl = await listen(plain);
});

afterAll(async () => {
  await mesh.close();
  lazyProxy.closeAllConnections();
  plain.closeAllConnections();
  await new Promise((r) => lazyProxy.close(r));
  await new Promise((r) => plain.close(r));
});

describe('proxy suite', () => {
  it('fails a proxy that answers without routing through the mesh', async () => {
    const run = await runSuite('proxy', { target: lazyUrl, fixture: { proxyMesh: mesh } });
    const by = Object.fromEntries(run.results.map((r) => [r.id, r.outcome]));
    for (const id of [
      'PROXY-OAI-01',
      'PROXY-OAI-02',
      'PROXY-ROUTE-01',
      'PROXY-ROUTE-02',
      'PROXY-ROUTE-03',
      'PROXY-ROUTE-04',
      'PROXY-ERR-01',
      'PROXY-ERR-02',
      'PROXY-TIMEOUT-01',
      'PROXY-TIMEOUT-02',
    ])
      expect(by[id], id).toBe('fail');
  });

  it('skips the routing checks, saying why, when the proxy is not on the scripted mesh', async () => {
    const run = await runSuite('proxy', { target: lazyUrl, only: ['PROXY-ERR-01'] });
    expect(run.results[0]).toMatchObject({
      outcome: 'skip',
      message: expect.stringMatching(/--fixture-port/),
    });
  });

  it('the scripted directory lists a scenario only for its model, in order, uncached', async () => {
    const s = await mesh.scenario(['ok', 'fail']);
    const q = (model: string) =>
      fetch(`${mesh.directoryUrl}/v1/discover?intent=urn:iicp:intent:llm:chat:v1&model=${model}`);
    const res = await q(s.model);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const list = (await res.json()) as { nodes: { score: number; endpoint: string }[] };
    expect(list.nodes).toHaveLength(2);
    expect(list.nodes[0]!.score).toBeGreaterThan(list.nodes[1]!.score);
    expect(((await (await q('other')).json()) as { nodes: unknown[] }).nodes).toEqual([]);
    const fail = await fetch(`${list.nodes[1]!.endpoint}/v1/task`, {
      method: 'POST',
      body: JSON.stringify({ task_id: 't', intent: 'urn:iicp:intent:llm:chat:v1' }),
    });
    expect(fail.status).toBe(503);
    expect(s.events.map((e) => e.kind)).toEqual(['discover', 'task']);
  });
});

describe('relay suite', () => {
  it('uses project IDs, marked as such, for everything but the shared upstream checks', () => {
    const own = relaySuite.checks.filter((c) => c.id.startsWith(PROJECT_RELAY_ID_PREFIX));
    expect(own.length).toBeGreaterThanOrEqual(8);
    for (const c of own) expect(c.title).toMatch(/^\(project\) /);
    const upstream = relaySuite.checks.filter((c) => !c.id.startsWith(PROJECT_RELAY_ID_PREFIX));
    expect(upstream.map((c) => c.id).sort()).toEqual([
      'PROTO-MSG-05',
      'SEC-LEAK-01',
      'SEC-LEAK-02',
    ]);
  });

  it('fails a target that is not a relay', async () => {
    const run = await runSuite('relay', { target: plainUrl });
    const by = Object.fromEntries(run.results.map((r) => [r.id, r.outcome]));
    for (const id of [
      'IICP-RELAY-HEALTH-01',
      'IICP-RELAY-FOR-01',
      'IICP-RELAY-BIND-01',
      'IICP-RELAY-BIND-02',
      'IICP-RELAY-PULL-01',
      'IICP-RELAY-FWD-01',
      'PROTO-MSG-05',
    ])
      expect(by[id], id).toBe('fail');
    expect(by['IICP-RELAY-TICKET-01']).toBe('skip');
  });
});

describe('CLI for the relay and proxy roles', () => {
  it('lists both suites with the IDs they cannot check', async () => {
    for (const [role, id] of [
      ['relay', 'IICP-RELAY-FWD-01'],
      ['proxy', 'PROXY-ROUTE-05'],
    ] as const) {
      const out: string[] = [];
      const code = await runConformanceCli(['list', '--role', role], {
        out: (t) => out.push(t),
        err: () => undefined,
        env: {},
      });
      expect(code).toBe(0);
      expect(out.join('\n')).toContain(id);
    }
    expect(proxySuite.notCheckable.map((n) => n.id)).toEqual(['PROXY-ROUTE-05']);
  });

  it('serves the scripted directory on --fixture-port for a proxy run', async () => {
    const out: string[] = [];
    const code = await runConformanceCli(
      [
        'run',
        '--role',
        'proxy',
        '--target',
        lazyUrl,
        '--fixture-port',
        '0',
        '--only',
        'PROXY-ERR-01',
      ],
      { out: (t) => out.push(t), err: () => undefined, env: {} },
    );
    expect(code).toBe(1);
    expect(out.join('\n')).toMatch(/scripted directory for the proxy at http:\/\/127\.0\.0\.1:\d+/);
    expect(out.join('\n')).toMatch(/FAIL PROXY-ERR-01/);
  });
});
