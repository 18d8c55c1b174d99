/**
 * Consumer proxy suite: conformance-test-suite.md §5 (PROXY-ROUTE-*, PROXY-TIMEOUT-*,
 * PROXY-OAI-*, PROXY-ERR-*) over the OpenAI-compatible route `POST /v1/chat/completions`.
 * Routing is observed through the harness's scripted mesh (proxy-mesh.ts): the proxy
 * under test must be configured with `fixture.proxyMesh.directoryUrl`; each check starts
 * a scenario of scripted nodes and reads which nodes the proxy called, in what order.
 */
import { expectStatus, expectThat, field } from '../expect.ts';
import { leakChecks } from './common.ts';
import {
  CheckFailure,
  CheckSkipped,
  type Check,
  type CheckContext,
  type Exchange,
  type NotCheckable,
  type ProxyScenario,
  type ScriptedNodeKind,
  type Suite,
} from '../types.ts';

const CHAT_INTENT = 'urn:iicp:intent:llm:chat:v1';

interface Ran {
  readonly scenario: ProxyScenario;
  readonly ex: Exchange;
}

/** Run one chat through the proxy against a scenario; shared by checks with the same kinds. */
async function chat(ctx: CheckContext, kinds: readonly ScriptedNodeKind[]): Promise<Ran> {
  const key = `chat:${kinds.join(',')}`;
  const have = ctx.state.get(key) as Ran | undefined;
  if (have) return have;
  const mesh = ctx.fixture.proxyMesh;
  if (!mesh)
    throw new CheckSkipped(
      "needs the proxy configured with the harness's scripted directory (--fixture-port)",
    );
  const scenario = await mesh.scenario(kinds);
  const ex = await ctx.request('/v1/chat/completions', {
    json: {
      model: scenario.model,
      messages: [{ role: 'user', content: 'Reply with one word.' }],
    },
  });
  const ran = { scenario, ex };
  ctx.state.set(key, ran);
  return ran;
}

const tasks = (s: ProxyScenario) =>
  s.events.filter((e): e is Extract<typeof e, { kind: 'task' }> => e.kind === 'task');

function expectAnswer(r: Ran): void {
  expectStatus(r.ex, 200);
  expectThat(
    field(r.ex.body, 'choices', '0', 'message', 'content') === r.scenario.text,
    'choices[0].message.content is not the node’s answer',
    r.ex,
  );
}

/** A structured error: `error.code` set, no raw exception (OpenAI shape keeps it there). */
function expectStructuredError(r: Ran, status: number | undefined, ...codes: string[]): void {
  if (status !== undefined) expectStatus(r.ex, status);
  else expectThat(r.ex.status >= 400, `expected an error status, got ${r.ex.status}`, r.ex);
  const code = field(r.ex.body, 'error', 'code');
  expectThat(typeof code === 'string' && code !== '', 'error.code is missing or empty', r.ex);
  if (codes.length > 0 && !codes.includes(code))
    throw new CheckFailure(
      'assertion_failed',
      `expected error.code ${codes.join(' or ')}, got ${code}`,
      r.ex.status,
    );
}

const checks: Check[] = [
  {
    id: 'PROXY-OAI-01',
    title: 'POST /v1/chat/completions becomes an IICP CALL for urn:iicp:intent:llm:chat:v1',
    mutates: true,
    async run(ctx) {
      const r = await chat(ctx, ['ok']);
      const d = r.scenario.events.find((e) => e.kind === 'discover');
      expectThat(d?.intent === CHAT_INTENT, 'discover did not ask for llm:chat:v1', r.ex);
      const t = tasks(r.scenario);
      expectThat(t.length > 0, 'no CALL reached the node', r.ex);
      expectThat(
        t.every((e) => e.intent === CHAT_INTENT),
        'the CALL intent is not llm:chat:v1',
        r.ex,
      );
    },
  },
  {
    id: 'PROXY-OAI-02',
    title: "the node's RESPONSE comes back in OpenAI form with choices[0].message.content",
    mutates: true,
    async run(ctx) {
      expectAnswer(await chat(ctx, ['ok']));
    },
  },
  {
    id: 'PROXY-ROUTE-01',
    title: 'the proxy discovers nodes at the directory before it routes',
    mutates: true,
    async run(ctx) {
      const r = await chat(ctx, ['ok']);
      const first = r.scenario.events[0];
      expectThat(first?.kind === 'discover', 'the first event was not a discover query', r.ex);
    },
  },
  {
    id: 'PROXY-ROUTE-02',
    title: 'the task goes to the first (highest-scored) node of the discover answer',
    mutates: true,
    async run(ctx) {
      const r = await chat(ctx, ['ok', 'ok']);
      expectAnswer(r);
      const t = tasks(r.scenario);
      expectThat(t[0]?.node === 0, 'the first CALL did not go to the first listed node', r.ex);
      expectThat(t.length === 1, 'more than one node was called for one request', r.ex);
    },
  },
  {
    id: 'PROXY-ROUTE-03',
    title: 'a failing node is retried on the next one, within 3 attempts',
    mutates: true,
    async run(ctx) {
      const r = await chat(ctx, ['fail', 'ok']);
      expectAnswer(r);
      const t = tasks(r.scenario);
      expectThat(t[0]?.node === 0 && t.at(-1)?.node === 1, 'the next node was not tried', r.ex);
      const all = await chat(ctx, ['fail', 'fail', 'fail', 'fail']);
      expectThat(
        tasks(all.scenario).length <= 3,
        `${tasks(all.scenario).length} attempts for one request (at most 3)`,
        all.ex,
      );
    },
  },
  {
    id: 'PROXY-ROUTE-04',
    title: 'when every attempt fails the answer is a structured error, not a raw exception',
    mutates: true,
    async run(ctx) {
      expectStructuredError(await chat(ctx, ['fail', 'fail', 'fail', 'fail']), undefined);
    },
  },
  {
    id: 'PROXY-ERR-02',
    title: 'candidates that all fail give error.code no_available_node (not IICP-E033)',
    mutates: true,
    async run(ctx) {
      expectStructuredError(
        await chat(ctx, ['fail', 'fail', 'fail', 'fail']),
        undefined,
        'no_available_node',
      );
    },
  },
  {
    id: 'PROXY-ERR-01',
    title: 'no candidate at discover gives HTTP 503 with error.code IICP-E033',
    mutates: true,
    async run(ctx) {
      const r = await chat(ctx, []);
      expectStructuredError(r, 503, 'IICP-E033');
      expectThat(tasks(r.scenario).length === 0, 'a node was called with no candidate', r.ex);
    },
  },
  {
    id: 'PROXY-TIMEOUT-01',
    title: 'a node that times out is followed by the next node',
    mutates: true,
    async run(ctx) {
      const r = await chat(ctx, ['timeout', 'ok']);
      expectAnswer(r);
      const t = tasks(r.scenario);
      expectThat(t[0]?.node === 0 && t.at(-1)?.node === 1, 'the next node was not tried', r.ex);
    },
  },
  {
    id: 'PROXY-TIMEOUT-02',
    title: 'when every node times out the error code is timeout',
    mutates: true,
    async run(ctx) {
      expectStructuredError(
        await chat(ctx, ['timeout', 'timeout', 'timeout']),
        undefined,
        'timeout',
      );
    },
  },
];

const notCheckable: NotCheckable[] = [
  {
    id: 'PROXY-ROUTE-05',
    reason:
      'needs the proxy pointed at a self-signed TLS endpoint; a deployment property (apps/proxy tests it)',
  },
];

export const proxySuite: Suite = {
  role: 'proxy',
  checks: [...checks, ...leakChecks('proxy')],
  notCheckable,
};
