import { IicpLocalError } from '@iicp/wire';

/**
 * Backend families `--backend-type` accepts (issue: apps/node). vLLM, llama.cpp's
 * server and LM Studio speak the OpenAI API and share its client.
 */
export const BACKEND_TYPES = [
  'openai',
  'vllm',
  'llamacpp',
  'lmstudio',
  'ollama',
  'anthropic',
] as const;
export type BackendType = (typeof BACKEND_TYPES)[number];

/** The operations a backend client maps intents onto. */
export type BackendOperation =
  'chat' | 'completion' | 'embedding' | 'transcribe' | 'speech' | 'moderate';

/** The operations with an incremental (streamed) form. */
export type StreamOperation = Extract<BackendOperation, 'chat' | 'completion'>;

export function isStreamOperation(op: BackendOperation): op is StreamOperation {
  return op === 'chat' || op === 'completion';
}

/**
 * Intent URN served by each operation (registry: the active llm, audio and safety
 * intents; schemas audio-transcribe-v1, audio-speech-v1, safety-moderate-v1).
 */
export const OPERATION_INTENTS: Readonly<Record<BackendOperation, string>> = {
  chat: 'urn:iicp:intent:llm:chat:v1',
  completion: 'urn:iicp:intent:llm:completion:v1',
  embedding: 'urn:iicp:intent:llm:embedding:v1',
  transcribe: 'urn:iicp:intent:audio:transcribe:v1',
  speech: 'urn:iicp:intent:audio:speech:v1',
  moderate: 'urn:iicp:intent:safety:moderate:v1',
};

/**
 * Operations each backend family can serve. The first three are served by default;
 * the audio and safety ones only when the operator names their intent (a chat model
 * server rarely also hosts speech or moderation models).
 */
export const BACKEND_TYPE_OPERATIONS: Readonly<Record<BackendType, readonly BackendOperation[]>> = {
  openai: ['chat', 'completion', 'embedding', 'transcribe', 'speech', 'moderate'],
  vllm: ['chat', 'completion', 'embedding', 'transcribe', 'speech', 'moderate'],
  llamacpp: ['chat', 'completion', 'embedding', 'transcribe', 'speech', 'moderate'],
  lmstudio: ['chat', 'completion', 'embedding', 'transcribe', 'speech', 'moderate'],
  ollama: ['chat', 'completion', 'embedding'],
  anthropic: ['chat', 'completion'],
};

/** Operations served only when configured explicitly (`--intent`). */
export const OPT_IN_OPERATIONS: readonly BackendOperation[] = ['transcribe', 'speech', 'moderate'];

/** The operation behind an intent URN, or undefined when no backend op serves it. */
export function operationForIntent(intent: string): BackendOperation | undefined {
  for (const [op, urn] of Object.entries(OPERATION_INTENTS)) {
    if (urn === intent) return op as BackendOperation;
  }
  return undefined;
}

export interface BackendCallOptions {
  /** Model name as the backend knows it. */
  model: string;
  /** Aborts the backend request (task deadline or caller gone). */
  signal: AbortSignal;
  /** Upper bound for the HTTP call itself; the task's remaining budget. */
  timeoutMs: number;
}

/** A finished, non-streamed backend answer mapped to the intent's output shape. */
export interface BackendResult {
  /** The intent's result (llm-chat-v1 / llm-completion-v1 / llm-embedding-v1 output). */
  result: unknown;
  tokensUsed?: number;
  model: string;
}

/** End of a stream: what the terminal lifecycle event reports. */
export interface StreamSummary {
  tokensUsed?: number;
  model: string;
  finishReason: string | null;
}

/**
 * One incremental chunk of a streamed answer, already in the intent's partial form:
 * chat `{choices:[{index:0, delta:{content}}]}`, completion `{choices:[{index:0, text}]}`.
 */
export type StreamChunkHandler = (chunk: unknown) => void;

export interface Backend {
  readonly type: BackendType;
  readonly baseUrl: string;
  /** Operations served by default (Anthropic has no embeddings). */
  readonly operations: readonly BackendOperation[];
  /** Further operations served only when their intent is configured (`--intent`). */
  readonly optInOperations?: readonly BackendOperation[];
  listModels(opts?: { signal?: AbortSignal; timeoutMs?: number }): Promise<string[]>;
  invoke(
    op: BackendOperation,
    payload: Record<string, unknown>,
    opts: BackendCallOptions,
  ): Promise<BackendResult>;
  /** Streams chat or completion; resolves when the backend finished. */
  stream(
    op: StreamOperation,
    payload: Record<string, unknown>,
    opts: BackendCallOptions,
    onChunk: StreamChunkHandler,
  ): Promise<StreamSummary>;
}

export type BackendErrorCode =
  /** The backend answered non-2xx. */
  | 'backend_status'
  /** Connect failure, reset, undecodable or oversized reply. */
  | 'backend_transport'
  /** A 2xx reply we cannot map (missing fields). */
  | 'backend_bad_reply'
  /** The call was aborted through its signal (deadline or caller gone). */
  | 'backend_aborted'
  /** The HTTP client's own deadline for the call fired. */
  | 'backend_timeout'
  /** The backend family does not serve the operation. */
  | 'backend_unsupported';

/**
 * A failed backend call. Local: it never crosses the wire; the serving layer turns it
 * into 502 `backend_error` (or 504 `task_timeout` when its deadline fired) without
 * the backend's message, which could echo the prompt.
 */
export class BackendError extends IicpLocalError {
  declare readonly code: BackendErrorCode;
  /** The backend's HTTP status for `backend_status`. */
  readonly status: number | undefined;

  constructor(
    code: BackendErrorCode,
    message: string,
    opts: { cause?: unknown; status?: number } = {},
  ) {
    super(code, message, opts.cause === undefined ? {} : { cause: opts.cause });
    this.status = opts.status;
  }
}
