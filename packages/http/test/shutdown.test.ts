import { EventEmitter } from 'node:events';
import { connect } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { createIicpServer, installGracefulShutdown } from '../src/index.ts';

async function slowApp() {
  const app = await createIicpServer({ openapi: false, metrics: false });
  let entered!: () => void;
  const enteredP = new Promise<void>((r) => (entered = r));
  let release!: () => void;
  const releaseP = new Promise<void>((r) => (release = r));
  app.get('/slow', async () => {
    entered();
    await releaseP;
    return { done: true };
  });
  app.get('/fast', async () => ({ fast: true }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  return { app, port, enteredP, release };
}

describe('installGracefulShutdown', () => {
  it('on SIGTERM stops accepting, answers new requests 503, drains in-flight work, exits 0', async () => {
    const { app, port, enteredP, release } = await slowApp();
    const source = new EventEmitter();
    const codes: number[] = [];
    const gs = installGracefulShutdown(app, {
      source,
      exit: (c) => codes.push(c),
      timeoutMs: 60_000,
    });

    // A kept-alive connection with its in-flight request, and a second connection
    // whose request head is still arriving when the drain starts.
    const open = (first: string) => {
      const sock = connect(port, '127.0.0.1');
      let raw = '';
      sock.on('data', (d: Buffer) => (raw += d.toString('utf8')));
      const closed = new Promise<string>((r) => sock.on('close', () => r(raw)));
      sock.write(first);
      return { sock, closed };
    };
    const a = open('GET /slow HTTP/1.1\r\nHost: a\r\n\r\n');
    await enteredP;
    const b = open('GET /fast HTTP/1.1\r\nHost: a\r\n');
    await vi.waitFor(async () => {
      const n = await new Promise<number>((r, j) =>
        app.server.getConnections((e, c) => (e ? j(e) : r(c))),
      );
      expect(n).toBe(2);
    });
    await new Promise((r) => setImmediate(r));
    source.emit('SIGTERM', 'SIGTERM');
    const done = gs.shutdown(); // same promise as the signal's
    await vi.waitFor(() => expect(app.iicp.closing).toBe(true));

    // The listener no longer accepts connections.
    await expect(fetch(`http://127.0.0.1:${port}/fast`)).rejects.toThrow();

    // A request that still reaches the app while draining gets the envelope 503.
    b.sock.write('\r\n');
    const rawB = await b.closed;
    expect(rawB).toMatch(/^HTTP\/1\.1 503/);
    expect(rawB).toMatch(/\r\nconnection: close\r\n/i);
    expect(rawB).toContain(
      '{"error":{"code":"service_unavailable","message":"server is shutting down"}}',
    );
    release();
    // The in-flight request completes, then its kept-alive connection is closed.
    const rawA = await a.closed;
    expect(rawA).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*\{"done":true\}$/);
    expect(await done).toEqual({ drained: true });
    await new Promise((r) => setImmediate(r));
    expect(codes).toEqual([0]);
    gs.dispose();
  });

  it('cuts connections that outlive the deadline and reports drained=false', async () => {
    const { app, port, enteredP, release } = await slowApp();
    const source = new EventEmitter();
    const gs = installGracefulShutdown(app, { source, exit: () => undefined, timeoutMs: 50 });
    const inflight = fetch(`http://127.0.0.1:${port}/slow`).then(
      (r) => r.status,
      () => 'cut',
    );
    await enteredP;
    expect(await gs.shutdown('test')).toEqual({ drained: false });
    expect(await inflight).toBe('cut');
    release();
    gs.dispose();
  });

  it('a second signal exits at once with code 1; dispose removes the listeners', async () => {
    const { app, enteredP, release, port } = await slowApp();
    const source = new EventEmitter();
    const codes: number[] = [];
    const gs = installGracefulShutdown(app, {
      source,
      exit: (c) => codes.push(c),
      timeoutMs: 60_000,
    });
    const inflight = fetch(`http://127.0.0.1:${port}/slow`);
    await enteredP;
    source.emit('SIGINT', 'SIGINT');
    source.emit('SIGINT', 'SIGINT');
    expect(codes).toEqual([1]);
    release();
    await inflight;
    await gs.shutdown();
    gs.dispose();
    expect(source.listenerCount('SIGINT') + source.listenerCount('SIGTERM')).toBe(0);
  });

  describe('the default exit', () => {
    /**
     * Runs `fn` with process.exit replaced by a recorder, and puts it (and the exit
     * code) back only after `expected` exits happened (the grace timer's included), so
     * no late timer reaches the real process.exit of the test worker.
     */
    async function withRecordedExit(
      expected: number,
      fn: (exits: number[]) => Promise<void>,
    ): Promise<number[]> {
      const exits: number[] = [];
      const spy = vi.spyOn(process, 'exit').mockImplementation(((c?: number) => {
        exits.push(c ?? 0);
      }) as never);
      const before = process.exitCode;
      try {
        await fn(exits);
        for (let waited = 0; exits.length < expected && waited < 15_000; waited += 50) {
          await new Promise((r) => setTimeout(r, 50));
        }
        return [...exits];
      } finally {
        spy.mockRestore();
        process.exitCode = before;
      }
    }

    it(
      'a second signal calls process.exit(1) at once, during the drain',
      { timeout: 30_000 },
      async () => {
        const { app, enteredP, release, port } = await slowApp();
        const source = new EventEmitter();
        const exits = await withRecordedExit(2, async (seen) => {
          const gs = installGracefulShutdown(app, { source, timeoutMs: 60_000 });
          const inflight = fetch(`http://127.0.0.1:${port}/slow`);
          await enteredP;
          source.emit('SIGTERM', 'SIGTERM');
          expect(seen).toEqual([]);
          source.emit('SIGTERM', 'SIGTERM');
          expect(seen).toEqual([1]);
          release();
          await inflight;
          await gs.shutdown();
          gs.dispose();
        });
        // The drain still completes, and the grace timer exits with its code.
        expect(exits).toEqual([1, 0]);
      },
    );

    it(
      'after a finished shutdown, exits even when a stray handle would keep the process alive',
      { timeout: 30_000 },
      async () => {
        const { app } = await slowApp();
        const source = new EventEmitter();
        let code: typeof process.exitCode;
        const exits = await withRecordedExit(1, async () => {
          installGracefulShutdown(app, { source, timeoutMs: 60_000 });
          // The drain finishes at once (nothing in flight): the exit code is set, and
          // the grace timer then calls process.exit with it.
          source.emit('SIGTERM', 'SIGTERM');
          for (let waited = 0; process.exitCode === undefined && waited < 15_000; waited += 20) {
            await new Promise((r) => setTimeout(r, 20));
          }
          code = process.exitCode;
        });
        expect(code).toBe(0);
        expect(exits).toEqual([0]);
      },
    );
  });
});
