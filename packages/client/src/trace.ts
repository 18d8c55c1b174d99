/**
 * Trace context (iicp-semantics.md §10.1; spec/decisions.md D-006): the client generates
 * `trace_id` as 32 lowercase hex (16 bytes) so it maps onto W3C `traceparent`
 * (TRACE-04), sends it in the CALL body and as `X-IICP-Trace-Id`, and accepts any
 * 1–64 character id a caller supplies.
 */

const HEX32 = /^[0-9a-f]{32}$/;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
/** Random bytes fetched 1 KiB at a time: one `getRandomValues` per 42 calls, not per id. */
const pool = new Uint8Array(1024);
let poolAt = pool.length;

function randomHex(bytes: number): string {
  if (poolAt + bytes > pool.length) {
    globalThis.crypto.getRandomValues(pool);
    poolAt = 0;
  }
  let s = '';
  for (let i = poolAt; i < poolAt + bytes; i++) s += HEX[pool[i]!];
  // Each byte is handed out once: never reuse randomness across ids.
  pool.fill(0, poolAt, poolAt + bytes);
  poolAt += bytes;
  return s;
}

/** A fresh 16-byte trace id, never all zeros (W3C Trace Context §3.2.2.3). */
export function newTraceId(): string {
  let id = randomHex(16);
  while (id === '0'.repeat(32)) id = randomHex(16);
  return id;
}

/** Whether a caller-supplied trace id is acceptable on the wire (1–64 printable ASCII). */
export function isValidTraceId(id: unknown): id is string {
  return typeof id === 'string' && /^[\x21-\x7e]{1,64}$/.test(id);
}

/** The trace id of a W3C `traceparent`, if it is one. */
export function traceIdFromTraceparent(header: string): string | undefined {
  const m = TRACEPARENT.exec(header.trim());
  return m && m[1] !== '0'.repeat(32) ? m[1] : undefined;
}

/** A `traceparent` for a hop of this trace, when the id has the W3C shape. */
export function traceparentFor(traceId: string): string | undefined {
  return HEX32.test(traceId) ? `00-${traceId}-${randomHex(8)}-01` : undefined;
}
