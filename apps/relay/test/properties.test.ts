import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HOP_BY_HOP_HEADERS } from '../src/constants.ts';
import { forwardableRequestHeaders, forwardableResponseHeaders } from '../src/headers.ts';
import { RelayBindRequestSchema, RelayResultRequestSchema, WorkerIdSchema } from '../src/wire.ts';

const headerName = fc.oneof(
  fc.constantFrom(...HOP_BY_HOP_HEADERS, 'Content-Type', 'X-Iicp-Relay-Session', 'x-ok'),
  fc.string({ maxLength: 20 }),
);

describe('relay: header filtering (properties)', () => {
  it('never forwards hop-by-hop or relay-internal response headers, never throws', () => {
    fc.assert(
      fc.property(fc.dictionary(headerName, fc.string({ maxLength: 40 })), (h) => {
        const out = forwardableResponseHeaders(h);
        for (const [k, v] of Object.entries(out)) {
          expect(HOP_BY_HOP_HEADERS.has(k)).toBe(false);
          expect(k.startsWith('x-iicp-relay-')).toBe(false);
          expect(k).toBe(k.toLowerCase());
          expect(v).not.toMatch(/[\r\n\0]/);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('drops request headers named by Connection and joins repeated values', () => {
    const out = forwardableRequestHeaders({
      connection: 'keep-alive, x-secret-hop',
      'x-secret-hop': 'a',
      'x-multi': ['a', 'b'],
      host: 'relay',
      'content-type': 'application/json',
    });
    expect(out).toEqual({ 'x-multi': 'a, b', 'content-type': 'application/json' });
  });
});

describe('relay: wire schemas (properties)', () => {
  it('worker ids are URL-safe: anything accepted survives encodeURIComponent unchanged', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 140 }), (s) => {
        if (WorkerIdSchema.safeParse(s).success) {
          expect(encodeURIComponent(s)).toBe(s);
          expect(s).not.toMatch(/^\./);
        }
      }),
      { numRuns: 500 },
    );
    expect(WorkerIdSchema.safeParse('2f1e8c4a-1b2c-4d3e-8f9a-0b1c2d3e4f5a').success).toBe(true);
    expect(WorkerIdSchema.safeParse('../x').success).toBe(false);
  });

  it('bind and result bodies: parsing arbitrary JSON never throws', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        RelayBindRequestSchema.safeParse(v);
        RelayResultRequestSchema.safeParse(v);
      }),
      { numRuns: 300 },
    );
  });

  it('a first result post needs a status; later chunks do not', () => {
    const base = { session_id: 'a'.repeat(22), request_id: 'b'.repeat(32) };
    expect(RelayResultRequestSchema.safeParse(base).success).toBe(false);
    expect(RelayResultRequestSchema.safeParse({ ...base, status: 200 }).success).toBe(true);
    expect(RelayResultRequestSchema.safeParse({ ...base, seq: 2, body_b64: '' }).success).toBe(
      true,
    );
  });
});
