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

export async function* readSse(
  body: ReadableStream<Uint8Array> | BodyReader,
  opts: { readonly maxEventBytes?: number } = {},
): AsyncGenerator<SseMessage, void, undefined> {
  const maxEvent = opts.maxEventBytes ?? 8 * 1024 * 1024;
  const reader = 'getReader' in body ? streamReader(body) : body;
  const decoder = new TextDecoder('utf-8');
  let buffer = '';
  let data: string[] = [];
  let dataLength = 0;
  let event = '';
  let id: string | undefined;
  let sawCr = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let start = 0;
      for (let i = 0; i < buffer.length; i++) {
        const c = buffer.charCodeAt(i);
        if (c !== 10 && c !== 13) continue;
        // A CRLF pair counts as one line end.
        if (c === 10 && sawCr && i === start) {
          sawCr = false;
          start = i + 1;
          continue;
        }
        sawCr = c === 13;
        const line = buffer.slice(start, i);
        start = i + 1;
        if (line === '') {
          if (data.length > 0) yield { event: event || 'message', data: data.join('\n'), id };
          data = [];
          dataLength = 0;
          event = '';
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') {
          dataLength += value.length;
          if (dataLength > maxEvent) throw new RangeError('server-sent event too large');
          data.push(value);
        } else if (field === 'event') event = value;
        else if (field === 'id' && !value.includes('\0')) id = value;
      }
      buffer = buffer.slice(start);
      if (buffer.length > maxEvent) throw new RangeError('server-sent event line too large');
    }
  } finally {
    // Stops the body (and with it the connection) when the consumer leaves early.
    await reader.cancel().catch(() => undefined);
  }
}
