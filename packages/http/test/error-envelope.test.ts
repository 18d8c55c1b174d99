import { CodecError, CODEC_ERROR_CODES } from '@iicp/codec';
import { errorInfo, IicpProtocolError } from '@iicp/wire';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { patternToRegExp, toErrorReply } from '../src/index.ts';

describe('toErrorReply', () => {
  it('only ever emits codes of the wire error table, with a 4xx/5xx status', () => {
    const thrown: unknown[] = [
      ...[400, 401, 402, 403, 404, 405, 406, 409, 413, 414, 415, 429, 431, 451, 499].map(
        (statusCode) => Object.assign(new Error('x'), { statusCode }),
      ),
      ...[
        'FST_ERR_CTP_BODY_TOO_LARGE',
        'FST_ERR_CTP_INVALID_MEDIA_TYPE',
        'FST_ERR_CTP_INVALID_CONTENT_LENGTH',
        'FST_ERR_CTP_EMPTY_JSON_BODY',
        'FST_ERR_CTP_INVALID_JSON_BODY',
        'FST_ERR_BAD_URL',
        'FST_ERR_MAX_PARAM_LENGTH',
        'FST_ERR_NOT_FOUND',
      ].map((code) => Object.assign(new Error('x'), { code })),
      ...CODEC_ERROR_CODES.map((c) => new CodecError(c, 'offset 12 of /srv/iicp/x')),
      z.object({ a: z.string() }).safeParse({}).error,
      { validation: [{ instancePath: '/a/0/b', message: 'bad' }] },
      new TypeError('x'),
      null,
      undefined,
      42,
    ];
    for (const t of thrown) {
      const r = toErrorReply(t);
      expect(errorInfo(r.body.error.code), String(r.body.error.code)).toBeDefined();
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(600);
      expect(JSON.stringify(r.body)).not.toMatch(/\/srv\/iicp\/|offset 12/);
    }
  });

  it('names the field of ajv-style validation errors', () => {
    const r = toErrorReply({
      validation: [
        { instancePath: '/caps/0', params: { missingProperty: 'intent' }, message: 'm' },
      ],
    });
    expect(r.body.error).toMatchObject({ code: 'validation_error', field: 'caps[0].intent' });
    expect(r.status).toBe(422);
  });

  it('never forwards the message of a non-protocol error', () => {
    fc.assert(
      fc.property(fc.string(), fc.option(fc.integer({ min: 100, max: 999 })), (msg, statusCode) => {
        const r = toErrorReply(
          Object.assign(new Error(`LEAK${msg}`), statusCode === null ? {} : { statusCode }),
        );
        expect(r.body.error.message).not.toContain('LEAK');
        expect(r.status).toBeGreaterThanOrEqual(400);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps a protocol error as it is', () => {
    const e = new IicpProtocolError('IICP-E036', 'no credit', { details: { needed: 3 } });
    expect(toErrorReply(e)).toMatchObject({
      status: 402,
      body: { error: { code: 'IICP-E036', needed: 3 } },
    });
  });
});

describe('patternToRegExp', () => {
  it('matches find-my-way patterns', () => {
    expect(patternToRegExp('/v1/nodes/:id').test('/v1/nodes/abc')).toBe(true);
    expect(patternToRegExp('/v1/nodes/:id').test('/v1/nodes/abc/x')).toBe(false);
    expect(patternToRegExp('/v1/n/:id(^\\d+$)').test('/v1/n/12')).toBe(true);
    expect(patternToRegExp('/v1/n/:id(^\\d+$)').test('/v1/n/ab')).toBe(false);
    expect(patternToRegExp('/static/*').test('/static/a/b.css')).toBe(true);
    expect(patternToRegExp('/a.b').test('/aXb')).toBe(false);
  });
});
