/**
 * Local errors of @iicp/codec. The codec cannot import @iicp/wire (it sits below it),
 * so it raises one class, `CodecError`, whose `code` says which protocol error the
 * caller should emit. `CODEC_ERROR_MAPPING` is that mapping as data: the HTTP layer
 * turns a code into a wire error body, the native transport into a CLOSE reason.
 */

/** Every code a `CodecError` may carry. */
export const CODEC_ERROR_CODES = [
  'unsupported_media_type',
  'json_invalid',
  'cbor_invalid',
  'cbor_non_deterministic',
  'payload_too_large',
  'value_unsupported',
  'frame_invalid',
] as const;

export type CodecErrorCode = (typeof CODEC_ERROR_CODES)[number];

/**
 * Why a native frame was refused (iicp-framing.md §2, §9.6, and the reject reasons of
 * research/native-ai-infrastructure/fixtures/native-framing-v1.json). Every value except
 * `invalid_magic`, `truncated_header` and `truncated_payload` is also the CLOSE reason
 * to send; on `invalid_magic` the connection is closed silently (§9.6: no CLOSE frame).
 */
export const FRAME_REJECT_REASONS = [
  'invalid_magic',
  'truncated_header',
  'truncated_payload',
  'frame_too_large',
  'invalid_version',
  'invalid_type',
  'unknown_type',
  'unsupported_extension',
  'invalid_frame',
] as const;

export type FrameRejectReason = (typeof FRAME_REJECT_REASONS)[number];

/** How a codec error surfaces on each transport. */
export interface CodecErrorMapping {
  /** HTTP status the HTTP layer answers with. */
  readonly httpStatus: number;
  /** Wire error code (`{"error":{"code":…}}`) for an HTTP answer. */
  readonly wireCode: string;
  /**
   * CLOSE reason on a native connection (iicp-framing.md §9.6); `null` when the error
   * cannot come from a native frame or, for frames, when `reason` is sent instead.
   */
  readonly closeReason: string | null;
  readonly meaning: string;
}

/**
 * The mapping from codec errors to protocol errors.
 * - 415 `unsupported_media_type`: iicp-cbor-wire.md §2.2.
 * - Malformed bodies are 400 `validation_error` (iicp-core.md §7 "bad request").
 * - Native CBOR: a decode failure is `cbor_decode_error`, a well-formed but
 *   non-deterministic payload (indefinite length, unsorted or duplicate keys,
 *   non-shortest head) is `invalid_payload` (iicp-framing.md §9.6, §10.6).
 * - `payload_too_large`: iicp-framing.md §2 (413 over HTTP).
 * - `value_unsupported` is a bug of the caller (a value with no wire form) and never a
 *   peer's fault, hence 500.
 */
export const CODEC_ERROR_MAPPING: Readonly<Record<CodecErrorCode, CodecErrorMapping>> = {
  unsupported_media_type: {
    httpStatus: 415,
    wireCode: 'unsupported_media_type',
    closeReason: null,
    meaning: 'Content-Type names an encoding this endpoint does not accept.',
  },
  json_invalid: {
    httpStatus: 400,
    wireCode: 'validation_error',
    closeReason: null,
    meaning: 'The body is not valid UTF-8 JSON.',
  },
  cbor_invalid: {
    httpStatus: 400,
    wireCode: 'validation_error',
    closeReason: 'cbor_decode_error',
    meaning: 'The body is not well-formed CBOR, or uses an item IICP does not allow.',
  },
  cbor_non_deterministic: {
    httpStatus: 400,
    wireCode: 'validation_error',
    closeReason: 'invalid_payload',
    meaning: 'Well-formed CBOR that breaks the deterministic rules of RFC 8949 §4.2.1.',
  },
  payload_too_large: {
    httpStatus: 413,
    wireCode: 'payload_too_large',
    closeReason: 'payload_too_large',
    meaning: 'The input exceeds the configured size or nesting limit.',
  },
  value_unsupported: {
    httpStatus: 500,
    wireCode: 'internal_error',
    closeReason: null,
    meaning: 'The value to encode has no IICP wire form (a local bug, not a peer error).',
  },
  frame_invalid: {
    httpStatus: 400,
    wireCode: 'validation_error',
    closeReason: null,
    meaning: 'A native frame header was refused; `reason` is the CLOSE reason.',
  },
};

/** A codec failure. Never crosses the wire itself: map it with `CODEC_ERROR_MAPPING`. */
export class CodecError extends Error {
  override readonly name = 'CodecError';
  readonly code: CodecErrorCode;
  /** For `frame_invalid` only: the precise refusal, which is also the CLOSE reason. */
  readonly reason: FrameRejectReason | undefined;
  /** Byte offset in the input where the problem was found, when known. */
  readonly offset: number | undefined;

  constructor(
    code: CodecErrorCode,
    message: string,
    opts: { reason?: FrameRejectReason; offset?: number; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.reason = opts.reason;
    this.offset = opts.offset;
  }
}

/** True for a `CodecError`, also across duplicated module instances. */
export function isCodecError(e: unknown): e is CodecError {
  return e instanceof CodecError || (e instanceof Error && e.name === 'CodecError');
}
