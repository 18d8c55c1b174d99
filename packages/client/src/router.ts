import {
  CircuitBreakers,
  classifyFailure,
  fallbackOrder,
  filterDirectoryOrder,
  nextRetryStep,
  retryPolicyFor,
} from '@iicp/scoring';
import type { AttemptFailure, BreakerState, FallbackTarget, QosLevel } from '@iicp/scoring';
import { IicpLocalError, IicpProtocolError } from '@iicp/wire';
import type { NodeList, NodeSummary } from '@iicp/wire';
import { keylessRefusal, nodeCxKey, usableCxKey, type CxRecipient } from './cx.ts';
import type { DirectoryClient } from './directory.ts';
import { abortedError, isIicpError } from './errors.ts';
import type { IicpError } from './errors.ts';
import type { ResolvedOptions } from './options.ts';
import { applyRoutingProfile } from './routing-profile.ts';

/** Where one attempt goes. */
export interface Target {
  readonly nodeId: string | undefined;
  readonly endpoint: string;
  readonly local: boolean;
  /** The node's IICP-CX key: the payload is sealed to it (absent: plaintext, when allowed). */
  readonly cx?: CxRecipient;
}

interface RoutableNode {
  readonly node_id: string;
  readonly endpoint: string;
  readonly available: boolean;
  readonly score: number;
  readonly cx: CxRecipient | undefined;
}

/** What one attempt produced. */
export type AttemptResult<T> =
  | { readonly ok: true; readonly value: T }
  | {
      readonly ok: false;
      readonly failure: AttemptFailure;
      readonly error: IicpError;
      /** Override of the scoring decision for failures outside the node's control. */
      readonly action?: 'switch_now' | 'fail';
    };

/** Reported to `onAttempt` after every attempt (for metrics; never carries payloads). */
export interface AttemptInfo {
  readonly taskId: string;
  readonly attempt: number;
  readonly nodeId: string | undefined;
  readonly endpoint: string;
  readonly local: boolean;
  readonly ok: boolean;
  readonly errorCode?: string;
  /** Backoff scheduled before the next attempt (0 = switched at once, undefined = none). */
  readonly nextDelayMs?: number;
}

export interface RouteRequest {
  readonly taskId: string;
  readonly intent: string;
  readonly qos: QosLevel | undefined;
  readonly model: string | undefined;
  readonly signal: AbortSignal | undefined;
  readonly onAttempt: ((info: AttemptInfo) => void) | undefined;
}

/**
 * discover → filter → dispatch with retry, breaker and fallback (iicp-semantics.md §3.2,
 * §6.1, §7.1, §8; spec/decisions.md D-018): one `task_id` for every attempt, the
 * directory's order, the next node on each retry, backoff only where §6.1 asks for it,
 * an immediate switch on `capacity_exceeded` (§2.2).
 */
export class Router {
  readonly breakers: CircuitBreakers;
  private readonly tracked = new Set<string>();

  constructor(
    private readonly o: ResolvedOptions,
    private readonly directory: DirectoryClient,
  ) {
    this.breakers = new CircuitBreakers({ ...o.breaker, now: o.now });
  }

  breakerState(nodeId: string): BreakerState {
    return this.breakers.stateOf(nodeId);
  }

  /** Every node with a breaker on record and its state. */
  breakerStates(): Record<string, BreakerState> {
    const out: Record<string, BreakerState> = {};
    for (const id of this.tracked) {
      const s = this.breakers.stateOf(id);
      if (s === 'closed' && !this.breakers.isOpen(id)) {
        this.tracked.delete(id);
        continue;
      }
      out[id] = s;
    }
    return out;
  }

  async route<T>(
    req: RouteRequest,
    attempt: (target: Target, attemptNo: number) => Promise<AttemptResult<T>>,
  ): Promise<T> {
    const policy = retryPolicyFor(req.qos);
    let targets: readonly Target[] | AsyncIterator<Target>;
    if (this.o.dispatch === 'ticket') {
      targets = this.ticketTargets(req, policy.maxAttempts);
    } else {
      // A cached node list gives the chain at once, without a promise.
      const chain = this.discoverTargets(req, policy.maxAttempts);
      targets = Array.isArray(chain) ? chain : await chain;
    }
    const failures: AttemptFailure[] = [];
    let lastError: IicpError | undefined;
    let attemptNo = 0;
    let exhaustedRemote = false;
    // Discovery gives the whole chain at once: walked without an async iterator's hops.
    const list = Array.isArray(targets) ? (targets as readonly Target[]) : undefined;
    let index = 0;

    for (;;) {
      let target: Target;
      if (list) {
        if (index >= list.length) break;
        target = list[index++]!;
      } else {
        const next = await (targets as AsyncIterator<Target>).next();
        if (next.done) break;
        target = next.value;
      }
      if (req.signal?.aborted) throw abortedError(req.signal.reason);
      if (exhaustedRemote && !target.local) continue;
      if (
        !target.local &&
        target.nodeId !== undefined &&
        !this.breakers.tryAcquire(target.nodeId)
      ) {
        continue; // another call holds the half-open probe
      }
      attemptNo++;
      const result = await attempt(target, attemptNo);
      if (result.ok) {
        if (!target.local && target.nodeId !== undefined)
          this.breakers.recordSuccess(target.nodeId);
        req.onAttempt?.(this.info(req, target, attemptNo, true));
        return result.value;
      }
      if (result.failure.kind === 'aborted') {
        req.onAttempt?.(this.info(req, target, attemptNo, false, result.error.code));
        throw result.error;
      }
      const decision = classifyFailure(result.failure, req.qos);
      if (decision.breaker && !target.local && target.nodeId !== undefined) {
        this.breakers.recordFailure(target.nodeId);
        this.tracked.add(target.nodeId);
      }
      failures.push(result.failure);
      lastError = result.error;
      if (result.action === 'fail') {
        req.onAttempt?.(this.info(req, target, attemptNo, false, result.error.code));
        throw result.error;
      }
      const step = nextRetryStep(attemptNo, result.failure, this.o.random(), {
        policy,
        qos: req.qos ?? null,
      });
      if (!step.retry && step.reason === 'terminal') {
        req.onAttempt?.(this.info(req, target, attemptNo, false, result.error.code));
        throw result.error;
      }
      if (target.local) {
        req.onAttempt?.(this.info(req, target, attemptNo, false, result.error.code));
        break; // the local fallback is the last step of the chain (§8)
      }
      if (!step.retry) {
        // Attempts exhausted on remote nodes: only the local fallback may still run.
        exhaustedRemote = true;
        req.onAttempt?.(this.info(req, target, attemptNo, false, result.error.code, 0));
        continue;
      }
      const delayMs = result.action === 'switch_now' ? 0 : step.delayMs;
      req.onAttempt?.(this.info(req, target, attemptNo, false, result.error.code, delayMs));
      if (delayMs > 0) {
        try {
          await this.o.sleep(delayMs, req.signal);
        } catch (err) {
          throw abortedError(req.signal?.reason ?? err);
        }
      }
    }
    throw this.exhausted(req, failures, lastError, attemptNo);
  }

  private info(
    req: RouteRequest,
    t: Target,
    attempt: number,
    ok: boolean,
    errorCode?: string,
    nextDelayMs?: number,
  ): AttemptInfo {
    return {
      taskId: req.taskId,
      attempt,
      nodeId: t.nodeId,
      endpoint: t.endpoint,
      local: t.local,
      ok,
      ...(errorCode !== undefined ? { errorCode } : {}),
      ...(nextDelayMs !== undefined ? { nextDelayMs } : {}),
    };
  }

  /**
   * After the chain (§8 step 5): every attempt timed out → `timeout` (PROXY-TIMEOUT-02);
   * otherwise `no_available_node` (PROXY-ERR-02), never IICP-E033 once candidates existed.
   */
  private exhausted(
    req: RouteRequest,
    failures: readonly AttemptFailure[],
    last: IicpError | undefined,
    attempts: number,
  ): IicpProtocolError {
    const details = {
      task_id: req.taskId,
      attempts,
      ...(last ? { last_error: last.code } : {}),
    };
    const allTimeouts =
      failures.length > 0 &&
      failures.every(
        (f) =>
          f.kind === 'timeout' ||
          (f.kind === 'http' && (f.status === 504 || f.code === 'task_timeout')),
      );
    if (allTimeouts) {
      return new IicpProtocolError('timeout', 'every candidate node timed out', { details });
    }
    return new IicpProtocolError(
      'no_available_node',
      attempts === 0
        ? 'every candidate node is unavailable (open circuit breakers)'
        : 'every candidate node failed',
      { details },
    );
  }

  private localTarget(): Target | undefined {
    const lf = this.o.localFallback;
    return lf ? { nodeId: lf.nodeId, endpoint: lf.endpoint, local: true } : undefined;
  }

  private discoverTargets(req: RouteRequest, maxAttempts: number): Target[] | Promise<Target[]> {
    const local = this.localTarget();
    const profile = applyRoutingProfile([], this.o);
    if (profile.remoteForbidden) {
      if (!local) {
        throw new IicpProtocolError(
          'IICP-E033',
          'the sensitive routing profile sends no task to remote nodes and no local node is configured',
          { details: { intent: req.intent, routing_profile: this.o.routingProfile } },
        );
      }
      return this.targetsOf(req, [], maxAttempts, local);
    }
    const q = {
      ...(req.qos ? { qos: req.qos } : {}),
      ...(req.model ? { model: req.model } : {}),
      ...(req.signal ? { signal: req.signal } : {}),
    };
    const cached = this.directory.peek(req.intent, q);
    if (cached) return this.targetsOfList(req, cached, maxAttempts, local);
    return this.directory
      .discover(req.intent, q)
      .then((list) => this.targetsOfList(req, list, maxAttempts, local));
  }

  private targetsOfList(
    req: RouteRequest,
    list: NodeList,
    maxAttempts: number,
    local: Target | undefined,
  ): Target[] {
    if (list.nodes.length === 0 && !local) {
      throw new IicpProtocolError('IICP-E033', 'the directory has no node for this intent', {
        details: { intent: req.intent },
      });
    }
    const nodes = applyRoutingProfile(list.nodes, this.o).nodes;
    if (list.nodes.length > 0 && nodes.length === 0 && !local) {
      // "If a routing policy rejects every candidate, clients MUST fail before task submission."
      throw new IicpProtocolError(
        'IICP-E033',
        `no node for this intent passes the ${this.o.routingProfile} routing profile`,
        { details: { intent: req.intent, routing_profile: this.o.routingProfile } },
      );
    }
    return this.targetsOf(req, nodes, maxAttempts, local);
  }

  private targetsOf(
    req: RouteRequest,
    nodes: readonly NodeSummary[],
    maxAttempts: number,
    local: Target | undefined,
  ): Target[] {
    // A node without an id or endpoint cannot be called (a public-view list, say).
    const routable: RoutableNode[] = [];
    let keyless = 0;
    for (const n of nodes) {
      if (typeof n.node_id === 'string' && typeof n.endpoint === 'string' && n.endpoint !== '') {
        const cx = usableCxKey(n, this.o.now());
        // IICP-CX fails closed: a node without a usable key gets nothing unless allowed.
        if (!cx && !this.o.allowPlaintext) {
          keyless++;
          continue;
        }
        routable.push({
          node_id: n.node_id,
          endpoint: n.endpoint,
          available: n.available,
          score: n.score,
          cx,
        });
      }
    }
    if (routable.length === 0 && keyless > 0 && !local) throw keylessRefusal(req.intent, keyless);
    const usable = filterDirectoryOrder(routable, { isOpen: this.breakers.isOpen });
    const chain: FallbackTarget<RoutableNode>[] = fallbackOrder(usable, {
      maxAttempts,
      localFallback: local !== undefined,
    });
    return chain.map((step) =>
      step.kind === 'local'
        ? local!
        : {
            nodeId: step.node.node_id,
            endpoint: step.node.endpoint,
            local: false,
            ...(step.node.cx ? { cx: step.node.cx } : {}),
          },
    );
  }

  /**
   * Ticketed dispatch (iicp-dir.md §3.4): one directory-selected route per attempt,
   * excluding the prefixes that already failed (at most ten), then the local fallback.
   */
  private async *ticketTargets(req: RouteRequest, maxAttempts: number): AsyncGenerator<Target> {
    const excluded: string[] = [];
    let issued = 0;
    let asked = 0;
    let keyless = 0;
    while (issued < maxAttempts && asked < maxAttempts + 10) {
      asked++;
      let ticket;
      try {
        ticket = await this.directory.dispatchTicket(req.intent, req.qos, excluded, req.signal);
      } catch (err) {
        if (
          isIicpError(err) &&
          !(err instanceof IicpLocalError) &&
          (err.code === 'IICP-E033' || err.code === 'not_found' || err.status === 404)
        ) {
          if (issued === 0 && !this.o.localFallback) {
            if (keyless > 0) throw keylessRefusal(req.intent, keyless);
            throw new IicpProtocolError('IICP-E033', 'the directory has no node for this intent', {
              details: { intent: req.intent },
            });
          }
          break;
        }
        throw err;
      }
      const nodeId = ticket.route.node_id;
      excluded.push(ticket.node_id_prefix);
      if (this.breakers.isOpen(nodeId)) continue;
      const cx = nodeCxKey(ticket.route, this.o.now());
      if (!cx && !this.o.allowPlaintext) {
        keyless++;
        continue;
      }
      issued++;
      yield { nodeId, endpoint: ticket.route.endpoint, local: false, ...(cx ? { cx } : {}) };
    }
    const local = this.localTarget();
    if (issued === 0 && keyless > 0 && !local) throw keylessRefusal(req.intent, keyless);
    if (local) yield local;
  }
}
