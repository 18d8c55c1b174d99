#!/usr/bin/env node
/** `iicp-conformance`: run a role's suite against any URL. */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startProxyMesh } from './proxy-mesh.ts';
import { runSuite, suiteFor, toResultBundle } from './run.ts';
import { ROLES, type CheckResult, type Fixture, type ProxyMesh, type Role } from './types.ts';

export const USAGE = `Usage:
  iicp-conformance run --role ROLE --target URL [options]
  iicp-conformance list --role ROLE

Roles: ${ROLES.join(', ')}.

Options of run:
  --only IDS                  comma-separated test IDs (e.g. DIR-REG-01,DIR-HB-01)
  --json FILE                 write the content-free result bundle
                              (schemas/conformance-result-v1.json) to FILE
  --allow-remote-mutation     run checks that register nodes or dispatch tasks against
                              a non-loopback target (they refuse otherwise)
  --node-token TOKEN          node role: a credential the node accepts; relay role:
                              the node_token of --node-id, to get bind tickets
                              [IICP_CONFORMANCE_NODE_TOKEN]
  --intent URN                node role: an intent the node serves (default llm:chat:v1)
  --directory-url URL         node role: the directory it registered with (NODE-REG-01);
                              relay role: where bind tickets come from
  --node-id ID                relay role: the worker id to bind (a node registered at
                              --directory-url, when bind tickets are needed)
  --fixture-port PORT         proxy role: serve the harness's scripted directory on
                              127.0.0.1:PORT; start the proxy with
                              --directory-url http://127.0.0.1:PORT first
  -h, --help                  this text

Exit code: 0 when no check failed, 1 when one did, 2 on a usage error.
`;

export interface ConformanceCliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly env: NodeJS.ProcessEnv;
}

function line(r: CheckResult): string {
  const tag = r.outcome === 'pass' ? 'PASS' : r.outcome === 'fail' ? 'FAIL' : 'SKIP';
  const why = r.message ? ` — ${r.message}` : '';
  return `${tag} ${r.id.padEnd(18)} ${r.title} (${Math.round(r.durationMs)} ms)${why}`;
}

export async function runConformanceCli(
  argv: readonly string[],
  io: ConformanceCliIo,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        role: { type: 'string' },
        target: { type: 'string' },
        only: { type: 'string' },
        json: { type: 'string' },
        'allow-remote-mutation': { type: 'boolean' },
        'node-token': { type: 'string' },
        intent: { type: 'string' },
        'directory-url': { type: 'string' },
        'node-id': { type: 'string' },
        'fixture-port': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    io.err(`iicp-conformance: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values: v, positionals } = parsed;
  const command = positionals[0];
  if (v.help || command === undefined || command === 'help') {
    io.out(USAGE);
    return command === undefined && !v.help ? 2 : 0;
  }
  const role = v.role as Role | undefined;
  if (!role || !(ROLES as readonly string[]).includes(role)) {
    io.err(`iicp-conformance: --role must be one of ${ROLES.join(', ')}`);
    return 2;
  }
  let suite;
  try {
    suite = suiteFor(role);
  } catch (e) {
    io.err(`iicp-conformance: ${(e as Error).message}`);
    return 2;
  }
  if (command === 'list') {
    for (const c of suite.checks)
      io.out(`${c.id.padEnd(18)} ${c.mutates ? '[mutates] ' : ''}${c.title}`);
    for (const n of suite.notCheckable)
      io.out(`${n.id.padEnd(18)} not checkable over the wire: ${n.reason}`);
    return 0;
  }
  if (command !== 'run') {
    io.err(`iicp-conformance: unknown command ${command}\n\n${USAGE}`);
    return 2;
  }
  if (!v.target || !/^https?:\/\//.test(v.target)) {
    io.err('iicp-conformance: --target must be an http(s) URL');
    return 2;
  }
  const nodeToken = v['node-token'] ?? io.env.IICP_CONFORMANCE_NODE_TOKEN;
  const directoryUrl = v['directory-url'];
  const fixture: Fixture = {
    ...(nodeToken ? { nodeToken } : {}),
    ...(v.intent ? { intent: v.intent } : {}),
    ...(directoryUrl ? { directoryUrl } : {}),
    ...(v['node-id'] ? { nodeId: v['node-id'] } : {}),
    ...(role === 'relay' && nodeToken && directoryUrl && v['node-id']
      ? { bindTicket: (id: string) => fetchBindTicket(directoryUrl, id, nodeToken) }
      : {}),
  };
  let mesh: ProxyMesh | undefined;
  if (role === 'proxy' && v['fixture-port'] !== undefined) {
    const port = Number(v['fixture-port']);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      io.err('iicp-conformance: --fixture-port must be a port number');
      return 2;
    }
    mesh = await startProxyMesh({ port });
    io.out(`iicp-conformance: scripted directory for the proxy at ${mesh.directoryUrl}`);
  }
  io.out(`iicp-conformance: ${role} suite (${suite.checks.length} checks)`);
  let run;
  try {
    run = await runSuite(role, {
      target: v.target,
      ...(v.only
        ? {
            only: v.only
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean),
          }
        : {}),
      allowRemoteMutation: v['allow-remote-mutation'] === true,
      fixture: { ...fixture, ...(mesh ? { proxyMesh: mesh } : {}) },
      onResult: (r) => io.out(line(r)),
    });
  } finally {
    await mesh?.close();
  }
  const s = run.summary;
  io.out(
    `${s.failed === 0 ? 'OK' : 'FAILED'}: ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped of ${s.total}; ${suite.notCheckable.length} IDs not checkable over the wire (iicp-conformance list --role ${role})`,
  );
  if (v.json) {
    writeFileSync(v.json, `${JSON.stringify(toResultBundle(run), null, 2)}\n`);
    io.out(`result bundle written to ${v.json}`);
  }
  return s.failed === 0 ? 0 : 1;
}

/** `POST {directory}/api/v1/relay/ticket` with the node's token (iicp-dir.md §7.4). */
async function fetchBindTicket(
  directoryUrl: string,
  nodeId: string,
  token: string,
): Promise<string> {
  const res = await fetch(`${directoryUrl.replace(/\/+$/, '')}/api/v1/relay/ticket`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ node_id: nodeId }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json().catch(() => undefined)) as { ticket?: unknown } | undefined;
  if (!res.ok || typeof body?.ticket !== 'string')
    throw new Error(`the directory issued no bind ticket (HTTP ${res.status})`);
  return body.ticket;
}

const isMain = process.argv[1] !== undefined && /cli\.(ts|js)$/.test(process.argv[1]);
if (isMain) {
  runConformanceCli(process.argv.slice(2), {
    out: (t) => process.stdout.write(`${t}\n`),
    err: (t) => process.stderr.write(`${t}\n`),
    env: process.env,
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`iicp-conformance: ${(e as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
