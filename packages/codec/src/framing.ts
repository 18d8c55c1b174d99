import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { takeFrameRoom } from './cbor.ts';
import { CodecError, type FrameRejectReason } from './errors.ts';

const gunzipAsync = promisify(gunzip);

/** Magic bytes, ASCII "IICP" (iicp-framing.md §1.2). */
export const FRAME_MAGIC: Uint8Array = Uint8Array.of(0x49, 0x49, 0x43, 0x50);
/** "Total header size: 12 bytes" (iicp-framing.md §1.1). */
export const FRAME_HEADER_BYTES = 12;
/** Framing version byte, "Current value: 0x01" (iicp-framing.md §1.2). */
export const FRAMING_VERSION = 1;
/** "Maximum single frame: 16,777,216 bytes (16 MiB)", payload length (iicp-framing.md §2). */
export const MAX_FRAME_PAYLOAD_BYTES = 16_777_216;
/** "Maximum CALL payload (compressed): 1,048,576 bytes (1 MiB)" (iicp-framing.md §2). */
export const MAX_CALL_PAYLOAD_BYTES = 1_048_576;
/** "Maximum CALL payload (uncompressed): 33,554,432 bytes (32 MiB)" (iicp-framing.md §2). */
export const MAX_CALL_INFLATED_BYTES = 33_554_432;
/** "Fragmentation threshold: 65,536 bytes" (iicp-framing.md §2, §10.1). */
export const FRAGMENTATION_THRESHOLD_BYTES = 65_536;

/** Core message types (iicp-framing.md §3). */
export const MESSAGE_TYPES = {
  INIT: 0x01,
  ACK: 0x02,
  DISCOVER: 0x03,
  SUB_PROTOCOL: 0x04,
  CALL: 0x05,
  RESPONSE: 0x06,
  CLOSE: 0x07,
  FEEDBACK: 0x08,
  PING: 0x09,
  PONG: 0x0a,
  CONTROL: 0x0b,
  ADVERTISE: 0x0c,
  OBSERVE: 0x0d,
  TELEMETRY: 0x0e,
} as const;

export type MessageTypeName = keyof typeof MESSAGE_TYPES;

/** The CUSTOM range 0xF0–0xFE (iicp-framing.md §3, §7.1). */
export const CUSTOM_TYPE_MIN = 0xf0;
export const CUSTOM_TYPE_MAX = 0xfe;

/**
 * Flag bits (iicp-framing.md §1.2 Flags; CONF_ENCRYPTED from iicp-confidentiality.md).
 * Unknown bits are ignored on receive.
 */
export const FRAME_FLAGS = {
  COMPRESSED: 0x01,
  FRAGMENTED: 0x02,
  CONF_ENCRYPTED: 0x04,
} as const;

/**
 * CLOSE reasons (iicp-framing.md §4.8 standard list, plus the codes of the §9.6
 * disposition table and the §9.7 version negotiation table). ASCII, ≤ 64 bytes.
 */
export const CLOSE_REASONS = [
  'graceful',
  'unknown_type',
  'unsupported_extension',
  'frame_too_large',
  'payload_too_large',
  'version_mismatch',
  'version_too_old',
  'auth_failed',
  'idle_timeout',
  'protocol_error',
  'invalid_frame',
  'read_timeout',
  'invalid_version',
  'invalid_type',
  'cbor_decode_error',
  'invalid_payload',
  'fragment_timeout',
  'fragment_limit_exceeded',
  'reassembly_limit_exceeded',
  'init_timeout',
] as const;

export type CloseReason = (typeof CLOSE_REASONS)[number];

/** A decoded frame. `payload` is a view into the input where possible (no copy). */
export interface Frame {
  /** Version, low nibble of byte 4 (the upper nibble is ignored on receive, §1.2). */
  readonly version: number;
  readonly type: number;
  /** Flags byte as received, unknown bits included. */
  readonly flags: number;
  readonly payload: Uint8Array;
}

export interface FrameLimits {
  /** Largest accepted payload length; default and ceiling `MAX_FRAME_PAYLOAD_BYTES`. */
  readonly maxPayloadBytes?: number;
}

function reject(reason: FrameRejectReason, message: string): never {
  throw new CodecError('frame_invalid', `frame: ${message}`, { reason });
}

function maxPayload(limits: FrameLimits): number {
  return Math.min(limits.maxPayloadBytes ?? MAX_FRAME_PAYLOAD_BYTES, MAX_FRAME_PAYLOAD_BYTES);
}

/**
 * Encodes one frame: magic, version, type, flags, reserved 0x00, u32 big-endian payload
 * length, payload (iicp-framing.md §1). Throws `CodecError('frame_invalid',
 * reason 'frame_too_large')` above the 16 MiB cap.
 *
 * When `payload` is the latest result of `encodeCbor`, framed for the first time, the
 * header is written into room `encodeCbor` left before it, and the frame is a view that
 * contains the payload's memory instead of a copy of it (the same bytes either way).
 */
export function encodeFrame(frame: {
  type: number;
  payload?: Uint8Array;
  flags?: number;
  version?: number;
}): Uint8Array {
  const payload = frame.payload ?? new Uint8Array(0);
  if (payload.length > MAX_FRAME_PAYLOAD_BYTES) {
    reject(
      'frame_too_large',
      `payload of ${payload.length} bytes exceeds ${MAX_FRAME_PAYLOAD_BYTES}`,
    );
  }
  const type = frame.type;
  const flags = frame.flags ?? 0;
  const version = frame.version ?? FRAMING_VERSION;
  if (!isByte(type) || !isByte(flags) || !isByte(version) || version > 0x0f) {
    throw new CodecError(
      'value_unsupported',
      'frame: type, flags and version must be bytes (version ≤ 15)',
    );
  }
  // The latest encodeCbor result has room for the header before it: the frame is then
  // written around the payload, without a copy. Otherwise every byte is written below,
  // so an unzeroed (pooled, for small frames) buffer is safe.
  const room = takeFrameRoom(payload);
  const out: Uint8Array = room ?? Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  out[0] = 0x49; // "IICP" (FRAME_MAGIC)
  out[1] = 0x49;
  out[2] = 0x43;
  out[3] = 0x50;
  out[4] = version;
  out[5] = type;
  out[6] = flags;
  out[7] = 0;
  // u32 big-endian, by hand: a DataView per frame costs more than the rest of the header.
  const n = payload.length;
  out[8] = n >>> 24;
  out[9] = (n >>> 16) & 0xff;
  out[10] = (n >>> 8) & 0xff;
  out[11] = n & 0xff;
  if (room === undefined) out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

function isByte(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xff;
}

/**
 * Checks the first bytes of a header: magic, then the length cap before any payload
 * is buffered (§2 "before allocating"). Returns the payload length, or -1 if fewer
 * than 12 bytes are available (after checking the magic bytes that are).
 */
function readHeaderLength(head: Uint8Array, limits: FrameLimits): number {
  return readHeaderLengthAt(head, 0, head.length, limits);
}

/** `readHeaderLength` of the `avail` bytes of `b` from `at`, without a view. */
function readHeaderLengthAt(b: Uint8Array, at: number, avail: number, limits: FrameLimits): number {
  const n = Math.min(avail, 4);
  for (let i = 0; i < n; i++) {
    if (b[at + i] !== FRAME_MAGIC[i]) reject('invalid_magic', 'bad magic bytes');
  }
  if (avail < FRAME_HEADER_BYTES) return -1;
  const length =
    ((b[at + 8]! << 24) >>> 0) + ((b[at + 9]! << 16) | (b[at + 10]! << 8) | b[at + 11]!);
  const max = maxPayload(limits);
  if (length > max) reject('frame_too_large', `payload length ${length} exceeds ${max}`);
  return length;
}

function frameFrom(header: Uint8Array, payload: Uint8Array): Frame {
  return { version: header[4]! & 0x0f, type: header[5]!, flags: header[6]!, payload };
}

/**
 * Decodes the frame at the start of `bytes` (bytes after it are left alone; see
 * `consumed`). Like the decode contract of native-framing-v1.json, it validates magic
 * and length only: the reserved byte and unknown flag bits are ignored, and message
 * type and version are checked by `checkFrameHeader`. Throws `CodecError('frame_invalid')`
 * with reason `invalid_magic`, `truncated_header`, `frame_too_large` or
 * `truncated_payload`.
 */
export function decodeFrame(
  bytes: Uint8Array,
  limits: FrameLimits = {},
): { frame: Frame; consumed: number } {
  const length = readHeaderLength(bytes, limits);
  if (length < 0)
    reject('truncated_header', `${bytes.length} of ${FRAME_HEADER_BYTES} header bytes`);
  const end = FRAME_HEADER_BYTES + length;
  if (bytes.length < end) {
    reject('truncated_payload', `${bytes.length - FRAME_HEADER_BYTES} of ${length} payload bytes`);
  }
  return { frame: frameFrom(bytes, bytes.subarray(FRAME_HEADER_BYTES, end)), consumed: end };
}

/**
 * Header checks that belong above the frame decoder (iicp-framing.md §9.6): returns the
 * CLOSE reason to send, or undefined when the frame may be processed.
 * - version 0 → `invalid_version`; above `maxVersion` → `version_mismatch`;
 * - type 0x00 / 0xFF → `invalid_type`; 0x0F–0xEF → `unknown_type`; a CUSTOM type not
 *   negotiated in INIT/ACK → `unsupported_extension`;
 * - an empty CALL or RESPONSE → `invalid_frame` (PING/PONG may be empty).
 */
export function checkFrameHeader(
  frame: Pick<Frame, 'version' | 'type' | 'payload'>,
  opts: { maxVersion?: number; negotiatedCustomTypes?: ReadonlySet<number> } = {},
): FrameRejectReason | 'version_mismatch' | undefined {
  if (frame.version === 0) return 'invalid_version';
  if (frame.version > (opts.maxVersion ?? FRAMING_VERSION)) return 'version_mismatch';
  const t = frame.type;
  if (t === 0x00 || t === 0xff) return 'invalid_type';
  if (t >= 0x0f && t < CUSTOM_TYPE_MIN) return 'unknown_type';
  if (
    t >= CUSTOM_TYPE_MIN &&
    t <= CUSTOM_TYPE_MAX &&
    !(opts.negotiatedCustomTypes?.has(t) ?? false)
  ) {
    return 'unsupported_extension';
  }
  if ((t === MESSAGE_TYPES.CALL || t === MESSAGE_TYPES.RESPONSE) && frame.payload.length === 0) {
    return 'invalid_frame';
  }
  return undefined;
}

/** The empty rest of a chunk read whole. */
const NO_BYTES = new Uint8Array(0);

/**
 * Incremental frame decoder for a byte stream cut at arbitrary points. `push` takes a
 * chunk and returns the frames it completed. Errors are thrown as soon as they are
 * knowable: a wrong magic byte on its arrival, an oversize length as soon as the header
 * is complete and before the payload is buffered (iicp-framing.md §2, §9.5). After an
 * error the reader is unusable (the connection must close). `end()` reports a
 * stream that stopped inside a frame.
 */
export class FrameReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  /** Offset into chunks[0] of the first unread byte. */
  private offset = 0;
  private pendingLength = -1;
  private failed: CodecError | undefined;

  constructor(private readonly limits: FrameLimits = {}) {}

  /** Bytes received but not yet returned as part of a frame. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Uint8Array): Frame[] {
    if (this.failed !== undefined) throw this.failed;
    const frames: Frame[] = [];
    if (this.buffered === 0 && chunk.length > 0) {
      try {
        chunk = this.whole(chunk, frames);
      } catch (e) {
        this.failed = e as CodecError;
        throw e;
      }
    }
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    try {
      // Nothing buffered (every frame of the chunk read in place): nothing to look at.
      while (this.buffered > 0) {
        if (this.pendingLength < 0) {
          const head = this.peek(Math.min(this.buffered, FRAME_HEADER_BYTES));
          this.pendingLength = readHeaderLength(head, this.limits);
          if (this.pendingLength < 0) break;
        }
        if (this.buffered < FRAME_HEADER_BYTES + this.pendingLength) break;
        const header = this.take(FRAME_HEADER_BYTES);
        const payload = this.take(this.pendingLength);
        this.pendingLength = -1;
        frames.push(frameFrom(header, payload));
      }
    } catch (e) {
      this.failed = e as CodecError;
      throw e;
    }
    return frames;
  }

  /**
   * Nothing buffered: the frames that lie whole in `chunk` are read in place (views,
   * as `take` gives), the same checks in the same order; returns the rest.
   */
  private whole(chunk: Uint8Array, frames: Frame[]): Uint8Array {
    const n = chunk.length;
    let off = 0;
    while (off < n) {
      const length = readHeaderLengthAt(chunk, off, n - off, this.limits);
      if (length < 0 || n - off < FRAME_HEADER_BYTES + length) break;
      const start = off + FRAME_HEADER_BYTES;
      frames.push({
        version: chunk[off + 4]! & 0x0f,
        type: chunk[off + 5]!,
        flags: chunk[off + 6]!,
        payload: length === 0 ? new Uint8Array(0) : chunk.subarray(start, start + length),
      });
      off = start + length;
    }
    // Consumed whole (the common case): no empty view of the chunk is made for the rest.
    return off === 0 ? chunk : off === n ? NO_BYTES : chunk.subarray(off);
  }

  /** Call when the stream ends: throws `truncated_header`/`truncated_payload` on leftovers. */
  end(): void {
    if (this.failed !== undefined) throw this.failed;
    if (this.buffered === 0) return;
    if (this.buffered < FRAME_HEADER_BYTES) {
      reject('truncated_header', `stream ended after ${this.buffered} header bytes`);
    }
    reject('truncated_payload', 'stream ended inside a frame payload');
  }

  /** The next n buffered bytes without consuming them (copied only across chunks). */
  private peek(n: number): Uint8Array {
    const first = this.chunks[0];
    if (first === undefined || n === 0) return NO_BYTES;
    if (first.length - this.offset >= n) return first.subarray(this.offset, this.offset + n);
    const out = new Uint8Array(n);
    let filled = 0;
    let off = this.offset;
    for (const c of this.chunks) {
      const part = c.subarray(off, Math.min(c.length, off + n - filled));
      out.set(part, filled);
      filled += part.length;
      off = 0;
      if (filled === n) break;
    }
    return out;
  }

  /** Consumes n buffered bytes (n ≤ buffered); a view when they sit in one chunk. */
  private take(n: number): Uint8Array {
    const first = this.chunks[0];
    if (n === 0 || first === undefined) return new Uint8Array(0);
    let out: Uint8Array;
    if (first.length - this.offset >= n) {
      out = first.subarray(this.offset, this.offset + n);
      this.offset += n;
    } else {
      out = new Uint8Array(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0]!;
        const part = c.subarray(this.offset, Math.min(c.length, this.offset + n - filled));
        out.set(part, filled);
        filled += part.length;
        this.offset += part.length;
        if (this.offset === c.length) {
          this.chunks.shift();
          this.offset = 0;
        }
      }
    }
    if (this.chunks[0] !== undefined && this.offset === this.chunks[0].length) {
      this.chunks.shift();
      this.offset = 0;
    }
    this.buffered -= n;
    return out;
  }
}

/** Reads frames from an async byte source (a socket); rejects on a bad or cut-off stream. */
export async function* readFrames(
  source: AsyncIterable<Uint8Array>,
  limits: FrameLimits = {},
): AsyncGenerator<Frame, void, undefined> {
  const reader = new FrameReader(limits);
  for await (const chunk of source) {
    yield* reader.push(chunk);
  }
  reader.end();
}

/**
 * The payload of a frame, inflated when the COMPRESSED flag is set. The flag covers the
 * whole payload (spec/decisions.md D-047, iicp-framing.md §1.2) and the body is gzip.
 * Inflation stops at `maxBytes` (default 32 MiB, iicp-framing.md §2) and throws
 * `CodecError('payload_too_large')`; a corrupt gzip stream is `cbor_invalid` (the CLOSE
 * reason is then `cbor_decode_error`, as for any undecodable payload).
 */
export async function inflateFramePayload(
  frame: Pick<Frame, 'flags' | 'payload'>,
  opts: { maxBytes?: number } = {},
): Promise<Uint8Array> {
  if ((frame.flags & FRAME_FLAGS.COMPRESSED) === 0) return frame.payload;
  const max = opts.maxBytes ?? MAX_CALL_INFLATED_BYTES;
  try {
    return await gunzipAsync(frame.payload, { maxOutputLength: max });
  } catch (cause) {
    if ((cause as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new CodecError('payload_too_large', `inflated payload exceeds ${max} bytes`);
    }
    throw new CodecError('cbor_invalid', 'compressed payload is not valid gzip', { cause });
  }
}
