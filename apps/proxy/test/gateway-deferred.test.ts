import type { AttemptInfo, CallOptions, IicpClient } from '@iicp/client';
import { IicpProtocolError } from '@iicp/wire';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { Gateway, type RouteRequest } from '../src/gateway.ts';
import { createProxyMetrics } from '../src/metrics.ts';

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

function setup(scripts: Script[]) {
  const clock = { t: 1_000_000 };
  const registry = new Registry();
  const metrics = createProxyMetrics(registry, () => gateway.flush());
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
