/**
 * A parked pull's timer ends with the pull: when the session is dropped (shutdown,
 * unbind) nothing is left pending, so a relay shutting down exits at once instead of
 * when the last 25 s long-poll timer fires.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RelayHub, type PullWaiter } from '../src/hub.ts';

afterEach(() => {
  vi.useRealTimers();
});

function waiter(): PullWaiter & { ended: unknown[] } {
  const ended: unknown[] = [];
  return { ended, deliver: () => true, end: (err) => void ended.push(err ?? 'none') };
}

describe('relay hub: parked pull timers', () => {
  it('are cleared when the hub closes, when the worker unbinds, and when a call is delivered', () => {
    vi.useFakeTimers();
    const hub = new RelayHub(() => Date.now(), {
      required: false,
      directoryPublicKey: () => undefined,
    });
    const a = hub.bind({ workerId: 'worker-a', ticket: undefined, principal: 'p' });
    const b = hub.bind({ workerId: 'worker-b', ticket: undefined, principal: 'p' });
    const c = hub.bind({ workerId: 'worker-c', ticket: undefined, principal: 'p' });
    const wa = waiter();
    const wb = waiter();
    const wc = waiter();
    hub.pull(a, wa, 25_000);
    hub.pull(b, wb, 25_000);
    hub.pull(c, wc, 25_000);
    expect(vi.getTimerCount()).toBe(3);

    const sink = { sendBuffered: () => {}, startStream: () => undefined as never, fail: () => {} };
    const call = hub.enqueue(
      'worker-c',
      { method: 'GET', path: '/iicp/health', headers: {}, body: undefined },
      10_000,
      sink,
    );
    // The pull's timer went; the call's own deadline timer remains.
    expect(vi.getTimerCount()).toBe(3);
    hub.complete(call);
    expect(vi.getTimerCount()).toBe(2);

    hub.unbind(b);
    expect(wb.ended).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(1);

    hub.close();
    expect(wa.ended).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });
});
