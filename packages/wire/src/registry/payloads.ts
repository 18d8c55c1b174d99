import { z } from 'zod';
import { parseWire, safeParseWire } from '../validate.ts';
import type { IicpProtocolError } from '../errors.ts';

/*
 * Task payload schemas per intent (iicp-core.md §3.1: `payload` is "intent-specific;
 * passed through to inference backend"). The facts (field names, types, ranges,
 * required fields) come from the spec's registry schemas (registry/schemas/*.json of
 * registry 1.4.0). Input objects stay open to extension, as the spec's are: extra
 * fields are kept, never stripped, so backend-specific options pass through.
 *
 * registry/schemas/*.json in this repository is generated from these schemas
 * (tools/checks/src/generate-registry.ts); edit here, then `npm run registry:generate`.
 */

// ── Shared pieces ─────────────────────────────────────────────────────────────

/** A string, or a non-empty list of strings (embedding and moderation `input`). */
const TextOrTextsSchema = z.union([z.string(), z.array(z.string()).min(1)]);

/** Positive token count (`max_tokens`, minimum 1). */
const MaxTokensSchema = z.int().min(1);

/** A zero-based position in a result list. */
const IndexSchema = z.int().min(0);

/** A JSON object whose shape this registry leaves open (`usage`, a chat `message`). */
const AnyObjectSchema = z.looseObject({});

/** Why a generation stopped; `null` while unknown. */
const FinishReasonSchema = z.string().nullable();

/** Roles a chat message may carry (llm-chat-v1 input). */
export const CHAT_ROLES = ['system', 'user', 'assistant', 'tool'] as const;

// ── urn:iicp:intent:llm:chat:v1 ──────────────────────────────────────────────

/** One chat turn; `content` is required but its shape is left to the backend (text or parts). */
export const ChatMessageSchema = z.looseObject({
  role: z.enum(CHAT_ROLES),
  content: z.unknown(),
});
export type ChatMessage = z.infer<typeof ChatMessageSchema>;

/** Input of `llm:chat:v1`: at least one message; sampling options optional. */
export const LlmChatInputSchema = z
  .looseObject({
    messages: z.array(ChatMessageSchema).min(1),
    max_tokens: MaxTokensSchema.optional(),
    temperature: z.number().min(0).max(2).optional(),
    stop: z.array(z.string()).optional(),
  })
  .meta({ title: 'llm:chat:v1 input', description: 'A multi-turn conversation to continue.' });
export type LlmChatInput = z.infer<typeof LlmChatInputSchema>;

/** Output of `llm:chat:v1`: a list of choices, each with the produced message. */
export const LlmChatOutputSchema = z
  .looseObject({
    choices: z.array(
      z.looseObject({
        index: IndexSchema.optional(),
        message: AnyObjectSchema,
        finish_reason: FinishReasonSchema.optional(),
      }),
    ),
    usage: AnyObjectSchema.optional(),
  })
  .meta({ title: 'llm:chat:v1 output', description: 'Generated replies to a conversation.' });
export type LlmChatOutput = z.infer<typeof LlmChatOutputSchema>;

// ── urn:iicp:intent:llm:completion:v1 ────────────────────────────────────────

/** Input of `llm:completion:v1`: one prompt string. */
export const LlmCompletionInputSchema = z
  .looseObject({
    prompt: z.string(),
    max_tokens: MaxTokensSchema.optional(),
    temperature: z.number().min(0).max(2).optional(),
  })
  .meta({ title: 'llm:completion:v1 input', description: 'A prompt to continue as plain text.' });
export type LlmCompletionInput = z.infer<typeof LlmCompletionInputSchema>;

/** Output of `llm:completion:v1`: a list of choices, each with its text. */
export const LlmCompletionOutputSchema = z
  .looseObject({
    choices: z.array(
      z.looseObject({
        index: IndexSchema.optional(),
        text: z.string(),
        finish_reason: FinishReasonSchema.optional(),
      }),
    ),
    usage: AnyObjectSchema.optional(),
  })
  .meta({ title: 'llm:completion:v1 output', description: 'Generated continuations of a prompt.' });
export type LlmCompletionOutput = z.infer<typeof LlmCompletionOutputSchema>;

// ── urn:iicp:intent:llm:embedding:v1 ─────────────────────────────────────────

/** Input of `llm:embedding:v1`: one text or a non-empty list of texts. */
export const LlmEmbeddingInputSchema = z
  .looseObject({ input: TextOrTextsSchema })
  .meta({ title: 'llm:embedding:v1 input', description: 'Texts to turn into vectors.' });
export type LlmEmbeddingInput = z.infer<typeof LlmEmbeddingInputSchema>;

/** Output of `llm:embedding:v1`: one vector per input text. */
export const LlmEmbeddingOutputSchema = z
  .looseObject({
    data: z.array(
      z.looseObject({
        embedding: z.array(z.number()),
        index: IndexSchema.optional(),
      }),
    ),
    usage: AnyObjectSchema.optional(),
  })
  .meta({ title: 'llm:embedding:v1 output', description: 'Dense vectors, one per input.' });
export type LlmEmbeddingOutput = z.infer<typeof LlmEmbeddingOutputSchema>;

// ── urn:iicp:intent:audio:transcribe:v1 ──────────────────────────────────────

/** BCP-47-like language tag as the spec's transcription schema constrains it. */
export const TRANSCRIBE_LANGUAGE_PATTERN = /^[A-Za-z]{2,3}(?:-[A-Za-z0-9]+)*$/;

/**
 * Input of `audio:transcribe:v1`. `audio` is base64 audio bytes; like the spec's schema,
 * base64 is declared (`contentEncoding`) rather than enforced, so a backend that accepts
 * a variant alphabet is not locked out here.
 */
export const AudioTranscribeInputSchema = z
  .looseObject({
    audio: z.string().min(1).meta({ contentEncoding: 'base64' }),
    filename: z.string().optional(),
    model: z.string().optional(),
    language: z.string().regex(TRANSCRIBE_LANGUAGE_PATTERN).optional(),
    response_format: z.enum(['json', 'text']).optional(),
    prompt: z.string().optional(),
    temperature: z.number().min(0).max(1).optional(),
  })
  .meta({ title: 'audio:transcribe:v1 input', description: 'Speech audio to write down as text.' });
export type AudioTranscribeInput = z.infer<typeof AudioTranscribeInputSchema>;

/** Output of `audio:transcribe:v1`: plain text, or an object with `text`. */
export const AudioTranscribeOutputSchema = z
  .union([z.string(), z.looseObject({ text: z.string() })])
  .meta({ title: 'audio:transcribe:v1 output', description: 'The transcript.' });
export type AudioTranscribeOutput = z.infer<typeof AudioTranscribeOutputSchema>;

// ── urn:iicp:intent:audio:speech:v1 ──────────────────────────────────────────

/** Audio containers a speech backend may be asked for (audio-speech-v1 input). */
export const SPEECH_FORMATS = ['wav', 'mp3', 'opus', 'flac', 'aac'] as const;

/** Input of `audio:speech:v1`: the text to speak; voice, format and speed optional. */
export const AudioSpeechInputSchema = z
  .looseObject({
    input: z.string(),
    model: z.string().optional(),
    voice: z.string().optional(),
    response_format: z.enum(SPEECH_FORMATS).optional(),
    speed: z.number().min(0.25).max(4).optional(),
  })
  .meta({ title: 'audio:speech:v1 input', description: 'Text to synthesise as speech.' });
export type AudioSpeechInput = z.infer<typeof AudioSpeechInputSchema>;

/** Output of `audio:speech:v1`: base64 audio with its media type. */
export const AudioSpeechOutputSchema = z
  .looseObject({
    audio: z.string().meta({ contentEncoding: 'base64' }),
    content_type: z.string(),
    format: z.string().optional(),
  })
  .meta({ title: 'audio:speech:v1 output', description: 'Synthesised audio, base64-encoded.' });
export type AudioSpeechOutput = z.infer<typeof AudioSpeechOutputSchema>;

// ── urn:iicp:intent:safety:moderate:v1 ───────────────────────────────────────

/** Input of `safety:moderate:v1`: one text or a non-empty list of texts. */
export const SafetyModerateInputSchema = z
  .looseObject({
    input: TextOrTextsSchema,
    model: z.string().optional(),
  })
  .meta({ title: 'safety:moderate:v1 input', description: 'Texts to check against a policy.' });
export type SafetyModerateInput = z.infer<typeof SafetyModerateInputSchema>;

/** Output of `safety:moderate:v1`: one verdict per input text. */
export const SafetyModerateOutputSchema = z
  .looseObject({
    results: z.array(
      z.looseObject({
        flagged: z.boolean(),
        categories: AnyObjectSchema.optional(),
        category_scores: AnyObjectSchema.optional(),
      }),
    ),
  })
  .meta({ title: 'safety:moderate:v1 output', description: 'Moderation verdicts.' });
export type SafetyModerateOutput = z.infer<typeof SafetyModerateOutputSchema>;

// ── Intents without a payload contract ───────────────────────────────────────

/**
 * Input of an intent with no payload contract (non-active registry entries and custom
 * `x.<vendor>` intents): any JSON object, as CALL's `payload` is an object.
 */
export const OpenInputSchema = z
  .looseObject({})
  .meta({ title: 'open input', description: 'Any JSON object; the intent fixes no fields.' });

/** Output of an intent with no result contract: any JSON value. */
export const AnyJsonOutputSchema = z
  .json()
  .meta({ title: 'any JSON output', description: 'Any JSON value; the intent fixes no shape.' });

// ── Lookup ───────────────────────────────────────────────────────────────────

/** The input and output schemas of one intent, with the file stem they are published under. */
export interface PayloadSchemaPair {
  /** File stem under registry/schemas/ (`llm-chat-v1` → `llm-chat-v1-input.json`). */
  name: string;
  input: z.ZodType;
  output: z.ZodType;
}

/** Payload contracts of the active intents, keyed by URN. */
export const ACTIVE_PAYLOAD_SCHEMAS: Readonly<Record<string, PayloadSchemaPair>> = {
  'urn:iicp:intent:llm:chat:v1': {
    name: 'llm-chat-v1',
    input: LlmChatInputSchema,
    output: LlmChatOutputSchema,
  },
  'urn:iicp:intent:llm:completion:v1': {
    name: 'llm-completion-v1',
    input: LlmCompletionInputSchema,
    output: LlmCompletionOutputSchema,
  },
  'urn:iicp:intent:llm:embedding:v1': {
    name: 'llm-embedding-v1',
    input: LlmEmbeddingInputSchema,
    output: LlmEmbeddingOutputSchema,
  },
  'urn:iicp:intent:audio:transcribe:v1': {
    name: 'audio-transcribe-v1',
    input: AudioTranscribeInputSchema,
    output: AudioTranscribeOutputSchema,
  },
  'urn:iicp:intent:audio:speech:v1': {
    name: 'audio-speech-v1',
    input: AudioSpeechInputSchema,
    output: AudioSpeechOutputSchema,
  },
  'urn:iicp:intent:safety:moderate:v1': {
    name: 'safety-moderate-v1',
    input: SafetyModerateInputSchema,
    output: SafetyModerateOutputSchema,
  },
};

/** File stems of the two shared schemas for intents without a payload contract. */
export const OPEN_INPUT_SCHEMA_NAME = 'open';
export const ANY_JSON_OUTPUT_SCHEMA_NAME = 'any-json';

/**
 * The payload schemas that apply to `urn`: the active intent's own pair, or the open
 * pair for any other intent (non-active registry entries, custom `x.<vendor>` intents,
 * unregistered URNs), which the protocol still carries end to end.
 */
export function payloadSchemasFor(urn: string): { input: z.ZodType; output: z.ZodType } {
  const pair = Object.hasOwn(ACTIVE_PAYLOAD_SCHEMAS, urn) ? ACTIVE_PAYLOAD_SCHEMAS[urn] : undefined;
  return pair
    ? { input: pair.input, output: pair.output }
    : { input: OpenInputSchema, output: AnyJsonOutputSchema };
}

/** True when `urn` has an intent-specific payload contract (the active intents). */
export function hasPayloadContract(urn: string): boolean {
  return Object.hasOwn(ACTIVE_PAYLOAD_SCHEMAS, urn);
}

/** Which side of a task a payload belongs to: the CALL's `payload` or the RESPONSE's `result`. */
export type PayloadDirection = 'input' | 'output';

export type IntentPayloadCheck = { ok: true } | { ok: false; error: IicpProtocolError };

/**
 * Check a task payload (or, with `direction: 'output'`, a result) against the intent's
 * schema. A failure is the spec's 422 `validation_error`, naming the failing field and
 * never echoing the payload.
 */
export function validateIntentPayload(
  urn: string,
  payload: unknown,
  direction: PayloadDirection = 'input',
): IntentPayloadCheck {
  const r = safeParseWire(payloadSchemasFor(urn)[direction], payload);
  return r.ok ? { ok: true } : { ok: false, error: r.error };
}

/**
 * Like {@link validateIntentPayload} but throws the `validation_error` and returns the
 * parsed payload (unknown fields kept).
 */
export function parseIntentPayload(
  urn: string,
  payload: unknown,
  direction: PayloadDirection = 'input',
): unknown {
  return parseWire(payloadSchemasFor(urn)[direction], payload);
}
