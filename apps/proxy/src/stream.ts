import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { StreamDelta } from '@iicp/client';
import type { FastifyReply } from '@iicp/http';
import { toProxyFailure, type ProxyFailure } from './errors.ts';
import type { StartedStream } from './gateway.ts';
import { markAnswer } from './routes/common.ts';

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
 * Sends a started stream as the client protocol's stream, with the headers of a
 * model-produced answer ({@link markAnswer}). Each delta is written as soon
 * as the node produced it (no buffering here; `X-Accel-Buffering: no` asks reverse
 * proxies not to buffer either). A failure after the status line becomes the protocol's
 * in-band error event; a client that goes away aborts `signal`, which closes the
 * node's connection (the node takes that as cancellation).
 *
 * The reply still goes through `reply.send`, so the server's hooks apply as to any
 * answer (request id, `Server-Timing`, HTTP metrics, drain-time `Connection: close`);
 * what fastify pipes is a {@link StreamWriter}, which writes the frames to the response
 * itself instead of running them through `Readable.from` over an async generator and a
 * pipe (a tick or more per frame and a stream object per answer). The opening frame
 * and the first delta leave in one write, and so do the terminal delta, the closing
 * frames and the end of the chunked body.
 */
export function sendStream(
  reply: FastifyReply,
  started: StartedStream,
  format: StreamFormat,
  signal: AbortSignal,
): FastifyReply {
  markAnswer(reply, started.nodeId, started.taskId);
  return reply
    .code(200)
    .header('content-type', format.contentType)
    .header('cache-control', 'no-cache')
    .header('x-accel-buffering', 'no')
    .send(new StreamWriter(started, format, signal));
}

/**
 * What fastify's stream path needs of a payload (`pipe`, and the events
 * `stream.finished` watches: `end` once complete, `close` without `end` when destroyed
 * early, which fastify reports as a premature close as it did for a `Readable`).
 */
export class StreamWriter extends EventEmitter {
  private destroyed = false;
  private ended = false;

  constructor(
    private readonly started: StartedStream,
    private readonly format: StreamFormat,
    private readonly signal: AbortSignal,
  ) {
    super();
  }

  pipe<T extends NodeJS.WritableStream>(destination: T): T {
    void this.run(destination as unknown as ServerResponse);
    return destination;
  }

  pause(): this {
    return this;
  }

  resume(): this {
    return this;
  }

  /** Fastify calls this when the response closed before the stream ended. */
  destroy(): void {
    if (this.destroyed || this.ended) return;
    this.destroyed = true;
    process.nextTick(() => this.emit('close'));
  }

  private async run(res: ServerResponse): Promise<void> {
    const { started, format } = this;
    let outcome = 'ok';
    let text = '';
    try {
      text = format.start();
      // No first delta: the node's stream ended without one (the iterator is done).
      let final = true;
      if (started.first) {
        text += format.delta(started.first);
        final = started.first.is_final;
      }
      // After a terminal delta the iterator has nothing more: it is not asked again, and
      // that delta leaves with the closing frames.
      while (!final) {
        if (text) await this.write(res, text);
        text = '';
        const r = await started.rest.next();
        if (r.done) break;
        text = format.delta(r.value);
        final = r.value.is_final;
      }
      text += format.end();
    } catch (err) {
      if (this.signal.aborted) {
        outcome = 'aborted';
        text = '';
      } else {
        const f = toProxyFailure(err);
        outcome = f.code;
        text = format.error(f);
      }
    }
    if (!this.destroyed && !res.destroyed) {
      if (text) res.end(text);
      else res.end();
    }
    if (!this.destroyed) {
      this.ended = true;
      this.emit('end');
    }
    try {
      started.finish(outcome);
      await started.rest.return?.();
    } finally {
      if (this.ended) this.emit('close');
    }
  }

  /** One frame; waits for `drain` when the socket is backed up (or for the close). */
  private async write(res: ServerResponse, text: string): Promise<void> {
    if (this.destroyed || res.destroyed) return;
    if (res.write(text)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });
  }
}

/** One server-sent event; `event` is optional (OpenAI sends data-only events). */
export function sse(data: unknown, event?: string): string {
  const body = typeof data === 'string' ? data : JSON.stringify(data);
  return `${event ? `event: ${event}\n` : ''}data: ${body}\n\n`;
}
