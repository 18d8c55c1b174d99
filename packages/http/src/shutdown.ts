import type { FastifyInstance } from 'fastify';

/** Default drain deadline: in-flight requests get this long before sockets are cut. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

/**
 * After a finished shutdown, how long the default exit waits for the event loop to
 * empty on its own before it calls `process.exit` (a stray socket or timer must not
 * keep a stopped server alive).
 */
export const EXIT_GRACE_MS = 2_000;

function defaultExit(code: number, immediately = false): void {
  process.exitCode = code;
  if (immediately) {
    process.exit(code);
    return;
  }
  setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
}

/** Anything with `once`/`off` for signals: `process` in production, an EventEmitter in tests. */
export interface SignalSource {
  once(event: string, listener: (signal: string) => void): unknown;
  off(event: string, listener: (signal: string) => void): unknown;
}

export interface GracefulShutdownOptions {
  /** Default SIGINT and SIGTERM. */
  signals?: readonly string[];
  /** Drain deadline in ms. */
  timeoutMs?: number;
  /** Where signals come from. Default `process`. */
  source?: SignalSource;
  /**
   * Called with the exit code once closed, and with `(1, true)` on a second signal.
   * Default: set `process.exitCode` and let the event loop empty; if something still
   * holds it open {@link EXIT_GRACE_MS} later, exit anyway. A second signal exits at once.
   */
  exit?: (code: number, immediately?: boolean) => void;
  /** Extra cleanup after the server closed (databases, timers). */
  onClosed?: () => Promise<void> | void;
}

export interface ShutdownResult {
  /** True when every in-flight request finished before the deadline. */
  drained: boolean;
}

export interface GracefulShutdown {
  /** Stop accepting, drain in-flight requests up to the deadline, then close. Idempotent. */
  shutdown(reason?: string): Promise<ShutdownResult>;
  /** Remove the signal listeners (tests; apps that manage signals themselves). */
  dispose(): void;
}

/**
 * Graceful shutdown for an app built on the plugin. On the first signal: the
 * listener stops accepting, new requests on kept-alive connections get 503
 * `service_unavailable`, in-flight ones finish; after `timeoutMs` the remaining
 * connections are destroyed. A second signal exits at once with code 1.
 */
export function installGracefulShutdown(
  app: FastifyInstance,
  opts: GracefulShutdownOptions = {},
): GracefulShutdown {
  const signals = opts.signals ?? ['SIGINT', 'SIGTERM'];
  const timeoutMs = opts.timeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  const source: SignalSource = opts.source ?? process;
  const exit = opts.exit ?? defaultExit;
  let running: Promise<ShutdownResult> | undefined;

  async function run(reason: string): Promise<ShutdownResult> {
    app.log.info({ reason, timeoutMs }, 'shutting down: draining in-flight requests');
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
      timer.unref();
    });
    const closed = app.close().then(() => 'closed' as const);
    const first = await Promise.race([closed, deadline]);
    clearTimeout(timer);
    const drained = first === 'closed';
    if (!drained) {
      app.log.warn('drain deadline passed: closing remaining connections');
      app.server.closeAllConnections();
      await closed;
    }
    await opts.onClosed?.();
    app.log.info({ drained }, 'shut down');
    return { drained };
  }

  const shutdown = (reason = 'shutdown'): Promise<ShutdownResult> => {
    running ??= run(reason);
    return running;
  };

  const onSignal = (signal: string): void => {
    if (running) {
      app.log.warn({ signal }, 'second signal: exiting now');
      exit(1, true);
      return;
    }
    // Re-arm so that a second signal reaches onSignal rather than node's default.
    source.once(signal, onSignal);
    shutdown(signal).then(
      ({ drained }) => exit(drained ? 0 : 1),
      (err: unknown) => {
        app.log.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  };
  for (const s of signals) source.once(s, onSignal);

  return {
    shutdown,
    dispose() {
      for (const s of signals) source.off(s, onSignal);
    },
  };
}
