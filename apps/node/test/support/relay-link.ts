/**
 * Shared pieces of the relay-worker link tests: hand-driven timers, a fake directory
 * (tickets and relay discovery), a log sink, a port nothing listens on, and a wait for
 * streamed text to reach the consumer.
 */
import { createServer } from 'node:net';
import type { RelayTimers } from '../../src/relay/link.ts';
import type { TicketOutcome } from '../../src/relay/directory.ts';
import type { RelayCandidate } from '../../src/relay/wire.ts';
import type { StreamedResult } from './scripted-relay.ts';

/** Timers the test fires by hand: no real waiting, no timed assertions. */
export class ManualTimers implements RelayTimers {
  pending: { fn: () => void; ms: number }[] = [];
  #waiters: (() => void)[] = [];
  setTimeout(fn: () => void, ms: number): unknown {
    const h = { fn, ms };
    this.pending.push(h);
    for (const w of this.#waiters.splice(0)) w();
    return h;
  }
  clearTimeout(h: unknown): void {
    this.pending = this.pending.filter((p) => p !== h);
  }
  /** Wait for the next scheduled timer and return its delay (without firing it). */
  async next(): Promise<number> {
    while (this.pending.length === 0) await new Promise<void>((r) => this.#waiters.push(r));
    return this.pending[0]!.ms;
  }
  fire(): void {
    this.pending.shift()?.fn();
  }
}

/** A directory that issues `outcome` as the ticket (recording each ask) and lists `relays`. */
export function fakeDirectory(relays: RelayCandidate[] = []) {
  return {
    relays,
    tickets: [] as { nodeId: string; token: string }[],
    outcome: { ticket: 'ticket-1' } as TicketOutcome,
    async relayTicket(nodeId: string, token: string): Promise<TicketOutcome> {
      this.tickets.push({ nodeId, token });
      return this.outcome;
    },
    async discoverRelays(): Promise<RelayCandidate[]> {
      return this.relays;
    },
  };
}

/** A RelayLog that keeps the message of every line. */
export function logSink() {
  const lines: string[] = [];
  return {
    lines,
    info: (_o: object, m: string) => void lines.push(m),
    warn: (_o: object, m: string) => void lines.push(m),
  };
}

/** A loopback port that was free a moment ago: connecting to it is refused. */
export function closedPort(): Promise<number> {
  return new Promise((r) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => r(port));
    });
  });
}

/** The streamed body received so far. */
export function streamedText(out: StreamedResult): string {
  return Buffer.concat(out.chunks).toString();
}

/** Resolve once the consumer of a streamed result has received `text`. */
export async function untilReceived(out: StreamedResult, text: string): Promise<void> {
  while (!streamedText(out).includes(text)) await new Promise((r) => out.once('chunk', r));
}
