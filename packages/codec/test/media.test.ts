import { describe, expect, it } from 'vitest';
import {
  CODEC_ERROR_CODES,
  CODEC_ERROR_MAPPING,
  MEDIA_TYPES,
  cborCodec,
  codecForMediaType,
  decodeJson,
  iicpCborCodec,
  isCodecError,
  jsonCodec,
  parseAccept,
  selectRequestCodec,
  selectResponseCodec,
} from '../src/index.ts';

describe('media types', () => {
  it('names the three types', () => {
    expect(MEDIA_TYPES).toEqual({
      json: 'application/json',
      cbor: 'application/cbor',
      iicpCbor: 'application/iicp+cbor',
    });
  });

  it('maps Content-Type (with parameters, any case) to a codec', () => {
    expect(codecForMediaType('application/json; charset=utf-8')).toBe(jsonCodec);
    expect(codecForMediaType('Application/IICP+CBOR')).toBe(iicpCborCodec);
    expect(codecForMediaType('application/cbor')).toBe(cborCodec);
    expect(codecForMediaType('application/iicp+json')).toBe(jsonCodec);
    expect(codecForMediaType('text/plain')).toBeUndefined();
    expect(codecForMediaType('garbage')).toBeUndefined();
  });

  it('codecs round-trip a task envelope', () => {
    const task = {
      task_id: 'x',
      payload: { prompt: 'hi', n: 1.5 },
      constraints: { timeout_ms: 5000 },
    };
    for (const c of [jsonCodec, cborCodec, iicpCborCodec]) {
      expect(c.decode(c.encode(task))).toEqual(task);
    }
    expect(() => jsonCodec.decode(jsonCodec.encode(task), { maxBytes: 5 })).toThrow(/exceeds/);
  });
});

describe('selectRequestCodec', () => {
  it('reads a missing Content-Type as JSON', () => {
    expect(selectRequestCodec(undefined)).toEqual({ ok: true, codec: jsonCodec });
    expect(selectRequestCodec('')).toEqual({ ok: true, codec: jsonCodec });
  });

  it('gives unsupported_media_type (415) for other types and for CBOR when CBOR is off', () => {
    const r = selectRequestCodec('text/plain');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('unsupported_media_type');
      expect(CODEC_ERROR_MAPPING[r.error.code].httpStatus).toBe(415);
    }
    const off = selectRequestCodec('application/iicp+cbor', { cbor: false });
    expect(off.ok).toBe(false);
    if (!off.ok) expect(off.error.message).toBe('CBOR encoding not supported');
    expect(selectRequestCodec('application/iicp+cbor')).toEqual({ ok: true, codec: iicpCborCodec });
  });
});

describe('selectResponseCodec', () => {
  it('answers in the request type when Accept is missing or a wildcard', () => {
    expect(selectResponseCodec(undefined).codec).toBe(jsonCodec);
    expect(selectResponseCodec(undefined, { requestMediaType: MEDIA_TYPES.iicpCbor }).codec).toBe(
      iicpCborCodec,
    );
    expect(selectResponseCodec('*/*', { requestMediaType: MEDIA_TYPES.cbor }).codec).toBe(
      cborCodec,
    );
    expect(selectResponseCodec('application/*', { requestMediaType: MEDIA_TYPES.json }).codec).toBe(
      jsonCodec,
    );
  });

  it("follows the spec client's Accept: CBOR preferred, JSON at q=0.9", () => {
    const accept = 'application/iicp+cbor, application/json;q=0.9';
    expect(selectResponseCodec(accept).codec).toBe(iicpCborCodec);
    expect(selectResponseCodec(accept, { cbor: false }).codec).toBe(jsonCodec);
  });

  it('keeps CBOR for a CBOR request unless Accept excludes it', () => {
    const cborReq = { requestMediaType: MEDIA_TYPES.iicpCbor } as const;
    expect(selectResponseCodec('application/json;q=0.5, */*;q=0.5', cborReq).codec).toBe(
      iicpCborCodec,
    );
    expect(selectResponseCodec('application/json', cborReq).codec).toBe(jsonCodec);
    expect(selectResponseCodec('application/iicp+cbor;q=0, */*', cborReq).codec).not.toBe(
      iicpCborCodec,
    );
  });

  it('falls back to JSON, flagged, when nothing offered is acceptable', () => {
    expect(selectResponseCodec('text/html')).toEqual({ codec: jsonCodec, acceptable: false });
    expect(selectResponseCodec('application/json;q=0')).toEqual({
      codec: jsonCodec,
      acceptable: false,
    });
  });

  it('parses q-values and ignores malformed ranges', () => {
    expect(parseAccept('application/json;q=0.9, bad, text/*;q=2, */*;Q=0.1')).toEqual([
      { type: 'application', subtype: 'json', q: 0.9 },
      { type: '*', subtype: '*', q: 0.1 },
    ]);
  });
});

describe('error mapping', () => {
  it('documents every code', () => {
    for (const c of CODEC_ERROR_CODES) expect(CODEC_ERROR_MAPPING[c]).toBeDefined();
    expect(Object.keys(CODEC_ERROR_MAPPING).sort()).toEqual([...CODEC_ERROR_CODES].sort());
  });

  it('JSON decode errors are json_invalid and never quote the payload', () => {
    try {
      decodeJson('{"secret-canary": ');
      expect.unreachable();
    } catch (e) {
      expect(isCodecError(e) && e.code).toBe('json_invalid');
      expect(String((e as Error).message)).not.toContain('canary');
      expect((e as Error).cause).toBeUndefined();
    }
    try {
      decodeJson(Uint8Array.of(0x22, 0xff, 0x22));
      expect.unreachable();
    } catch (e) {
      expect(isCodecError(e) && e.code).toBe('json_invalid');
    }
  });
});
