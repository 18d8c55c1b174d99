import { IicpProtocolError, type Qos } from '@iicp/wire';

type Priority = 'low' | 'normal' | 'high' | 'critical';

/** QoS class a CALL without `constraints.qos` is admitted under. */
export const DEFAULT_QOS: Qos = 'interactive';

/** Bounds of the retry hint (provider-admission profile: `retry_after_ms` 100–300000). */
export const RETRY_AFTER_MIN_MS = 100;
export const RETRY_AFTER_MAX_MS = 30_000;

export interface Slot {
  release(): void;
}

/**
 * The `max_concurrent` semaphore with QoS admission control (iicp-semantics.md §2.2):
 * a class whose slots are all taken is refused at once with 429 `capacity_exceeded`,
 * never queued. Priority ordering is by reservation: a quarter of the slots (rounded
 * down) is kept for `realtime`/`interactive` and `high`/`critical` work, so `batch`
 * and `best-effort` (and `low`) work can never take the last slots from them.
 */
export class Admission {
  readonly max: number;
  #active = 0;
  /** EWMA of task latency, the basis of `retry_after_ms`. */
  #avgLatencyMs = 1_000;

  constructor(maxConcurrent: number) {
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1)
      throw new RangeError('maxConcurrent must be ≥ 1');
    this.max = maxConcurrent;
  }

  get active(): number {
    return this.#active;
  }

  /** Slots a task of this class and priority may see occupied and still be admitted. */
  limitFor(qos: Qos, priority: Priority = 'normal'): number {
    const reserve = Math.floor(this.max / 4);
    let rank = qos === 'realtime' || qos === 'interactive' ? 0 : qos === 'batch' ? 1 : 2;
    if (priority === 'high' || priority === 'critical') rank -= 1;
    else if (priority === 'low') rank += 1;
    rank = Math.max(0, Math.min(2, rank));
    return Math.max(1, this.max - rank * reserve);
  }

  /** Take a slot or throw 429 `capacity_exceeded` with `qos_class` and `retry_after_ms`. */
  acquire(qos: Qos, priority: Priority = 'normal'): Slot {
    if (this.#active >= this.limitFor(qos, priority)) {
      throw new IicpProtocolError('capacity_exceeded', `no free slot for qos class ${qos}`, {
        details: { qos_class: qos, retry_after_ms: this.retryAfterMs() },
      });
    }
    this.#active += 1;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#active -= 1;
      },
    };
  }

  /** Feed a finished task's latency into the retry hint. */
  observe(latencyMs: number): void {
    this.#avgLatencyMs = this.#avgLatencyMs * 0.8 + latencyMs * 0.2;
  }

  retryAfterMs(): number {
    return Math.round(
      Math.min(RETRY_AFTER_MAX_MS, Math.max(RETRY_AFTER_MIN_MS, this.#avgLatencyMs)),
    );
  }
}
