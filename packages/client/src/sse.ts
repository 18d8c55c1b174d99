/**
 * Server-sent events reader (WHATWG HTML §9.2 "event stream" parsing). Hand-written
 * because the client may depend on nothing but its workspace packages and must run in
 * browsers: it splits lines on CRLF/LF/CR, joins `data:` lines with `\n`, ignores
 * comments, and dispatches on a blank line.
 */

import type { BodyReader } from './transport.ts';

export interface SseMessage {
  readonly event: string;
  readonly data: string;
  readonly id: string | undefined;
}

/** A web stream's reader as a {@link BodyReader} (cancel also releases the lock). */
function streamReader(body: ReadableStream<Uint8Array>): BodyReader {
  const r = body.getReader();
  return {
    read: () => r.read(),
    cancel: async () => {
      await r.cancel().catch(() => undefined);
      r.releaseLock();
    },
  };
}

/**
 * The event-stream parser itself, synchronous and pull-based: {@link push} a decoded
 * chunk, then take its events one at a time with {@link next} (undefined once the
 * chunk is used up). Parsing is lazy as in {@link readSse}: an event is handed out
 * before the rest of the chunk is looked at, so a too-large event later in the same
 * chunk throws only after the earlier ones were taken. Lets a reader that sits on top
 * (the lifecycle reader in client.ts) parse in its own loop instead of through another
 * async generator (a few microtask hops per event).
 */
export class SseParser {
  private buffer = '';
  private i = 0;
  private start = 0;
  private data: string[] = [];
  private dataLength = 0;
  private event = '';
  private id: string | undefined;
  private sawCr = false;

  constructor(private readonly maxEvent: number = 8 * 1024 * 1024) {}

  push(text: string): void {
    this.buffer += text;
  }

  next(): SseMessage | undefined {
    const buffer = this.buffer;
    for (let i = this.i; i < buffer.length; i++) {
      const c = buffer.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      // A CRLF pair counts as one line end.
      if (c === 10 && this.sawCr && i === this.start) {
        this.sawCr = false;
        this.start = i + 1;
        continue;
      }
      this.sawCr = c === 13;
      const line = buffer.slice(this.start, i);
      this.start = i + 1;
      if (line === '') {
        const data = this.data;
        const msg =
          data.length > 0
            ? { event: this.event || 'message', data: data.join('\n'), id: this.id }
            : undefined;
        this.data = [];
        this.dataLength = 0;
        this.event = '';
        if (msg) {
          this.i = i + 1;
          return msg;
        }
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') {
        this.dataLength += value.length;
        if (this.dataLength > this.maxEvent) throw new RangeError('server-sent event too large');
        this.data.push(value);
      } else if (field === 'event') this.event = value;
      else if (field === 'id' && !value.includes('\0')) this.id = value;
    }
    this.buffer = buffer.slice(this.start);
    this.i = this.buffer.length;
    this.start = 0;
    if (this.buffer.length > this.maxEvent) {
      throw new RangeError('server-sent event line too large');
    }
    return undefined;
  }
}

export async function* readSse(
  body: ReadableStream<Uint8Array> | BodyReader,
  opts: { readonly maxEventBytes?: number } = {},
): AsyncGenerator<SseMessage, void, undefined> {
  const reader = 'getReader' in body ? streamReader(body) : body;
  const decoder = new TextDecoder('utf-8');
  const parser = new SseParser(opts.maxEventBytes);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.push(decoder.decode(value, { stream: true }));
      for (let msg = parser.next(); msg !== undefined; msg = parser.next()) yield msg;
    }
  } finally {
    // Stops the body (and with it the connection) when the consumer leaves early.
    await reader.cancel().catch(() => undefined);
  }
}
