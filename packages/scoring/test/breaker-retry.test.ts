import { describe, expect, it } from 'vitest';
import {
  CircuitBreaker,
  CircuitBreakers,
  DEFAULT_RETRY_POLICY,
  backoffDelayMs,
  classifyFailure,
  fallbackOrder,
  nextRetryStep,
  retryPolicyFor,
} from '../src/index.ts';

describe('CircuitBreaker (iicp-semantics.md §7.1)', () => {
  const clock = () => {
    const c = { t: 1_000, now: () => c.t };
    return c;
  };

  it('opens after 5 consecutive failures, not 4', () => {
    const c = clock();
    const b = new CircuitBreaker({ now: c.now });
    for (let i = 0; i < 4; i++) b.recordFailure();
    expect(b.state).toBe('closed');
    expect(b.tryAcquire()).toBe(true);
    b.recordFailure();
    expect(b.state).toBe('open');
    expect(b.tryAcquire()).toBe(false);
  });

  it('a success resets the consecutive count', () => {
    const b = new CircuitBreaker({ now: () => 0 });
    for (let i = 0; i < 4; i++) b.recordFailure();
    b.recordSuccess();
    for (let i = 0; i < 4; i++) b.recordFailure();
    expect(b.state).toBe('closed');
  });

  it('lets exactly one probe through after 30 s; success closes', () => {
    const c = clock();
    const b = new CircuitBreaker({ now: c.now });
    for (let i = 0; i < 5; i++) b.recordFailure();
    c.t += 29_999;
    expect(b.tryAcquire()).toBe(false);
    c.t += 1;
    expect(b.tryAcquire()).toBe(true);
    expect(b.state).toBe('half_open');
    expect(b.tryAcquire()).toBe(false);
    b.recordSuccess();
    expect(b.state).toBe('closed');
    expect(b.tryAcquire()).toBe(true);
  });

  it('a failed probe reopens for another 30 s', () => {
    const c = clock();
    const b = new CircuitBreaker({ now: c.now });
    for (let i = 0; i < 5; i++) b.recordFailure();
    c.t += 30_000;
    expect(b.tryAcquire()).toBe(true);
    b.recordFailure();
    expect(b.state).toBe('open');
    c.t += 29_999;
    expect(b.tryAcquire()).toBe(false);
    c.t += 1;
    expect(b.tryAcquire()).toBe(true);
  });

  it('a probe whose outcome never arrives does not wedge the node', () => {
    const c = clock();
    const b = new CircuitBreaker({ now: c.now });
    for (let i = 0; i < 5; i++) b.recordFailure();
    c.t += 30_000;
    expect(b.tryAcquire()).toBe(true);
    c.t += 30_000;
    expect(b.tryAcquire()).toBe(true);
  });

  it('takes custom thresholds', () => {
    const b = new CircuitBreaker({ failureThreshold: 2, openMs: 10, now: () => 0 });
    b.recordFailure();
    b.recordFailure();
    expect(b.state).toBe('open');
  });

  it('CircuitBreakers keeps state only for failing nodes', () => {
    const c = clock();
    const bs = new CircuitBreakers({ now: c.now });
    expect(bs.isOpen('x')).toBe(false);
    expect(bs.tracked).toBe(0);
    for (let i = 0; i < 5; i++) bs.recordFailure('x');
    expect(bs.isOpen('x')).toBe(true);
    expect(bs.stateOf('x')).toBe('open');
    expect(bs.tryAcquire('x')).toBe(false);
    c.t += 30_000;
    expect(bs.isOpen('x')).toBe(false);
    expect(bs.tryAcquire('x')).toBe(true);
    expect(bs.isOpen('x')).toBe(true); // probe in flight
    bs.recordSuccess('x');
    expect(bs.tracked).toBe(0);
    expect(bs.stateOf('x')).toBe('closed');
  });
});

describe('retry policy (iicp-semantics.md §6.1, §2.2)', () => {
  it('has the spec defaults', () => {
    expect(DEFAULT_RETRY_POLICY).toEqual({
      maxAttempts: 3,
      baseDelayMs: 200,
      multiplier: 2,
      jitter: 0.2,
    });
  });

  it('backs off 200 ms, 400 ms, 800 ms with ±20 % jitter', () => {
    expect(backoffDelayMs(1, 0.5)).toBeCloseTo(200, 9);
    expect(backoffDelayMs(2, 0.5)).toBeCloseTo(400, 9);
    expect(backoffDelayMs(3, 0.5)).toBeCloseTo(800, 9);
    expect(backoffDelayMs(1, 0)).toBeCloseTo(160, 9);
    expect(backoffDelayMs(2, 0.999999)).toBeCloseTo(480, 3);
    expect(backoffDelayMs(1, 0.75)).toBeCloseTo(220, 9);
  });

  it('retries transport failures, 429 and 5xx with backoff; counts them on the breaker', () => {
    for (const f of [{ kind: 'connect' }, { kind: 'timeout' }, { kind: 'peer_closed' }] as const) {
      expect(classifyFailure(f)).toEqual({ action: 'retry_backoff', breaker: true });
    }
    expect(classifyFailure({ kind: 'http', status: 503 })).toEqual({
      action: 'retry_backoff',
      breaker: true,
    });
    expect(classifyFailure({ kind: 'http', status: 504, code: 'task_timeout' }).action).toBe(
      'retry_backoff',
    );
    expect(classifyFailure({ kind: 'http', status: 500 }).action).toBe('retry_backoff');
    expect(classifyFailure({ kind: 'http', status: 429, code: 'rate_limited' })).toEqual({
      action: 'retry_backoff',
      breaker: false,
    });
  });

  it('switches node at once on capacity_exceeded (and its legacy name), and on any realtime 429', () => {
    expect(classifyFailure({ kind: 'http', status: 429, code: 'capacity_exceeded' })).toEqual({
      action: 'switch_now',
      breaker: false,
    });
    expect(classifyFailure({ kind: 'http', status: 429, code: 'overloaded' }).action).toBe(
      'switch_now',
    );
    expect(classifyFailure({ kind: 'http', status: 429 }, 'realtime').action).toBe('switch_now');
  });

  it('never retries 400/401/403/409/422/502, the policy refusal, or an abort', () => {
    for (const status of [400, 401, 403, 409, 422, 502, 404]) {
      expect(classifyFailure({ kind: 'http', status }).action, String(status)).toBe('fail');
    }
    expect(classifyFailure({ kind: 'http', status: 502 }).breaker).toBe(true);
    expect(classifyFailure({ kind: 'http', status: 403, code: 'IICP-POLICY-001' }).action).toBe(
      'fail',
    );
    expect(classifyFailure({ kind: 'aborted' })).toEqual({ action: 'fail', breaker: false });
  });

  it('plans steps: backoff delays, immediate switches, and a stop after 3 attempts', () => {
    expect(nextRetryStep(1, { kind: 'timeout' }, 0.5)).toEqual({ retry: true, delayMs: 200 });
    expect(nextRetryStep(2, { kind: 'connect' }, 0.5)).toEqual({ retry: true, delayMs: 400 });
    expect(nextRetryStep(3, { kind: 'connect' }, 0.5)).toEqual({
      retry: false,
      reason: 'attempts_exhausted',
    });
    expect(nextRetryStep(1, { kind: 'http', status: 429, code: 'capacity_exceeded' }, 0.9)).toEqual(
      {
        retry: true,
        delayMs: 0,
      },
    );
    expect(nextRetryStep(1, { kind: 'http', status: 422 }, 0.5)).toEqual({
      retry: false,
      reason: 'terminal',
    });
  });

  it('scales attempts by QoS class (§2.1)', () => {
    expect(retryPolicyFor('interactive').maxAttempts).toBe(2);
    expect(retryPolicyFor('batch').maxAttempts).toBe(3);
    expect(retryPolicyFor('best-effort').maxAttempts).toBe(5);
    expect(retryPolicyFor(undefined).maxAttempts).toBe(3);
    expect(nextRetryStep(2, { kind: 'timeout' }, 0.5, { qos: 'interactive' })).toEqual({
      retry: false,
      reason: 'attempts_exhausted',
    });
  });

  it('builds the fallback chain: up to maxAttempts nodes in order, then the local fallback', () => {
    expect(fallbackOrder(['n1', 'n2', 'n3', 'n4'], { localFallback: true })).toEqual([
      { kind: 'node', node: 'n1' },
      { kind: 'node', node: 'n2' },
      { kind: 'node', node: 'n3' },
      { kind: 'local' },
    ]);
    expect(fallbackOrder(['n1'])).toEqual([{ kind: 'node', node: 'n1' }]);
    expect(fallbackOrder([], { localFallback: true })).toEqual([{ kind: 'local' }]);
  });
});
