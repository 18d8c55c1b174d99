import type { HttpClient } from '@iicp/http';
import {
  BackendError,
  type Backend,
  type BackendCallOptions,
  type BackendOperation,
  type BackendResult,
  type BackendType,
  type StreamChunkHandler,
  type StreamSummary,
  OPT_IN_OPERATIONS,
} from './types.ts';
import { invokeOpenAiAux, isOpenAiAuxOperation } from './openai-audio.ts';
import {
  apiBase,
  callJson,
  isRecord,
  parseJsonLine,
  streamSse,
  tokensFromUsage,
} from './transport.ts';

export interface OpenAiBackendOptions {
  type?: Extract<BackendType, 'openai' | 'vllm' | 'llamacpp' | 'lmstudio'>;
  /** e.g. `http://127.0.0.1:8000` or `https://api.openai.com/v1`. */
  baseUrl: string;
  apiKey?: string;
  http: HttpClient;
}

const PATHS: Record<'chat' | 'completion' | 'embedding', string> = {
  chat: '/chat/completions',
  completion: '/completions',
  embedding: '/embeddings',
};

/**
 * OpenAI-compatible backends (OpenAI, vLLM, llama.cpp server, LM Studio, any
 * `/v1/chat/completions` server). The llm-* registry outputs are the OpenAI shapes,
 * so buffered replies pass through unchanged (no copy); streamed `chat.completion.chunk`
 * deltas are forwarded as they arrive. Transcription, speech and moderation
 * (`/v1/audio/*`, `/v1/moderations`) are opt-in: see openai-audio.ts.
 */
export function createOpenAiBackend(opts: OpenAiBackendOptions): Backend {
  const base = apiBase(opts.baseUrl, '/v1');
  const headers: Record<string, string> = opts.apiKey
    ? { authorization: `Bearer ${opts.apiKey}` }
    : {};

  async function invoke(
    op: BackendOperation,
    payload: Record<string, unknown>,
    o: BackendCallOptions,
  ): Promise<BackendResult> {
    if (isOpenAiAuxOperation(op))
      return invokeOpenAiAux({ http: opts.http, base, headers }, op, payload, o);
    const body = { ...payload, model: o.model, stream: false };
    if (op === 'embedding') delete (body as { stream?: boolean }).stream;
    const reply = await callJson(opts.http, {
      url: base + PATHS[op],
      body,
      headers,
      signal: o.signal,
      timeoutMs: o.timeoutMs,
    });
    if (!isRecord(reply) || !Array.isArray(op === 'embedding' ? reply.data : reply.choices)) {
      throw new BackendError('backend_bad_reply', 'backend reply lacks choices/data');
    }
    const tokensUsed = tokensFromUsage(reply.usage);
    return {
      result: reply,
      model: typeof reply.model === 'string' ? reply.model : o.model,
      ...(tokensUsed !== undefined ? { tokensUsed } : {}),
    };
  }

  async function stream(
    op: 'chat' | 'completion',
    payload: Record<string, unknown>,
    o: BackendCallOptions,
    onChunk: StreamChunkHandler,
  ): Promise<StreamSummary> {
    let model = o.model;
    let finishReason: string | null = null;
    let tokensUsed: number | undefined;
    let done = false;
    await streamSse(
      opts.http,
      {
        url: base + PATHS[op],
        body: { ...payload, model: o.model, stream: true, stream_options: { include_usage: true } },
        headers: { ...headers, accept: 'text/event-stream' },
        signal: o.signal,
        timeoutMs: o.timeoutMs,
      },
      (ev) => {
        if (done) return;
        if (ev.data === '[DONE]') {
          done = true;
          return;
        }
        const msg = parseJsonLine(ev.data);
        if (!isRecord(msg)) return;
        if (isRecord(msg.error))
          throw new BackendError('backend_bad_reply', 'backend stream reported an error');
        if (typeof msg.model === 'string') model = msg.model;
        const t = tokensFromUsage(msg.usage);
        if (t !== undefined) tokensUsed = t;
        const choices = Array.isArray(msg.choices) ? msg.choices : [];
        for (const c of choices) {
          if (isRecord(c) && typeof c.finish_reason === 'string') finishReason = c.finish_reason;
        }
        if (choices.length > 0) onChunk({ choices });
      },
    );
    return { model, finishReason, ...(tokensUsed !== undefined ? { tokensUsed } : {}) };
  }

  async function listModels(
    o: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<string[]> {
    const reply = await callJson(opts.http, {
      url: `${base}/models`,
      headers,
      ...(o.signal ? { signal: o.signal } : {}),
      timeoutMs: o.timeoutMs ?? 5_000,
    });
    // A reply without the list is another kind of server (backend detection relies on it).
    if (!isRecord(reply) || !Array.isArray(reply.data)) {
      throw new BackendError('backend_bad_reply', 'model list missing');
    }
    const data: unknown[] = reply.data;
    return data.flatMap((m) => (isRecord(m) && typeof m.id === 'string' ? [m.id] : []));
  }

  return {
    type: opts.type ?? 'openai',
    baseUrl: opts.baseUrl,
    operations: ['chat', 'completion', 'embedding'],
    optInOperations: OPT_IN_OPERATIONS,
    listModels,
    invoke,
    stream,
  };
}
