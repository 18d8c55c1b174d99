/**
 * A purpose-built load generator for streamed answers (autocannon only sees whole
 * responses): `connections` workers on keep-alive sockets, each sending the next
 * request when its previous stream ended, timing the first byte that carries the
 * first token and the end of the stream.
 */
import { Agent, request } from 'node:http';
import { Samples, type Latency } from './harness.ts';

export interface StreamLoadOptions {
  readonly url: string;
  readonly headers?: Record<string, string>;
  readonly body: string;
  readonly connections: number;
  readonly durationS?: number;
  readonly amount?: number;
  /** Text that marks the first token in the stream. */
  readonly firstMarker: string;
  /** Text that a complete stream contains (the last token). */
  readonly lastMarker: string;
  /**
   * Milliseconds each worker waits after an answer before it sends its next request
   * (default 0: at once). With a pause the chain is idle when a call arrives, as it is
   * for a caller that does something between calls.
   */
  readonly pauseMs?: number;
}

export interface StreamLoadResult {
  readonly requests: number;
  readonly rps: number;
  readonly ttft: Latency;
  readonly ttlt: Latency;
  readonly errors: number;
}

function one(
  agent: Agent,
  url: URL,
  opts: StreamLoadOptions,
): Promise<{ ttft: number; ttlt: number } | undefined> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let ttft = -1;
    let text = '';
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(opts.body),
          ...opts.headers,
        },
      },
      (res) => {
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (ttft < 0) {
            text += d;
            if (text.includes(opts.firstMarker)) ttft = performance.now() - t0;
          } else if (text.length < 65_536) text += d;
        });
        res.on('end', () => {
          const ok = res.statusCode === 200 && ttft >= 0 && text.includes(opts.lastMarker);
          resolve(ok ? { ttft, ttlt: performance.now() - t0 } : undefined);
        });
        res.on('error', () => resolve(undefined));
      },
    );
    req.on('error', () => resolve(undefined));
    req.end(opts.body);
  });
}

/** Accumulators that also receive every sample of a run (to merge rounds). */
export interface StreamSamples {
  readonly ttft: Samples;
  readonly ttlt: Samples;
}

export async function streamLoad(
  opts: StreamLoadOptions,
  into?: StreamSamples,
): Promise<StreamLoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.connections });
  const url = new URL(opts.url);
  const ttft = new Samples();
  const ttlt = new Samples();
  let errors = 0;
  let started = 0;
  const t0 = performance.now();
  const deadline = t0 + (opts.durationS ?? 5) * 1000;
  const more = (): boolean =>
    opts.amount !== undefined ? started < opts.amount : performance.now() < deadline;
  const worker = async (): Promise<void> => {
    while (more()) {
      started += 1;
      const r = await one(agent, url, opts);
      if (r) {
        ttft.push(r.ttft);
        ttlt.push(r.ttlt);
        into?.ttft.push(r.ttft);
        into?.ttlt.push(r.ttlt);
      } else errors += 1;
      if (opts.pauseMs) await new Promise((r) => setTimeout(r, opts.pauseMs));
    }
  };
  await Promise.all(Array.from({ length: opts.connections }, worker));
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  return {
    requests: ttft.length + errors,
    rps: ttft.length / seconds,
    ttft: ttft.summary(),
    ttlt: ttlt.summary(),
    errors,
  };
}
