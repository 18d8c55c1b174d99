// @iicp/conformance: see README.md. The public API is a curated list of named exports.
export { runConformanceCli, USAGE } from './cli.ts';
export { loadExpectedFailures } from './expected-failures.ts';
export { startFixtureNode } from './fixture-node.ts';
export { implementedIds, SUITE_FILES, updateConformanceMatrix } from './matrix.ts';
export type { FixtureNode } from './fixture-node.ts';
export {
  checkExpectations,
  isLoopbackTarget,
  runSuite,
  RUNNER_VERSION,
  SUITE_VERSION,
  SUITES,
  suiteFor,
  toResultBundle,
} from './run.ts';
export type { ExpectationReport, ExpectedFailures, ResultBundle, RunSuiteOptions } from './run.ts';
export { directorySuite, FIXTURE_INTENT } from './suites/directory.ts';
export { DEFAULT_NODE_INTENT, nodeSuite } from './suites/node.ts';
export { CheckFailure, CheckSkipped, ROLES } from './types.ts';
export type {
  Check,
  CheckContext,
  CheckResult,
  Exchange,
  Fixture,
  NotCheckable,
  Outcome,
  Role,
  Suite,
  SuiteRun,
} from './types.ts';
