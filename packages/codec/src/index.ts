// @iicp/codec: JSON and deterministic CBOR, media types and negotiation, native
// framing, canonical JSON forms. See README.md. Curated named exports only.
export {
  CODEC_ERROR_CODES,
  CODEC_ERROR_MAPPING,
  CodecError,
  FRAME_REJECT_REASONS,
  isCodecError,
  type CodecErrorCode,
  type CodecErrorMapping,
  type FrameRejectReason,
} from './errors.ts';
export { DEFAULT_JSON_MAX_BYTES, decodeJson, encodeJson } from './json.ts';
export {
  DEFAULT_CBOR_LIMITS,
  IICP_CBOR_TAGS,
  decodeCbor,
  encodeCbor,
  type CborDecodeOptions,
  type CborEncodeOptions,
  type IicpCborTag,
} from './cbor.ts';
export {
  validateCbor,
  type CborLimits,
  type CborStrictness,
  type CborValidateOptions,
} from './cbor-validate.ts';
export {
  MEDIA_TYPES,
  cborCodec,
  codecForMediaType,
  iicpCborCodec,
  jsonCodec,
  parseAccept,
  parseMediaType,
  selectRequestCodec,
  selectResponseCodec,
  type Codec,
  type DecodeLimits,
  type MediaType,
  type NegotiationOptions,
  type RequestCodecResult,
  type ResponseCodecChoice,
} from './media.ts';
export {
  CLOSE_REASONS,
  CUSTOM_TYPE_MAX,
  CUSTOM_TYPE_MIN,
  FRAGMENTATION_THRESHOLD_BYTES,
  FRAME_FLAGS,
  FRAME_HEADER_BYTES,
  FRAME_MAGIC,
  FRAMING_VERSION,
  FrameReader,
  MAX_CALL_INFLATED_BYTES,
  MAX_CALL_PAYLOAD_BYTES,
  MAX_FRAME_PAYLOAD_BYTES,
  MESSAGE_TYPES,
  checkFrameHeader,
  decodeFrame,
  encodeFrame,
  inflateFramePayload,
  readFrames,
  type CloseReason,
  type Frame,
  type FrameLimits,
  type MessageTypeName,
} from './framing.ts';
export {
  PyFloat,
  canonicalJsonJcs,
  canonicalJsonPython,
  canonicalJsonSortedCompact,
  pyFloat,
  pythonFloatRepr,
} from './canonical-json.ts';
