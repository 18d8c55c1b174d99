import fc from 'fast-check';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  FRAME_HEADER_BYTES,
  FrameReader,
  MAX_FRAME_PAYLOAD_BYTES,
  MESSAGE_TYPES,
  checkFrameHeader,
  decodeFrame,
  encodeFrame,
  inflateFramePayload,
  isCodecError,
  readFrames,
  type Frame,
} from '../src/index.ts';
import { FRAME_ROOM_BYTES, encodeCbor } from '../src/cbor.ts';
import { hex, readSpecBytes, readSpecJson, sha256Hex, unhex } from './spec-files.ts';

const FIXTURE_DIR = 'research/native-ai-infrastructure/fixtures';

interface Scenario {
  name: string;
  wire_hex: string;
  expected:
    | {
        outcome: 'accept';
        version: number;
        message_type: number;
        flags: number;
        payload_hex: string;
        consumed: number;
      }
    | { outcome: 'reject'; reason: string };
}

const fixture = readSpecJson<{ scenarios: Scenario[] }>(`${FIXTURE_DIR}/native-framing-v1.json`);

function rejection(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (isCodecError(e) && e.code === 'frame_invalid') return e.reason;
    throw e;
  }
  return undefined;
}

describe('native-framing-v1.json', () => {
  it('matches the sha256 pinned by the manifest', () => {
    const manifest = readSpecJson<{ fixtures: { path: string; sha256: string }[] }>(
      `${FIXTURE_DIR}/native-framing-fixture-manifest-v1.json`,
    );
    const entry = manifest.fixtures.find((f) => f.path === 'native-framing-v1.json');
    expect(entry?.sha256).toBe('e73a871c069f194c42716f462d2bde04fb79d769e1e98249c2d17c9af50bcfc1');
    expect(sha256Hex(readSpecBytes(`${FIXTURE_DIR}/native-framing-v1.json`))).toBe(entry?.sha256);
  });

  it('has the 7 scenarios', () => {
    expect(fixture.scenarios).toHaveLength(7);
  });

  for (const s of fixture.scenarios) {
    it(`decodeFrame: ${s.name}`, () => {
      const wire = unhex(s.wire_hex);
      if (s.expected.outcome === 'accept') {
        const { frame, consumed } = decodeFrame(wire);
        expect(frame.version).toBe(s.expected.version);
        expect(frame.type).toBe(s.expected.message_type);
        expect(frame.flags).toBe(s.expected.flags);
        expect(hex(frame.payload)).toBe(s.expected.payload_hex);
        expect(consumed).toBe(s.expected.consumed);
      } else {
        expect(rejection(() => decodeFrame(wire))).toBe(s.expected.reason);
      }
    });

    it(`FrameReader byte by byte: ${s.name}`, () => {
      const wire = unhex(s.wire_hex);
      const reader = new FrameReader();
      const frames: Frame[] = [];
      const reason = rejection(() => {
        for (const b of wire) frames.push(...reader.push(Uint8Array.of(b)));
        reader.end();
      });
      if (s.expected.outcome === 'accept') {
        expect(reason).toBeUndefined();
        expect(frames).toHaveLength(1);
        expect(frames[0]!.type).toBe(s.expected.message_type);
        expect(hex(frames[0]!.payload)).toBe(s.expected.payload_hex);
      } else {
        expect(reason).toBe(s.expected.reason);
      }
    });
  }
});

describe('encodeFrame', () => {
  it('writes the 12-byte header with a big-endian length and a zero reserved byte', () => {
    const f = encodeFrame({ type: MESSAGE_TYPES.CALL, payload: unhex('a10101') });
    expect(hex(f)).toBe('494943500105000000000003a10101');
    expect(hex(encodeFrame({ type: MESSAGE_TYPES.PING }))).toBe('494943500109000000000000');
    const big = encodeFrame({
      type: MESSAGE_TYPES.RESPONSE,
      payload: new Uint8Array(0x010203),
      flags: 1,
    });
    expect(hex(big.subarray(0, FRAME_HEADER_BYTES))).toBe('494943500106010000010203');
  });

  it('refuses payloads above 16 MiB and non-byte header fields', () => {
    expect(
      rejection(() =>
        encodeFrame({ type: 5, payload: new Uint8Array(MAX_FRAME_PAYLOAD_BYTES + 1) }),
      ),
    ).toBe('frame_too_large');
    expect(() => encodeFrame({ type: 256 })).toThrow(/must be bytes/);
  });
});

describe('encodeFrame around the latest encodeCbor result (header written into its room)', () => {
  /** The frame built the general way: a header, then a copy of the payload. */
  function copied(type: number, payload: Uint8Array, flags = 0): string {
    return hex(encodeFrame({ type, payload: Uint8Array.from(payload), flags }));
  }

  it('keeps the room as big as a frame header', () => {
    expect(FRAME_ROOM_BYTES).toBe(FRAME_HEADER_BYTES);
  });

  it('gives the bytes of the copying path, and leaves the payload and older frames intact', () => {
    const valueArb = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.string(), fc.integer())),
      fc.uint8Array({ maxLength: 6000 }),
      fc.array(fc.string({ maxLength: 3000 }), { maxLength: 8 }),
    );
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            value: valueArb,
            type: fc.constantFrom(MESSAGE_TYPES.CALL, MESSAGE_TYPES.RESPONSE, 0xf0),
            flags: fc.integer({ min: 0, max: 7 }),
            // Frame the payload again, or frame an older one, after this one.
            again: fc.boolean(),
            older: fc.nat(),
          }),
          { minLength: 1, maxLength: 8 },
        ),
        (steps) => {
          const made: { frame: Uint8Array; expected: string; payload: Uint8Array; p: string }[] =
            [];
          for (const s of steps) {
            const payload = encodeCbor(s.value);
            const p = hex(payload);
            const frame = encodeFrame({ type: s.type, payload, flags: s.flags });
            made.push({ frame, expected: copied(s.type, payload, s.flags), payload, p });
            if (s.again) {
              const t = s.type === MESSAGE_TYPES.CALL ? MESSAGE_TYPES.RESPONSE : MESSAGE_TYPES.CALL;
              const second = encodeFrame({ type: t, payload });
              made.push({ frame: second, expected: copied(t, payload), payload, p });
            }
            const old = made[s.older % made.length]!;
            const refr = encodeFrame({ type: MESSAGE_TYPES.CALL, payload: old.payload });
            made.push({
              frame: refr,
              expected: copied(MESSAGE_TYPES.CALL, old.payload),
              payload: old.payload,
              p: old.p,
            });
          }
          for (const m of made) {
            expect(hex(m.frame)).toBe(m.expected);
            expect(hex(m.payload)).toBe(m.p);
            const [f] = new FrameReader().push(m.frame);
            expect(hex(f!.payload)).toBe(m.p);
          }
        },
      ),
      { numRuns: 300, seed: 20261207 },
    );
  });

  it('frames the latest result without a copy, and only once', () => {
    const payload = encodeCbor({ task_id: 'x', n: 1 });
    const frame = encodeFrame({ type: MESSAGE_TYPES.CALL, payload });
    expect(frame.buffer).toBe(payload.buffer);
    expect(frame.byteOffset + FRAME_HEADER_BYTES).toBe(payload.byteOffset);
    const again = encodeFrame({ type: MESSAGE_TYPES.RESPONSE, payload });
    expect(again.buffer).not.toBe(payload.buffer);
    expect(hex(frame.subarray(0, 6))).toBe('494943500105');
    expect(hex(again.subarray(0, 6))).toBe('494943500106');
  });
});

describe('frame limits', () => {
  it('refuses an oversize length from the header alone, before any payload arrives', () => {
    const reader = new FrameReader();
    expect(rejection(() => reader.push(unhex('4949435001090000ffffffff')))).toBe('frame_too_large');
    // The reader stays failed: the connection must close.
    expect(rejection(() => reader.push(new Uint8Array(1)))).toBe('frame_too_large');
    expect(rejection(() => decodeFrame(unhex('494943500105000001000001')))).toBe('frame_too_large');
  });

  it('applies a lower configured cap', () => {
    expect(
      rejection(() => decodeFrame(unhex('494943500105000000000003a10101'), { maxPayloadBytes: 2 })),
    ).toBe('frame_too_large');
  });

  it('refuses a wrong magic byte as soon as it arrives', () => {
    const reader = new FrameReader();
    expect(reader.push(unhex('4949'))).toEqual([]);
    expect(rejection(() => reader.push(unhex('44')))).toBe('invalid_magic');
  });
});

describe('checkFrameHeader (§9.6 dispositions above the decoder)', () => {
  const p = (type: number, len = 1, version = 1) => ({
    type,
    version,
    payload: new Uint8Array(len),
  });
  it('classifies type, version and empty CALL/RESPONSE', () => {
    expect(checkFrameHeader(p(MESSAGE_TYPES.CALL))).toBeUndefined();
    expect(checkFrameHeader(p(MESSAGE_TYPES.PING, 0))).toBeUndefined();
    expect(checkFrameHeader(p(MESSAGE_TYPES.CALL, 0))).toBe('invalid_frame');
    expect(checkFrameHeader(p(MESSAGE_TYPES.RESPONSE, 0))).toBe('invalid_frame');
    expect(checkFrameHeader(p(0x00))).toBe('invalid_type');
    expect(checkFrameHeader(p(0xff))).toBe('invalid_type');
    expect(checkFrameHeader(p(0x0f))).toBe('unknown_type');
    expect(checkFrameHeader(p(0xef))).toBe('unknown_type');
    expect(checkFrameHeader(p(0xf0))).toBe('unsupported_extension');
    expect(checkFrameHeader(p(0xf0), { negotiatedCustomTypes: new Set([0xf0]) })).toBeUndefined();
    expect(checkFrameHeader(p(5, 1, 0))).toBe('invalid_version');
    expect(checkFrameHeader(p(5, 1, 2))).toBe('version_mismatch');
  });

  it('reads the version from the low nibble only', () => {
    expect(decodeFrame(unhex('494943500109000000000000')).frame.version).toBe(1);
    expect(decodeFrame(unhex('494943501109000000000000')).frame.version).toBe(1);
  });
});

const frameArb = fc.record({
  type: fc.integer({ min: 0, max: 255 }),
  flags: fc.integer({ min: 0, max: 255 }),
  payload: fc.uint8Array({ maxLength: 300 }),
});

describe('FrameReader properties', () => {
  it('yields the same frames for any chunking of a concatenated stream', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (frames, cutSeeds) => {
          const stream = Buffer.concat(frames.map((f) => encodeFrame(f)));
          const cuts = [
            ...new Set(cutSeeds.map((c) => (stream.length === 0 ? 0 : c % stream.length))),
          ].sort((a, b) => a - b);
          const reader = new FrameReader();
          const out: Frame[] = [];
          let prev = 0;
          for (const c of [...cuts, stream.length]) {
            out.push(...reader.push(stream.subarray(prev, c)));
            prev = c;
          }
          reader.end();
          expect(reader.bufferedBytes).toBe(0);
          expect(
            out.map((f) => ({ type: f.type, flags: f.flags, payload: hex(f.payload) })),
          ).toEqual(frames.map((f) => ({ type: f.type, flags: f.flags, payload: hex(f.payload) })));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reads a whole chunk in place exactly as it reads the same bytes one at a time', () => {
    const run = (stream: Uint8Array, byByte: boolean, maxPayloadBytes: number) => {
      const reader = new FrameReader({ maxPayloadBytes });
      const out: string[] = [];
      try {
        const parts = byByte ? Array.from(stream, (b) => Uint8Array.of(b)) : [stream];
        for (const p of parts) {
          for (const f of reader.push(p)) {
            out.push(`${f.version}/${f.type}/${f.flags}/${hex(f.payload)}`);
          }
        }
        out.push(`buffered ${reader.bufferedBytes}`);
      } catch (e) {
        if (!isCodecError(e)) throw e;
        // Frames completed before the error depend on the chunking; the error does not.
        return [`error ${e.code} ${e.reason ?? ''} ${e.message}`];
      }
      return out;
    };
    fc.assert(
      fc.property(
        fc.array(frameArb, { maxLength: 5 }),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 400 }),
        (frames, at, byte, damage, cap) => {
          const stream = Buffer.concat(frames.map((f) => encodeFrame(f)));
          if (damage && stream.length > 0) stream[at % stream.length] = byte;
          expect(run(stream, false, cap)).toEqual(run(stream, true, cap));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reports a stream cut inside a frame as truncated', () => {
    fc.assert(
      fc.property(frameArb, fc.nat(), (f, cut) => {
        const wire = encodeFrame(f);
        const at = cut % wire.length; // strictly inside the frame
        const reader = new FrameReader();
        expect(reader.push(wire.subarray(0, at))).toEqual([]);
        if (at === 0) {
          expect(() => reader.end()).not.toThrow();
        } else {
          expect(rejection(() => reader.end())).toBe(
            at < FRAME_HEADER_BYTES ? 'truncated_header' : 'truncated_payload',
          );
        }
      }),
      { numRuns: 300 },
    );
  });

  it('readFrames reads from an async source and rejects a cut-off stream', async () => {
    const wire = Buffer.concat([
      encodeFrame({ type: MESSAGE_TYPES.PING }),
      encodeFrame({ type: MESSAGE_TYPES.CALL, payload: unhex('a10101') }),
    ]);
    async function* chunks(b: Uint8Array) {
      for (let i = 0; i < b.length; i += 5) yield b.subarray(i, i + 5);
    }
    const got: number[] = [];
    for await (const f of readFrames(chunks(wire))) got.push(f.type);
    expect(got).toEqual([MESSAGE_TYPES.PING, MESSAGE_TYPES.CALL]);
    await expect(async () => {
      for await (const _ of readFrames(chunks(wire.subarray(0, wire.length - 1)))) void _;
    }).rejects.toMatchObject({ code: 'frame_invalid', reason: 'truncated_payload' });
  });
});

describe('inflateFramePayload', () => {
  it('passes uncompressed payloads through and inflates COMPRESSED ones', async () => {
    const raw = unhex('a10101');
    expect(await inflateFramePayload({ flags: 0, payload: raw })).toBe(raw);
    expect(hex(await inflateFramePayload({ flags: 1, payload: gzipSync(raw) }))).toBe('a10101');
  });

  it('stops at the inflate limit and refuses corrupt gzip', async () => {
    const bomb = gzipSync(new Uint8Array(1 << 20));
    await expect(
      inflateFramePayload({ flags: 1, payload: bomb }, { maxBytes: 1000 }),
    ).rejects.toMatchObject({
      code: 'payload_too_large',
    });
    await expect(
      inflateFramePayload({ flags: 1, payload: unhex('00112233') }),
    ).rejects.toMatchObject({
      code: 'cbor_invalid',
    });
  });
});
