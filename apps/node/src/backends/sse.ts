import { StringDecoder } from 'node:string_decoder';

/**
 * Incremental line splitting for streamed backend replies: SSE (`data:` lines,
 * OpenAI and Anthropic) and NDJSON (Ollama). Written by hand because the wire
 * formats are tiny and the hot path must not copy the whole stream: each chunk is
 * decoded once and only the unfinished tail line is kept between chunks.
 */
export class LineSplitter {
  readonly #decoder = new StringDecoder('utf8');
  #tail = '';

  /** Feed one chunk; returns the complete lines it finished (without line ends). */
  push(chunk: Buffer | string): string[] {
    const text = this.#tail + (typeof chunk === 'string' ? chunk : this.#decoder.write(chunk));
    const lines: string[] = [];
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      lines.push(text.slice(start, end));
      start = nl + 1;
    }
    this.#tail = text.slice(start);
    return lines;
  }

  /** The last line when the stream ended without a newline. */
  end(): string[] {
    const rest = this.#tail + this.#decoder.end();
    this.#tail = '';
    return rest.length > 0 ? [rest.replace(/\r$/, '')] : [];
  }

  /** Characters held back waiting for a newline (bounded by the caller). */
  get pending(): number {
    return this.#tail.length;
  }
}

/** One server-sent event (https://html.spec.whatwg.org/multipage/server-sent-events.html). */
export interface SseEvent {
  event: string;
  data: string;
}

/**
 * SSE parser over {@link LineSplitter}: collects `event:` and `data:` fields and
 * emits an event at each blank line; comments (`:`) and `id:`/`retry:` are ignored.
 */
export class SseParser {
  readonly #lines = new LineSplitter();
  #event = '';
  #data: string[] = [];

  push(chunk: Buffer | string): SseEvent[] {
    return this.#consume(this.#lines.push(chunk));
  }

  end(): SseEvent[] {
    const out = this.#consume(this.#lines.end());
    if (this.#data.length > 0) out.push(this.#flush());
    return out;
  }

  get pending(): number {
    return this.#lines.pending;
  }

  #consume(lines: string[]): SseEvent[] {
    const out: SseEvent[] = [];
    for (const line of lines) {
      if (line === '') {
        if (this.#data.length > 0) out.push(this.#flush());
        else this.#event = '';
        continue;
      }
      if (line.charCodeAt(0) === 58 /* ':' */) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.charCodeAt(0) === 32) value = value.slice(1);
      if (field === 'data') this.#data.push(value);
      else if (field === 'event') this.#event = value;
    }
    return out;
  }

  #flush(): SseEvent {
    const ev = { event: this.#event || 'message', data: this.#data.join('\n') };
    this.#event = '';
    this.#data = [];
    return ev;
  }
}
