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
export { proxySuite } from './suites/proxy.ts';
export { PROJECT_RELAY_ID_PREFIX, relaySuite } from './suites/relay.ts';
export { SCRIPTED_TIMEOUT_HOLD_MAX_MS, startProxyMesh } from './proxy-mesh.ts';
export { createBindTicketIssuer } from './ticket-issuer.ts';
export type { BindTicketIssuer } from './ticket-issuer.ts';
export { CheckFailure, CheckSkipped, ROLES } from './types.ts';
export type {
  Check,
  CheckContext,
  CheckResult,
  Exchange,
  Fixture,
  NotCheckable,
  Outcome,
  ProxyMesh,
  ProxyMeshEvent,
  ProxyScenario,
  Role,
  ScriptedNodeKind,
  Suite,
  SuiteRun,
} from './types.ts';
