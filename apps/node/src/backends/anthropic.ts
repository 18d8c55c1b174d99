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
import { apiBase, callJson, isRecord, numberOr, parseJsonLine, streamSse } from './transport.ts';

/** The Messages API version header this client speaks. */
export const ANTHROPIC_VERSION = '2023-06-01';
/** `max_tokens` is required by the Messages API; used when the payload omits it. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 1024;

export interface AnthropicBackendOptions {
  /** e.g. `https://api.anthropic.com`. */
  baseUrl: string;
  apiKey?: string;
  http: HttpClient;
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((p) =>
        isRecord(p) && typeof p.text === 'string' ? p.text : typeof p === 'string' ? p : '',
      )
      .join('');
  }
  return '';
}

/** Map an llm-chat/llm-completion payload onto a Messages API request. */
function messagesRequest(
  op: 'chat' | 'completion',
  payload: Record<string, unknown>,
  model: string,
  stream: boolean,
): Record<string, unknown> {
  const system: string[] = [];
  const messages: { role: 'user' | 'assistant'; content: unknown }[] = [];
  if (op === 'chat') {
    for (const m of Array.isArray(payload.messages) ? payload.messages : []) {
      if (!isRecord(m)) continue;
      // The Messages API takes system text apart and knows only user/assistant turns.
      if (m.role === 'system') system.push(textOf(m.content));
      else
        messages.push({ role: m.role === 'assistant' ? 'assistant' : 'user', content: m.content });
    }
  } else {
    messages.push({ role: 'user', content: String(payload.prompt ?? '') });
  }
  const body: Record<string, unknown> = {
    model,
    messages,
    max_tokens:
      typeof payload.max_tokens === 'number' ? payload.max_tokens : ANTHROPIC_DEFAULT_MAX_TOKENS,
    stream,
  };
  if (system.length > 0) body.system = system.join('\n\n');
  if (typeof payload.temperature === 'number') body.temperature = Math.min(payload.temperature, 1);
  if (Array.isArray(payload.stop)) body.stop_sequences = payload.stop;
  if (typeof payload.top_p === 'number') body.top_p = payload.top_p;
  return body;
}

/**
 * Anthropic's Messages API (`/v1/messages`, `/v1/models`); SSE streams of
 * `content_block_delta` events. Chat and completion only: it serves no embeddings.
 */
export function createAnthropicBackend(opts: AnthropicBackendOptions): Backend {
  const base = apiBase(opts.baseUrl, '/v1');
  const headers: Record<string, string> = { 'anthropic-version': ANTHROPIC_VERSION };
  if (opts.apiKey) headers['x-api-key'] = opts.apiKey;

  async function invoke(
    op: BackendOperation,
    payload: Record<string, unknown>,
    o: BackendCallOptions,
  ): Promise<BackendResult> {
    if (!isStreamOperation(op))
      throw new BackendError('backend_unsupported', `anthropic does not serve ${op}`);
    const r = await callJson(opts.http, {
      url: `${base}/messages`,
      body: messagesRequest(op, payload, o.model, false),
      headers,
      signal: o.signal,
      timeoutMs: o.timeoutMs,
    });
    if (!isRecord(r) || !Array.isArray(r.content))
      throw new BackendError('backend_bad_reply', 'backend reply lacks content');
    const text = textOf(r.content);
    const usage = isRecord(r.usage) ? r.usage : {};
    const p = numberOr(usage.input_tokens) ?? 0;
    const c = numberOr(usage.output_tokens) ?? 0;
    const finish_reason = typeof r.stop_reason === 'string' ? r.stop_reason : null;
    const model = typeof r.model === 'string' ? r.model : o.model;
    const choice =
      op === 'chat'
        ? { index: 0, message: { role: 'assistant', content: text }, finish_reason }
        : { index: 0, text, finish_reason };
    return {
      result: {
        object: op === 'chat' ? 'chat.completion' : 'text_completion',
        model,
        choices: [choice],
        usage: { prompt_tokens: p, completion_tokens: c, total_tokens: p + c },
      },
      model,
      tokensUsed: p + c,
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
    let input = 0;
    let output = 0;
    await streamSse(
      opts.http,
      {
        url: `${base}/messages`,
        body: messagesRequest(op, payload, o.model, true),
        headers: { ...headers, accept: 'text/event-stream' },
        signal: o.signal,
        timeoutMs: o.timeoutMs,
      },
      (ev) => {
        if (ev.event === 'ping') return;
        const msg = parseJsonLine(ev.data);
        if (!isRecord(msg)) return;
        switch (msg.type) {
          case 'error':
            throw new BackendError('backend_bad_reply', 'backend stream reported an error');
          case 'message_start': {
            const m = isRecord(msg.message) ? msg.message : {};
            if (typeof m.model === 'string') model = m.model;
            const u = isRecord(m.usage) ? m.usage : {};
            input = numberOr(u.input_tokens) ?? input;
            output = numberOr(u.output_tokens) ?? output;
            return;
          }
          case 'content_block_delta': {
            const d = isRecord(msg.delta) ? msg.delta : {};
            if (typeof d.text === 'string' && d.text !== '') {
              onChunk(
                op === 'chat'
                  ? { choices: [{ index: 0, delta: { content: d.text } }] }
                  : { choices: [{ index: 0, text: d.text }] },
              );
            }
            return;
          }
          case 'message_delta': {
            const d = isRecord(msg.delta) ? msg.delta : {};
            if (typeof d.stop_reason === 'string') finishReason = d.stop_reason;
            const u = isRecord(msg.usage) ? msg.usage : {};
            output = numberOr(u.output_tokens) ?? output;
            return;
          }
          default:
            return;
        }
      },
    );
    return { model, finishReason, tokensUsed: input + output };
  }

  async function listModels(
    o: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<string[]> {
    const r = await callJson(opts.http, {
      url: `${base}/models`,
      headers,
      ...(o.signal ? { signal: o.signal } : {}),
      timeoutMs: o.timeoutMs ?? 5_000,
    });
    // A reply without the list is another kind of server (backend detection relies on it).
    if (!isRecord(r) || !Array.isArray(r.data)) {
      throw new BackendError('backend_bad_reply', 'model list missing');
    }
    const data: unknown[] = r.data;
    return data.flatMap((m) => (isRecord(m) && typeof m.id === 'string' ? [m.id] : []));
  }

  return {
    type: 'anthropic',
    baseUrl: opts.baseUrl,
    operations: ['chat', 'completion'],
    listModels,
    invoke,
    stream,
  };
}
