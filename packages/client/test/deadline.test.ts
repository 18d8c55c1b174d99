import { describe, expect, it, vi } from 'vitest';
import { withTimeout } from '../src/http.ts';

describe('withTimeout (one deadline per CALL)', () => {
  it("follows the caller's abort with its reason, once", () => {
    const caller = new AbortController();
    const d = withTimeout(caller.signal, 60_000);
    const seen = vi.fn();
    d.signal.addEventListener('abort', seen);
    caller.abort(new Error('gone'));
    expect(d.signal.aborted).toBe(true);
    expect((d.signal.reason as Error).message).toBe('gone');
    expect(seen).toHaveBeenCalledTimes(1);
    d.cancel();
  });

  it('starts aborted when the caller already is', () => {
    const caller = new AbortController();
    caller.abort('before');
    const d = withTimeout(caller.signal, 60_000);
    expect(d.signal.aborted).toBe(true);
    expect(d.signal.reason).toBe('before');
    d.cancel();
  });

  it('times out with a TimeoutError', async () => {
    const d = withTimeout(undefined, 1);
    await vi.waitFor(() => expect(d.signal.aborted).toBe(true), { timeout: 10_000 });
    expect((d.signal.reason as DOMException).name).toBe('TimeoutError');
  });

  it('after cancel, neither the caller nor the clock aborts it', async () => {
    const caller = new AbortController();
    const d = withTimeout(caller.signal, 1);
    d.cancel();
    caller.abort(new Error('late'));
    await new Promise((r) => setTimeout(r, 20));
    expect(d.signal.aborted).toBe(false);
  });
});
