/**
 * The shapes of the conformance harness: a suite is a list of checks keyed by the test
 * IDs of conformance-test-suite.md; a run gives one result per check.
 */

export const ROLES = ['directory', 'node', 'relay', 'proxy'] as const;
export type Role = (typeof ROLES)[number];

/** Why a check failed: the `reason` values of conformance-result-v1.json. */
export type FailReason = 'request_failed' | 'unexpected_status' | 'assertion_failed';

/** A failed expectation. The message names fields and statuses, never payloads or tokens. */
export class CheckFailure extends Error {
  override readonly name = 'CheckFailure';
  constructor(
    readonly reason: FailReason,
    message: string,
    readonly observedStatus: number | null = null,
  ) {
    super(message);
  }
}

/** A check whose prerequisite is missing (e.g. no node token given): reported, not counted. */
export class CheckSkipped extends Error {
  override readonly name = 'CheckSkipped';
}

/** One HTTP exchange as the checks see it. */
export interface Exchange {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** Parsed JSON body, or undefined when the body is not JSON. */
  readonly body: unknown;
}

export interface RequestInit {
  readonly method?: string;
  readonly json?: unknown;
  readonly headers?: Record<string, string>;
  readonly query?: Record<string, string>;
}

/** What the target needs beyond its URL: credentials and fixtures for a role. */
export interface Fixture {
  /** node role: a credential the node accepts (`auth.node_token`, D-015). */
  readonly nodeToken?: string;
  /** node role: an intent the node serves (default `urn:iicp:intent:llm:chat:v1`). */
  readonly intent?: string;
  /** node role: a valid payload for `intent` (default a one-message chat). */
  readonly payload?: unknown;
  /** node role: the directory the node registered with (NODE-REG-01). */
  readonly directoryUrl?: string;
  /** proxy role: a model some node of the mesh serves. */
  readonly model?: string;
  /**
   * relay role: the worker id the checks bind (default a fresh `conformance-…` id); with
   * `bindTicket`, a node id the ticket source can get tickets for.
   */
  readonly nodeId?: string;
  /** relay role: a fresh directory-signed bind ticket for `workerId` (iicp-dir.md §7.4). */
  readonly bindTicket?: (workerId: string) => Promise<string>;
  /**
   * proxy role: the harness's scripted directory and nodes, started before the proxy
   * (which must be configured with `proxyMesh.directoryUrl`).
   */
  readonly proxyMesh?: ProxyMesh;
}

/** What the proxy checks see of the scripted mesh (see proxy-mesh.ts). */
export interface ProxyMesh {
  readonly directoryUrl: string;
  /** Start a scenario: its nodes, listed in this order for discover `model=<model>`. */
  scenario(kinds: readonly ScriptedNodeKind[]): Promise<ProxyScenario>;
  close(): Promise<void>;
}

/**
 * `ok`: answers a chat RESPONSE; `fail`: 503 `service_unavailable`; `timeout`: answers
 * nothing until the CALL's `timeout_ms` (at most 8 s) passed, then 504 `task_timeout`.
 */
export type ScriptedNodeKind = 'ok' | 'fail' | 'timeout';

export interface ProxyScenario {
  /** The model name that selects this scenario at the scripted directory. */
  readonly model: string;
  /** The text the `ok` nodes answer. */
  readonly text: string;
  /** Discover queries and tasks in arrival order (`node` is the index in `kinds`). */
  readonly events: readonly ProxyMeshEvent[];
}

export type ProxyMeshEvent =
  | { readonly kind: 'discover'; readonly intent: string | null }
  | { readonly kind: 'task'; readonly node: number; readonly intent: string | null };

export interface CheckContext {
  readonly target: string;
  readonly fixture: Fixture;
  /** True when the target is loopback or --allow-remote-mutation was given. */
  readonly mayMutate: boolean;
  /** Per-run scratch space shared by the checks of one suite (kept in memory only). */
  readonly state: Map<string, unknown>;
  request(path: string, init?: RequestInit): Promise<Exchange>;
  /** Every exchange of the run so far (for the leak scans). */
  readonly exchanges: readonly Exchange[];
  /** Register a cleanup to run at the end of the suite. */
  defer(fn: () => Promise<void>): void;
}

export interface Check {
  /** The suite's test ID, e.g. `DIR-REG-01`. */
  readonly id: string;
  readonly title: string;
  /** Registers nodes, dispatches tasks or otherwise changes the target's state. */
  readonly mutates?: boolean;
  run(ctx: CheckContext): Promise<void>;
}

/** A test ID of the role that no check covers, and why it cannot be checked over the wire. */
export interface NotCheckable {
  readonly id: string;
  readonly reason: string;
}

export interface Suite {
  readonly role: Role;
  readonly checks: readonly Check[];
  readonly notCheckable: readonly NotCheckable[];
}

export type Outcome = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  readonly id: string;
  readonly title: string;
  readonly outcome: Outcome;
  readonly reason: 'passed' | FailReason | 'skipped';
  readonly observedStatus: number | null;
  readonly durationMs: number;
  /** Why it failed or was skipped (field names and statuses only). */
  readonly message?: string;
}

export interface SuiteRun {
  readonly role: Role;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly results: readonly CheckResult[];
  readonly summary: { total: number; passed: number; failed: number; skipped: number };
}
