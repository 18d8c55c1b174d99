import type { HttpClient } from '@iicp/http';
import {
  BackendError,
  isStreamOperation,
  type Backend,
  type BackendCallOptions,
  type BackendOperation,
  type BackendResult,
  type StreamChunkHandler,
  type StreamSummary,
} from './types.ts';
import { apiBase, callJson, isRecord, numberOr, streamNdjson } from './transport.ts';

export interface OllamaBackendOptions {
  /** e.g. `http://127.0.0.1:11434`. */
  baseUrl: string;
  http: HttpClient;
}

/** Sampling fields of the llm payloads that Ollama takes under `options`. */
function ollamaOptions(payload: Record<string, unknown>): Record<string, unknown> | undefined {
  const options: Record<string, unknown> = isRecord(payload.options) ? { ...payload.options } : {};
  if (typeof payload.max_tokens === 'number') options.num_predict = payload.max_tokens;
  if (typeof payload.temperature === 'number') options.temperature = payload.temperature;
  if (typeof payload.top_p === 'number') options.top_p = payload.top_p;
  if (typeof payload.seed === 'number') options.seed = payload.seed;
  if (Array.isArray(payload.stop)) options.stop = payload.stop;
  return Object.keys(options).length > 0 ? options : undefined;
}

function usageOf(r: Record<string, unknown>): { usage?: Record<string, number>; tokens?: number } {
  const p = numberOr(r.prompt_eval_count);
  const c = numberOr(r.eval_count);
  if (p === undefined && c === undefined) return {};
  const usage = {
    prompt_tokens: p ?? 0,
    completion_tokens: c ?? 0,
    total_tokens: (p ?? 0) + (c ?? 0),
  };
  return { usage, tokens: usage.total_tokens };
}

function requestBody(
  op: 'chat' | 'completion',
  payload: Record<string, unknown>,
  model: string,
  stream: boolean,
): Record<string, unknown> {
  const body: Record<string, unknown> =
    op === 'chat'
      ? { model, messages: payload.messages, stream }
      : { model, prompt: payload.prompt, stream };
  const options = ollamaOptions(payload);
  if (options) body.options = options;
  for (const k of ['format', 'keep_alive', 'tools', 'system', 'think'] as const) {
    if (payload[k] !== undefined) body[k] = payload[k];
  }
  return body;
}

/**
 * Ollama's native API: `/api/chat`, `/api/generate`, `/api/embed` (falling back to the
 * older `/api/embeddings` on 404) and `/api/tags`; streams are NDJSON. Replies are
 * mapped to the OpenAI-shaped registry outputs.
 */
export function createOllamaBackend(opts: OllamaBackendOptions): Backend {
  const base = apiBase(opts.baseUrl, '');

  async function embed(
    payload: Record<string, unknown>,
    o: BackendCallOptions,
  ): Promise<BackendResult> {
    const input = payload.input;
    const call = { signal: o.signal, timeoutMs: o.timeoutMs };
    try {
      const r = await callJson(opts.http, {
        url: `${base}/api/embed`,
        body: { model: o.model, input },
        ...call,
      });
      if (!isRecord(r) || !Array.isArray(r.embeddings))
        throw new BackendError('backend_bad_reply', 'no embeddings');
      const p = numberOr(r.prompt_eval_count);
      return {
        result: {
          object: 'list',
          data: r.embeddings.map((embedding, index) => ({ object: 'embedding', embedding, index })),
          model: o.model,
          ...(p !== undefined ? { usage: { prompt_tokens: p, total_tokens: p } } : {}),
        },
        model: typeof r.model === 'string' ? r.model : o.model,
        ...(p !== undefined ? { tokensUsed: p } : {}),
      };
    } catch (err) {
      if (!(err instanceof BackendError && err.code === 'backend_status' && err.status === 404))
        throw err;
    }
    // Ollama before 0.3 knows only /api/embeddings, one prompt per call.
    const texts = typeof input === 'string' ? [input] : (input as string[]);
    const data = [];
    for (const [index, prompt] of texts.entries()) {
      const r = await callJson(opts.http, {
        url: `${base}/api/embeddings`,
        body: { model: o.model, prompt },
        ...call,
      });
      if (!isRecord(r) || !Array.isArray(r.embedding))
        throw new BackendError('backend_bad_reply', 'no embedding');
      data.push({ object: 'embedding', embedding: r.embedding, index });
    }
    return { result: { object: 'list', data, model: o.model }, model: o.model };
  }

  async function invoke(
    op: BackendOperation,
    payload: Record<string, unknown>,
    o: BackendCallOptions,
  ): Promise<BackendResult> {
    if (op === 'embedding') return embed(payload, o);
    if (!isStreamOperation(op))
      throw new BackendError('backend_unsupported', `ollama does not serve ${op}`);
    const r = await callJson(opts.http, {
      url: `${base}${op === 'chat' ? '/api/chat' : '/api/generate'}`,
      body: requestBody(op, payload, o.model, false),
      signal: o.signal,
      timeoutMs: o.timeoutMs,
    });
    if (!isRecord(r)) throw new BackendError('backend_bad_reply', 'backend reply is not an object');
    const { usage, tokens } = usageOf(r);
    const finish_reason = typeof r.done_reason === 'string' ? r.done_reason : 'stop';
    let choice: Record<string, unknown>;
    if (op === 'chat') {
      if (!isRecord(r.message))
        throw new BackendError('backend_bad_reply', 'backend reply lacks message');
      choice = { index: 0, message: r.message, finish_reason };
    } else {
      if (typeof r.response !== 'string')
        throw new BackendError('backend_bad_reply', 'backend reply lacks response');
      choice = { index: 0, text: r.response, finish_reason };
    }
    const model = typeof r.model === 'string' ? r.model : o.model;
    return {
      result: {
        object: op === 'chat' ? 'chat.completion' : 'text_completion',
        model,
        choices: [choice],
        ...(usage ? { usage } : {}),
      },
      model,
      ...(tokens !== undefined ? { tokensUsed: tokens } : {}),
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
    await streamNdjson(
      opts.http,
      {
        url: `${base}${op === 'chat' ? '/api/chat' : '/api/generate'}`,
        body: requestBody(op, payload, o.model, true),
        signal: o.signal,
        timeoutMs: o.timeoutMs,
      },
      (line) => {
        if (!isRecord(line)) return;
        if (typeof line.error === 'string')
          throw new BackendError('backend_bad_reply', 'backend stream reported an error');
        if (typeof line.model === 'string') model = line.model;
        const text =
          op === 'chat'
            ? isRecord(line.message)
              ? line.message.content
              : undefined
            : line.response;
        if (typeof text === 'string' && text !== '') {
          onChunk(
            op === 'chat'
              ? { choices: [{ index: 0, delta: { content: text } }] }
              : { choices: [{ index: 0, text }] },
          );
        }
        if (line.done === true) {
          finishReason = typeof line.done_reason === 'string' ? line.done_reason : 'stop';
          tokensUsed = usageOf(line).tokens;
        }
      },
    );
    return { model, finishReason, ...(tokensUsed !== undefined ? { tokensUsed } : {}) };
  }

  async function listModels(
    o: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<string[]> {
    const r = await callJson(opts.http, {
      url: `${base}/api/tags`,
      ...(o.signal ? { signal: o.signal } : {}),
      timeoutMs: o.timeoutMs ?? 5_000,
    });
    // A reply without the list is another kind of server (backend detection relies on it).
    if (!isRecord(r) || !Array.isArray(r.models)) {
      throw new BackendError('backend_bad_reply', 'model list missing');
    }
    const models: unknown[] = r.models;
    return models.flatMap((m) =>
      isRecord(m) && typeof (m.name ?? m.model) === 'string' ? [String(m.name ?? m.model)] : [],
    );
  }

  return {
    type: 'ollama',
    baseUrl: opts.baseUrl,
    operations: ['chat', 'completion', 'embedding'],
    listModels,
    invoke,
    stream,
  };
}
