import { EventEmitter } from 'node:events';
import type { StreamDelta } from '@iicp/client';
import { describe, expect, it } from 'vitest';
import type { StartedStream } from '../src/gateway.ts';
import { StreamWriter, type StreamFormat } from '../src/stream.ts';

/** A response that reports a full buffer on the writes listed in `full`. */
class FakeResponse extends EventEmitter {
  readonly writes: string[] = [];
  ended: string | undefined;
  destroyed = false;
  constructor(private readonly full: ReadonlySet<number>) {
    super();
  }
  write(text: string): boolean {
    this.writes.push(text);
    return !this.full.has(this.writes.length);
  }
  end(text?: string): void {
    this.ended = text ?? '';
  }
}

const delta = (n: number, final = false): StreamDelta => ({
  task_id: 't',
  sequence: n,
  event: final ? 'completed' : 'partial',
  is_final: final,
  result: undefined,
  text: `d${n}`,
  node_id: undefined,
});

const format: StreamFormat = {
  contentType: 'text/plain',
  start: () => '<',
  delta: (d) => d.text ?? '',
  end: () => '>',
  error: (f) => `!${f.code}`,
};

function started(rest: StreamDelta[], outcomes: string[]): StartedStream {
  let i = 0;
  let returned = false;
  return {
    first: delta(0),
    rest: {
      next: async () =>
        i < rest.length ? { done: false, value: rest[i++]! } : { done: true, value: undefined },
      return: async () => {
        returned = true;
        return { done: true, value: undefined };
      },
    },
    nodeId: undefined,
    taskId: 't',
    finish: (o) => outcomes.push(`${o}${returned ? ' after return' : ''}`),
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('StreamWriter', () => {
  it('waits for drain after a full write, then goes on; the last delta leaves with the end', async () => {
    const res = new FakeResponse(new Set([2]));
    const outcomes: string[] = [];
    const w = new StreamWriter(
      started([delta(1), delta(2), delta(3, true)], outcomes),
      format,
      new AbortController().signal,
    );
    const events: string[] = [];
    w.on('end', () => events.push('end'));
    w.on('close', () => events.push('close'));
    w.pipe(res as never);
    for (let i = 0; i < 5; i++) await tick();
    // '<d0' then 'd1' (full): nothing more until the response drains.
    expect(res.writes).toEqual(['<d0', 'd1']);
    expect(res.ended).toBeUndefined();
    res.emit('drain');
    for (let i = 0; i < 5; i++) await tick();
    expect(res.writes).toEqual(['<d0', 'd1', 'd2']);
    expect(res.ended).toBe('d3>');
    expect(outcomes).toEqual(['ok']);
    expect(events).toEqual(['end', 'close']);
  });

  it('a response closed while waiting for drain stops the writes; destroy() closes without end', async () => {
    const res = new FakeResponse(new Set([1]));
    const outcomes: string[] = [];
    const ctl = new AbortController();
    const w = new StreamWriter(started([delta(1), delta(2, true)], outcomes), format, ctl.signal);
    const events: string[] = [];
    w.on('end', () => events.push('end'));
    w.on('close', () => events.push('close'));
    w.pipe(res as never);
    await tick();
    expect(res.writes).toEqual(['<d0']);
    res.destroyed = true;
    w.destroy();
    ctl.abort();
    res.emit('close');
    for (let i = 0; i < 5; i++) await tick();
    expect(res.writes).toEqual(['<d0']);
    expect(res.ended).toBeUndefined();
    expect(events).toEqual(['close']);
    expect(outcomes).toHaveLength(1);
  });
});
