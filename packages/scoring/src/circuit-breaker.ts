/**
 * Per-node circuit breaker (iicp-semantics.md §7.1; §7.2 applies the same parameters to
 * the directory): 5 consecutive failures open it; after 30 s one half-open probe is let
 * through; its success closes the breaker, its failure reopens it for another 30 s.
 */

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  /** "Threshold: 5 consecutive failures → circuit opens". */
  readonly failureThreshold?: number;
  /** "Open duration: 30 seconds, then half-open probe". */
  readonly openMs?: number;
  /** Injectable clock (epoch ms) so tests and simulations control time. */
  readonly now?: () => number;
}

export const CIRCUIT_BREAKER_DEFAULTS = Object.freeze({ failureThreshold: 5, openMs: 30_000 });

export class CircuitBreaker {
  private readonly threshold: number;
  private readonly openMs: number;
  private readonly now: () => number;
  private failures = 0;
  private openedAt = 0;
  private probeStartedAt = 0;
  private current: BreakerState = 'closed';

  constructor(opts: CircuitBreakerOptions = {}) {
    this.threshold = opts.failureThreshold ?? CIRCUIT_BREAKER_DEFAULTS.failureThreshold;
    this.openMs = opts.openMs ?? CIRCUIT_BREAKER_DEFAULTS.openMs;
    this.now = opts.now ?? Date.now;
  }

  /** The stored state; an open breaker whose 30 s are over reads as `half_open` only once probed. */
  get state(): BreakerState {
    return this.current;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  /**
   * Whether a call may be made now, without reserving anything: true when closed, or
   * when a probe could be taken. Use for filtering lists.
   */
  wouldAllow(): boolean {
    if (this.current === 'closed') return true;
    const t = this.now();
    if (this.current === 'open') return t - this.openedAt >= this.openMs;
    // A probe whose outcome was never reported must not wedge the node forever.
    return t - this.probeStartedAt >= this.openMs;
  }

  /**
   * Asks to make a call. Closed: yes. Open and the open period is over: yes, and this
   * call is the single half-open probe. Otherwise no.
   */
  tryAcquire(): boolean {
    if (this.current === 'closed') return true;
    if (!this.wouldAllow()) return false;
    this.current = 'half_open';
    this.probeStartedAt = this.now();
    return true;
  }

  recordSuccess(): void {
    this.failures = 0;
    this.current = 'closed';
  }

  recordFailure(): void {
    if (this.current === 'half_open') {
      this.open();
      return;
    }
    this.failures++;
    if (this.current === 'closed' && this.failures >= this.threshold) this.open();
  }

  private open(): void {
    this.current = 'open';
    this.openedAt = this.now();
  }
}

/**
 * One breaker per node id, created on the first failure and forgotten once it closes
 * again, so a mesh of thousands of healthy nodes costs no memory here.
 */
export class CircuitBreakers {
  private readonly byNode = new Map<string, CircuitBreaker>();

  constructor(private readonly opts: CircuitBreakerOptions = {}) {}

  /** True while calls to the node are refused (the list filter of §3.2 step 2). */
  isOpen = (nodeId: string): boolean => {
    const b = this.byNode.get(nodeId);
    return b !== undefined && !b.wouldAllow();
  };

  /** Reserve a call (taking the half-open probe when due). */
  tryAcquire(nodeId: string): boolean {
    return this.byNode.get(nodeId)?.tryAcquire() ?? true;
  }

  recordSuccess(nodeId: string): void {
    if (this.byNode.has(nodeId)) this.byNode.delete(nodeId);
  }

  recordFailure(nodeId: string): void {
    let b = this.byNode.get(nodeId);
    if (!b) {
      b = new CircuitBreaker(this.opts);
      this.byNode.set(nodeId, b);
    }
    b.recordFailure();
  }

  stateOf(nodeId: string): BreakerState {
    return this.byNode.get(nodeId)?.state ?? 'closed';
  }

  /** Nodes with a breaker that is not closed or has failures on record. */
  get tracked(): number {
    return this.byNode.size;
  }
}
