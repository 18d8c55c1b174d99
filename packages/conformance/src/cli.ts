#!/usr/bin/env node
/** `iicp-conformance`: run a role's suite against any URL. */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runSuite, suiteFor, toResultBundle } from './run.ts';
import { ROLES, type CheckResult, type Role } from './types.ts';

export const USAGE = `Usage:
  iicp-conformance run --role ROLE --target URL [options]
  iicp-conformance list --role ROLE

Roles: ${ROLES.join(', ')} (suites today: directory, node).

Options of run:
  --only IDS                  comma-separated test IDs (e.g. DIR-REG-01,DIR-HB-01)
  --json FILE                 write the content-free result bundle
                              (schemas/conformance-result-v1.json) to FILE
  --allow-remote-mutation     run checks that register nodes or dispatch tasks against
                              a non-loopback target (they refuse otherwise)
  --node-token TOKEN          node role: a credential the node accepts
                              [IICP_CONFORMANCE_NODE_TOKEN]
  --intent URN                node role: an intent the node serves (default llm:chat:v1)
  --directory-url URL         node role: the directory it registered with (NODE-REG-01)
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
  io.out(`iicp-conformance: ${role} suite (${suite.checks.length} checks)`);
  const run = await runSuite(role, {
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
    fixture: {
      ...(nodeToken ? { nodeToken } : {}),
      ...(v.intent ? { intent: v.intent } : {}),
      ...(v['directory-url'] ? { directoryUrl: v['directory-url'] } : {}),
    },
    onResult: (r) => io.out(line(r)),
  });
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
