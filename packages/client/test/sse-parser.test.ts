import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SseParser, type SseMessage } from '../src/sse.ts';

/**
 * The event-stream algorithm written out plainly (WHATWG HTML §9.2): the whole text at
 * once, split into lines on CRLF, LF or CR; a line left without an end is not processed.
 */
function reference(text: string): SseMessage[] {
  const out: SseMessage[] = [];
  const lines = text.split(/\r\n|\r|\n/);
  lines.pop(); // the unterminated rest
  let data: string[] = [];
  let event = '';
  let id: string | undefined;
  for (const line of lines) {
    if (line === '') {
      if (data.length > 0) out.push({ event: event || 'message', data: data.join('\n'), id });
      data = [];
      event = '';
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
    else if (field === 'id' && !value.includes('\0')) id = value;
  }
  return out;
}

function drain(p: SseParser, into: SseMessage[]): void {
  for (let m = p.next(); m !== undefined; m = p.next()) into.push(m);
}

describe('SseParser', () => {
  it('over any split of the text yields what the plain algorithm yields (fixed seed)', () => {
    const line = fc.oneof(
      fc.constantFrom('', ':', ': comment', 'event: partial', 'event', 'id: 7', 'id', 'retry: 10'),
      fc.string({ maxLength: 12 }).map((s) => `data: ${s.replace(/[\r\n]/g, '')}`),
      fc.string({ maxLength: 8 }).map((s) => `data:${s.replace(/[\r\n]/g, '')}`),
      fc.constant('data'),
    );
    const ending = fc.constantFrom('\n', '\r\n', '\r');
    fc.assert(
      fc.property(
        fc.array(fc.tuple(line, ending), { maxLength: 24 }),
        fc.string({ maxLength: 6 }).map((s) => s.replace(/[\r\n]/g, '')),
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 8 }),
        (lines, tail, cuts) => {
          const text = lines.map(([l, e]) => l + e).join('') + tail;
          const parser = new SseParser();
          const got: SseMessage[] = [];
          for (let at = 0, k = 0; at < text.length; k++) {
            const n = cuts[k % cuts.length]!;
            parser.push(text.slice(at, at + n));
            drain(parser, got);
            at += n;
          }
          expect(got).toEqual(reference(text));
        },
      ),
      { seed: 20261207, numRuns: 1_000 },
    );
  });

  it('hands out the events before a too-large one in the same chunk, then throws', () => {
    const parser = new SseParser(8);
    parser.push('data: a\n\ndata: b\n\ndata: 0123456789\n\n');
    expect(parser.next()).toEqual({ event: 'message', data: 'a', id: undefined });
    expect(parser.next()).toEqual({ event: 'message', data: 'b', id: undefined });
    expect(() => parser.next()).toThrow(RangeError);
  });

  it('throws on an unterminated line longer than the limit', () => {
    const parser = new SseParser(8);
    parser.push('data: 0123456789');
    expect(() => parser.next()).toThrow('server-sent event line too large');
  });
});
