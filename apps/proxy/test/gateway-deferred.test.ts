import type { AttemptInfo, CallOptions, IicpClient } from '@iicp/client';
import { IicpProtocolError } from '@iicp/wire';
import fc from 'fast-check';
import { Counter, Histogram, Registry } from 'prom-client';
import { DEFAULT_LATENCY_BUCKETS } from '@iicp/http';
import { describe, expect, it, vi } from 'vitest';
import { Gateway, type RouteRequest } from '../src/gateway.ts';
import { createProxyMetrics, type ProxyMetrics } from '../src/metrics.ts';

const CHAT = 'urn:iicp:intent:llm:chat:v1';
const TASK_ID = '00000000-0000-4000-8000-000000000001';

/** One scripted call: the attempts the client reports, then success or a failure code. */
interface Script {
  readonly intent: string;
  readonly protocol: 'openai' | 'ollama' | 'anthropic';
  readonly attempts: ReadonlyArray<{
    readonly ok: boolean;
    readonly code?: string;
    readonly local: boolean;
    readonly nextDelayMs?: number;
  }>;
  /** undefined: the call succeeds. */
  readonly fails?: string;
  /** Milliseconds the fake clock moves during the call. */
  readonly took: number;
  /** The node's answer waits for this. */
  readonly gate?: Promise<void>;
}

function fakeClient(clock: { t: number }, scripts: Script[]): IicpClient {
  const next = async (opts: CallOptions | undefined) => {
    const s = scripts.shift()!;
    await s.gate;
    s.attempts.forEach((a, i) => {
      const info: AttemptInfo = {
        taskId: TASK_ID,
        attempt: i + 1,
        nodeId: a.local ? undefined : `node-${i}`,
        endpoint: 'http://127.0.0.1:1',
        local: a.local,
        ok: a.ok,
        ...(a.code !== undefined ? { errorCode: a.code } : {}),
        ...(a.nextDelayMs !== undefined ? { nextDelayMs: a.nextDelayMs } : {}),
      };
      opts?.onAttempt?.(info);
    });
    clock.t += s.took;
    if (s.fails !== undefined) throw new IicpProtocolError(s.fails, 'scripted failure');
    return { task_id: TASK_ID, status: 'success', result: {} };
  };
  return {
    call: (_i: string, _p: unknown, _c: unknown, opts?: CallOptions) => next(opts),
    breakerState: () => 'closed',
  } as unknown as IicpClient;
}

/** The proxy's metrics as plain prom-client metrics (what they were before FastX). */
function promClientMetrics(registry: Registry): ProxyMetrics {
  const registers = [registry];
  const hist = (name: string, help: string, labelNames: string[]) =>
    new Histogram({ name, help, labelNames, buckets: DEFAULT_LATENCY_BUCKETS, registers });
  const counter = (name: string, help: string, labelNames: string[] = []) =>
    new Counter({ name, help, labelNames, registers });
  return {
    routing: hist(
      'iicp_proxy_routing_seconds',
      'Time to route a request: discovery and attempts until a node answered',
      ['intent'],
    ),
    latency: hist(
      'iicp_proxy_request_duration_seconds',
      'Latency per intent, to the last byte of the answer',
      ['intent', 'outcome'],
    ),
    requests: counter(
      'iicp_proxy_requests_total',
      'Client requests by intent, client protocol and outcome (ok or IICP code)',
      ['intent', 'protocol', 'outcome'],
    ),
    attempts: counter(
      'iicp_proxy_attempts_total',
      'Task attempts on nodes by outcome (ok or IICP code)',
      ['intent', 'outcome'],
    ),
    retries: counter('iicp_proxy_retries_total', 'Attempts after the first one of a task', [
      'intent',
    ]),
    immediateSwitches: counter(
      'iicp_proxy_immediate_switches_total',
      'Failed attempts followed by the next node without backoff',
      ['intent'],
    ),
    fallbacks: counter('iicp_proxy_fallbacks_total', 'Attempts on the local fallback node', [
      'intent',
    ]),
    breakerOpens: counter('iicp_proxy_breaker_opens_total', 'Node circuit breakers that opened'),
  } as unknown as ProxyMetrics;
}

function setup(scripts: Script[], prom = false) {
  const clock = { t: 1_000_000 };
  const registry = new Registry();
  const metrics = prom
    ? promClientMetrics(registry)
    : createProxyMetrics(registry, () => gateway.flush());
  const gateway: Gateway = new Gateway(fakeClient(clock, scripts), metrics, () => clock.t);
  return { gateway, registry, metrics };
}

function req(s: Script): RouteRequest {
  return { intent: s.intent, protocol: s.protocol, signal: new AbortController().signal };
}

async function run(gateway: Gateway, s: Script): Promise<void> {
  await gateway.call(req(s), {}).catch(() => undefined);
}

const okScript: Script = {
  intent: CHAT,
  protocol: 'openai',
  attempts: [{ ok: true, local: false }],
  took: 3,
};

const codes = fc.constantFrom(
  'service_unavailable',
  'capacity_exceeded',
  'task_timeout',
  'no_available_node',
  'x_vendor_unknown',
  'ok',
);
const scriptArb: fc.Arbitrary<Script> = fc.record({
  intent: fc.constantFrom(CHAT, 'urn:iicp:intent:llm:completion:v1'),
  protocol: fc.constantFrom('openai', 'ollama', 'anthropic'),
  attempts: fc.array(
    fc.record(
      {
        ok: fc.boolean(),
        code: codes,
        local: fc.boolean(),
        nextDelayMs: fc.constantFrom(0, 100),
      },
      { requiredKeys: ['ok', 'local'] },
    ),
    { maxLength: 3 },
  ),
  fails: fc.option(codes, { nil: undefined }),
  took: fc.integer({ min: 0, max: 20_000 }),
});

describe('gateway: per-call bookkeeping off the critical path', () => {
  it('deferred metrics and /status record equal immediate ones (fixed seed)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(scriptArb, { minLength: 1, maxLength: 8 }), async (scripts) => {
        const deferred = setup([...scripts]);
        const immediate = setup([...scripts]);
        for (const s of scripts) {
          await run(deferred.gateway, s);
          await run(immediate.gateway, s);
          immediate.gateway.flush();
        }
        expect(await deferred.registry.metrics()).toBe(await immediate.registry.metrics());
        expect(deferred.gateway.lastRoute).toEqual(immediate.gateway.lastRoute);
      }),
      { seed: 20261207, numRuns: 150 },
    );
  });

  it('/metrics reads as it did with prom-client metrics applied at once (fixed seed)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(scriptArb, { minLength: 1, maxLength: 8 }), async (scripts) => {
        const fast = setup([...scripts]);
        const prom = setup([...scripts], true);
        for (const s of scripts) {
          await run(fast.gateway, s);
          await run(prom.gateway, s);
          prom.gateway.flush();
        }
        expect(await fast.registry.metrics()).toBe(await prom.registry.metrics());
      }),
      { seed: 20261207, numRuns: 150 },
    );
  });

  it('a finished call is applied once the next call has started, without any read', async () => {
    let answer!: () => void;
    const held: Script = { ...okScript, gate: new Promise<void>((r) => (answer = r)) };
    const { gateway, metrics } = setup([okScript, held]);
    const inc = vi.spyOn(metrics.requests, 'inc');
    await run(gateway, okScript);
    expect(inc).not.toHaveBeenCalled();
    const second = run(gateway, held);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(inc).toHaveBeenCalledTimes(1);
    answer();
    await second;
    expect(inc).toHaveBeenCalledTimes(1);
  });

  it('with no further call, the observations are applied when the loop is idle', async () => {
    const { gateway, metrics } = setup([okScript]);
    const inc = vi.spyOn(metrics.requests, 'inc');
    await run(gateway, okScript);
    await vi.waitFor(() => expect(inc).toHaveBeenCalledTimes(1), { timeout: 10_000 });
  });

  it('reading a single metric sees every finished call', async () => {
    const { gateway, metrics } = setup([okScript, okScript]);
    await run(gateway, okScript);
    await run(gateway, okScript);
    const v = await metrics.requests.get();
    expect(v.values.map((x) => x.value)).toEqual([2]);
    expect(gateway.lastRoute).toMatchObject({ intent: CHAT, ok: true, attempts: 1 });
  });
});
