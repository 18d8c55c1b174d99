/**
 * `runSuite`: run a role's checks against a target, in order, and report one result per
 * check. Checks that change the target's state run only against loopback targets unless
 * the caller allows remote mutation (conformance-test-suite.md §3.3k/§3.3l: disposable
 * loopback targets only).
 */
import { createHash } from 'node:crypto';
import { send } from './http.ts';
import { directorySuite } from './suites/directory.ts';
import { nodeSuite } from './suites/node.ts';
import { proxySuite } from './suites/proxy.ts';
import { relaySuite } from './suites/relay.ts';
import {
  CheckFailure,
  CheckSkipped,
  type CheckContext,
  type CheckResult,
  type Exchange,
  type Fixture,
  type Role,
  type Suite,
  type SuiteRun,
} from './types.ts';

/** The version of conformance-test-suite.md the IDs come from. */
export const SUITE_VERSION = '4.51.0';
export const RUNNER_VERSION = '0.0.0';

export const SUITES: Readonly<Partial<Record<Role, Suite>>> = {
  directory: directorySuite,
  node: nodeSuite,
  relay: relaySuite,
  proxy: proxySuite,
};

export interface RunSuiteOptions {
  /** Base URL of the implementation under test. */
  readonly target?: string;
  /** Runs first; may return the target and fixture (e.g. after starting the app). */
  readonly setup?: () => Promise<{ target?: string; fixture?: Fixture } | void>;
  readonly teardown?: () => Promise<void>;
  /** Only these test IDs. */
  readonly only?: readonly string[];
  readonly fixture?: Fixture;
  /** Let mutating checks run against a non-loopback target. */
  readonly allowRemoteMutation?: boolean;
  /** Called after each check (the CLI prints a line). */
  readonly onResult?: (r: CheckResult) => void;
}

export function isLoopbackTarget(target: string): boolean {
  const h = new URL(target).hostname.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
}

export function suiteFor(role: Role): Suite {
  const s = SUITES[role];
  if (!s) throw new Error(`no conformance suite for role ${role} yet`);
  return s;
}

export async function runSuite(role: Role, opts: RunSuiteOptions): Promise<SuiteRun> {
  const suite = suiteFor(role);
  const startedAt = new Date().toISOString();
  const prepared = (await opts.setup?.()) ?? {};
  const target = prepared.target ?? opts.target;
  if (!target) throw new Error('runSuite needs a target URL (option target, or from setup)');
  const fixture = { ...opts.fixture, ...prepared.fixture };
  const exchanges: Exchange[] = [];
  const deferred: (() => Promise<void>)[] = [];
  const ctx: CheckContext = {
    target,
    fixture,
    mayMutate: isLoopbackTarget(target) || opts.allowRemoteMutation === true,
    state: new Map(),
    exchanges,
    async request(path, init) {
      const ex = await send(target, path, init);
      exchanges.push(ex);
      return ex;
    },
    defer(fn) {
      deferred.push(fn);
    },
  };
  const only = opts.only ? new Set(opts.only) : undefined;
  const results: CheckResult[] = [];
  try {
    for (const check of suite.checks) {
      if (only && !only.has(check.id)) continue;
      const t0 = performance.now();
      const before = exchanges.length;
      const base = { id: check.id, title: check.title };
      let r: CheckResult;
      if (check.mutates && !ctx.mayMutate) {
        r = {
          ...base,
          outcome: 'skip',
          reason: 'skipped',
          observedStatus: null,
          durationMs: 0,
          message: 'changes the target: loopback targets only, unless --allow-remote-mutation',
        };
      } else {
        try {
          await check.run(ctx);
          r = {
            ...base,
            outcome: 'pass',
            reason: 'passed',
            observedStatus: exchanges.length > before ? lastStatus(exchanges) : null,
            durationMs: 0,
          };
        } catch (err) {
          if (err instanceof CheckSkipped) {
            r = {
              ...base,
              outcome: 'skip',
              reason: 'skipped',
              observedStatus: null,
              durationMs: 0,
              message: err.message,
            };
          } else if (err instanceof CheckFailure) {
            r = {
              ...base,
              outcome: 'fail',
              reason: err.reason,
              observedStatus: err.observedStatus,
              durationMs: 0,
              message: err.message,
            };
          } else {
            r = {
              ...base,
              outcome: 'fail',
              reason: 'request_failed',
              observedStatus: null,
              durationMs: 0,
              message: (err as Error).name,
            };
          }
        }
      }
      r = { ...r, durationMs: Math.round((performance.now() - t0) * 10) / 10 };
      results.push(r);
      opts.onResult?.(r);
    }
  } finally {
    for (const fn of deferred.reverse()) await fn().catch(() => undefined);
    await opts.teardown?.();
  }
  const count = (o: string): number => results.filter((r) => r.outcome === o).length;
  return {
    role,
    startedAt,
    finishedAt: new Date().toISOString(),
    results,
    summary: {
      total: results.length,
      passed: count('pass'),
      failed: count('fail'),
      skipped: count('skip'),
    },
  };
}

function lastStatus(exchanges: readonly Exchange[]): number | null {
  return exchanges.at(-1)?.status ?? null;
}

/** `target_role` of conformance-result-v1.json. */
const BUNDLE_ROLE: Readonly<Record<Role, 'directory' | 'provider' | 'client'>> = {
  directory: 'directory',
  node: 'provider',
  relay: 'provider',
  proxy: 'client',
};

/** The content-free bundle of conformance-result-v1.json: IDs, outcomes, statuses, timings. */
export interface ResultBundle {
  schema: 'iicp.conformance_result.v1';
  runner_version: string;
  suite_version: string;
  fixture_digest: string;
  target_role: 'directory' | 'provider' | 'client';
  evidence_class: 'self-attested';
  started_at: string;
  finished_at: string;
  summary: { total: number; passed: number; failed: number };
  results: {
    test_id: string;
    outcome: 'pass' | 'fail';
    reason: 'passed' | 'request_failed' | 'unexpected_status' | 'assertion_failed';
    observed_status: number | null;
    duration_ms: number;
  }[];
  content_free: true;
}

/**
 * Skipped checks are left out (the schema knows pass and fail only); messages, targets,
 * payloads and tokens never enter the bundle.
 */
export function toResultBundle(run: SuiteRun): ResultBundle {
  const ran = run.results.filter((r) => r.outcome !== 'skip');
  const ids = suiteFor(run.role).checks.map((c) => c.id);
  return {
    schema: 'iicp.conformance_result.v1',
    runner_version: RUNNER_VERSION,
    suite_version: SUITE_VERSION,
    fixture_digest: `sha256:${createHash('sha256')
      .update(JSON.stringify({ role: run.role, ids }))
      .digest('hex')}`,
    target_role: BUNDLE_ROLE[run.role],
    evidence_class: 'self-attested',
    started_at: run.startedAt,
    finished_at: run.finishedAt,
    summary: {
      total: ran.length,
      passed: ran.filter((r) => r.outcome === 'pass').length,
      failed: ran.filter((r) => r.outcome === 'fail').length,
    },
    results: ran.map((r) => ({
      test_id: r.id,
      outcome: r.outcome as 'pass' | 'fail',
      reason: r.reason as ResultBundle['results'][number]['reason'],
      observed_status:
        r.observedStatus !== null && r.observedStatus >= 100 && r.observedStatus <= 599
          ? r.observedStatus
          : null,
      duration_ms: r.durationMs,
    })),
    content_free: true,
  };
}

/** `expected-failures.json`: per role, test ID → why it fails today. */
export type ExpectedFailures = Partial<Record<Role, Record<string, string>>>;

export interface ExpectationReport {
  /** Failed but not listed: a regression. */
  readonly unexpectedFailures: readonly string[];
  /** Listed but passed: fixed; remove it from the list. */
  readonly fixedButListed: readonly string[];
}

/** Both directions of the expected-failures contract (DESIGN.md style rule 5). */
export function checkExpectations(run: SuiteRun, expected: ExpectedFailures): ExpectationReport {
  const listed = expected[run.role] ?? {};
  const failed = run.results.filter((r) => r.outcome === 'fail').map((r) => r.id);
  const passed = run.results.filter((r) => r.outcome === 'pass').map((r) => r.id);
  return {
    unexpectedFailures: failed.filter((id) => !(id in listed)),
    fixedButListed: passed.filter((id) => id in listed),
  };
}
