import type { HttpClient } from '@iicp/http';
import { validateIntentPayload } from '@iicp/wire';
import {
  BackendError,
  OPERATION_INTENTS,
  type BackendCallOptions,
  type BackendOperation,
  type BackendResult,
} from './types.ts';
import { callHttp, callJson, isRecord } from './transport.ts';

/** Where the OpenAI-compatible API serves the audio and moderation operations. */
export const OPENAI_AUX_PATHS = {
  transcribe: '/audio/transcriptions',
  speech: '/audio/speech',
  moderate: '/moderations',
} as const;

export type OpenAiAuxOperation = keyof typeof OPENAI_AUX_PATHS;

export function isOpenAiAuxOperation(op: BackendOperation): op is OpenAiAuxOperation {
  return op in OPENAI_AUX_PATHS;
}

/** `audio:speech:v1` `response_format` default when the caller names none (OpenAI's). */
const DEFAULT_SPEECH_FORMAT = 'mp3';

/** Media type of each speech format, for a backend that does not label its answer. */
const SPEECH_MEDIA_TYPES: Readonly<Record<string, string>> = {
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  opus: 'audio/ogg',
  flac: 'audio/flac',
  aac: 'audio/aac',
};

interface AuxContext {
  http: HttpClient;
  /** API base ending in `/v1`. */
  base: string;
  headers: Record<string, string>;
}

/** Keep only the fields the caller actually set (the backend applies its own defaults). */
function pick(payload: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (payload[k] !== undefined) out[k] = payload[k];
  return out;
}

/** A backend answer the intent's output schema refuses is a broken backend (502). */
function checked(op: OpenAiAuxOperation, result: unknown): unknown {
  if (!validateIntentPayload(OPERATION_INTENTS[op], result, 'output').ok) {
    throw new BackendError('backend_bad_reply', `backend reply does not fit the ${op} output`);
  }
  return result;
}

/**
 * `audio:transcribe:v1` → `POST /v1/audio/transcriptions` (multipart form). The base64
 * `audio` becomes the `file` part; the reply is the transcript as text or `{text}`.
 */
async function transcribe(
  c: AuxContext,
  payload: Record<string, unknown>,
  o: BackendCallOptions,
): Promise<BackendResult> {
  const audio = typeof payload.audio === 'string' ? payload.audio : '';
  const filename = typeof payload.filename === 'string' ? payload.filename : 'audio';
  const form = new FormData();
  form.append('file', new Blob([Buffer.from(audio, 'base64')]), filename);
  form.append('model', o.model);
  for (const [k, v] of Object.entries(
    pick(payload, ['language', 'response_format', 'prompt', 'temperature']),
  )) {
    form.append(k, String(v));
  }
  // The fetch Response serialises the form and picks the multipart boundary.
  const encoded = new Response(form);
  const bytes = new Uint8Array(await encoded.arrayBuffer());
  const res = await callHttp(c.http, {
    url: c.base + OPENAI_AUX_PATHS.transcribe,
    body: bytes,
    headers: { ...c.headers, 'content-type': encoded.headers.get('content-type') ?? '' },
    signal: o.signal,
    timeoutMs: o.timeoutMs,
  });
  // text → the plain transcript; json → `{text, ...}` as the backend sent it.
  const result = res.body;
  if (result === undefined) {
    throw new BackendError('backend_bad_reply', 'backend transcription reply is empty');
  }
  return { result: checked('transcribe', result), model: o.model };
}

/**
 * `audio:speech:v1` → `POST /v1/audio/speech` (JSON); the binary answer comes back as
 * `{audio: base64, content_type, format}`.
 */
async function speech(
  c: AuxContext,
  payload: Record<string, unknown>,
  o: BackendCallOptions,
): Promise<BackendResult> {
  const res = await callHttp(c.http, {
    url: c.base + OPENAI_AUX_PATHS.speech,
    body: { ...pick(payload, ['input', 'voice', 'response_format', 'speed']), model: o.model },
    headers: { ...c.headers, accept: 'audio/*' },
    signal: o.signal,
    timeoutMs: o.timeoutMs,
  });
  if (res.bytes.length === 0) {
    throw new BackendError('backend_bad_reply', 'backend speech reply is empty');
  }
  const format =
    typeof payload.response_format === 'string' ? payload.response_format : DEFAULT_SPEECH_FORMAT;
  // A JSON (or text) answer is an error a lenient server sent with 200, not audio.
  if (res.contentType === 'application/json' || res.contentType.startsWith('text/')) {
    throw new BackendError('backend_bad_reply', 'backend speech reply is not audio');
  }
  const contentType =
    res.contentType && res.contentType !== 'application/octet-stream'
      ? res.contentType
      : (SPEECH_MEDIA_TYPES[format] ?? 'application/octet-stream');
  const result = { audio: res.bytes.toString('base64'), content_type: contentType, format };
  return { result: checked('speech', result), model: o.model };
}

/** `safety:moderate:v1` → `POST /v1/moderations` (`{input, model}` → `{results:[...]}`). */
async function moderate(
  c: AuxContext,
  payload: Record<string, unknown>,
  o: BackendCallOptions,
): Promise<BackendResult> {
  const reply = await callJson(c.http, {
    url: c.base + OPENAI_AUX_PATHS.moderate,
    body: { input: payload.input, model: o.model },
    headers: c.headers,
    signal: o.signal,
    timeoutMs: o.timeoutMs,
  });
  const model = isRecord(reply) && typeof reply.model === 'string' ? reply.model : o.model;
  // The OpenAI reply ({id, model, results}) is already the output shape.
  return { result: checked('moderate', reply), model };
}

/** Run one audio or moderation operation against an OpenAI-compatible API. */
export function invokeOpenAiAux(
  c: AuxContext,
  op: OpenAiAuxOperation,
  payload: Record<string, unknown>,
  o: BackendCallOptions,
): Promise<BackendResult> {
  switch (op) {
    case 'transcribe':
      return transcribe(c, payload, o);
    case 'speech':
      return speech(c, payload, o);
    case 'moderate':
      return moderate(c, payload, o);
  }
}
