import { Readable } from 'node:stream';
import type { StreamDelta } from '@iicp/client';
import type { FastifyReply } from '@iicp/http';
import { toProxyFailure, type ProxyFailure } from './errors.ts';
import type { StartedStream } from './gateway.ts';

/** How one client protocol writes a streamed answer. Each method returns wire text ('' = nothing). */
export interface StreamFormat {
  readonly contentType: string;
  /** Before the first delta (a role chunk, `message_start`, …). */
  start(): string;
  delta(d: StreamDelta): string;
  /** After the terminal delta (finish chunk, `[DONE]`, `message_stop`, …). */
  end(): string;
  /** The answer broke after the status line was sent: the protocol's in-band error. */
  error(f: ProxyFailure): string;
}

/**
 * Sends a started stream as the client protocol's stream. Each delta is written as soon
 * as the node produced it (no buffering here; `X-Accel-Buffering: no` asks reverse
 * proxies not to buffer either). A failure after the status line becomes the protocol's
 * in-band error event; a client that goes away aborts `signal`, which closes the
 * node's connection (the node takes that as cancellation).
 */
export function sendStream(
  reply: FastifyReply,
  started: StartedStream,
  format: StreamFormat,
  signal: AbortSignal,
): FastifyReply {
  async function* frames(): AsyncGenerator<string> {
    let outcome = 'ok';
    try {
      // The opening frame and the first delta leave in one write: the first token is
      // not held behind an extra chunk (same bytes on the wire).
      let head = format.start();
      if (started.first) head += format.delta(started.first);
      if (head) yield head;
      for (;;) {
        const r = await started.rest.next();
        if (r.done) break;
        const d = format.delta(r.value);
        if (d) yield d;
      }
      const e = format.end();
      if (e) yield e;
    } catch (err) {
      if (signal.aborted) {
        outcome = 'aborted';
      } else {
        const f = toProxyFailure(err);
        outcome = f.code;
        yield format.error(f);
      }
    } finally {
      started.finish(outcome);
      await started.rest.return?.();
    }
  }
  return reply
    .code(200)
    .header('content-type', format.contentType)
    .header('cache-control', 'no-cache')
    .header('x-accel-buffering', 'no')
    .send(Readable.from(frames(), { objectMode: false }));
}

/** One server-sent event; `event` is optional (OpenAI sends data-only events). */
export function sse(data: unknown, event?: string): string {
  const body = typeof data === 'string' ? data : JSON.stringify(data);
  return `${event ? `event: ${event}\n` : ''}data: ${body}\n\n`;
}
