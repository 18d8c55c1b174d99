// @iicp/wire: the public API, as a curated list of named exports.

export {
  ERROR_TABLE,
  ErrorBodySchema,
  IicpLocalError,
  IicpProtocolError,
  errorInfo,
  isIicpProtocolError,
  isKnownErrorCode,
} from './errors.ts';
export type {
  ErrorBody,
  ErrorCode,
  ErrorCodeInfo,
  ErrorDetails,
  ErrorFamily,
  ErrorSide,
} from './errors.ts';
export { formatFieldPath, parseWire, safeParseWire, validationErrorFromZod } from './validate.ts';
export type { WireParseResult } from './validate.ts';
export { INTENT_REGISTRY, activeIntents, getIntent, isRegisteredIntent } from './registry/index.ts';
export type { KnownIntentUrn } from './registry/index.ts';
export {
  INTENT_KINDS,
  INTENT_STATUSES,
  IntentKindSchema,
  IntentRegistryDocumentSchema,
  IntentRegistryEntrySchema,
  IntentStatusSchema,
} from './registry/entry.ts';
export type {
  IntentKind,
  IntentRegistryDocument,
  IntentRegistryEntry,
  IntentStatus,
} from './registry/entry.ts';
export {
  ACTIVE_PAYLOAD_SCHEMAS,
  ANY_JSON_OUTPUT_SCHEMA_NAME,
  AnyJsonOutputSchema,
  AudioSpeechInputSchema,
  AudioSpeechOutputSchema,
  AudioTranscribeInputSchema,
  AudioTranscribeOutputSchema,
  CHAT_ROLES,
  ChatMessageSchema,
  LlmChatInputSchema,
  LlmChatOutputSchema,
  LlmCompletionInputSchema,
  LlmCompletionOutputSchema,
  LlmEmbeddingInputSchema,
  LlmEmbeddingOutputSchema,
  OPEN_INPUT_SCHEMA_NAME,
  OpenInputSchema,
  SPEECH_FORMATS,
  SafetyModerateInputSchema,
  SafetyModerateOutputSchema,
  TRANSCRIBE_LANGUAGE_PATTERN,
  hasPayloadContract,
  parseIntentPayload,
  payloadSchemasFor,
  validateIntentPayload,
} from './registry/payloads.ts';
export type {
  AudioSpeechInput,
  AudioSpeechOutput,
  AudioTranscribeInput,
  AudioTranscribeOutput,
  ChatMessage,
  IntentPayloadCheck,
  LlmChatInput,
  LlmChatOutput,
  LlmCompletionInput,
  LlmCompletionOutput,
  LlmEmbeddingInput,
  LlmEmbeddingOutput,
  PayloadDirection,
  PayloadSchemaPair,
  SafetyModerateInput,
  SafetyModerateOutput,
} from './registry/payloads.ts';
