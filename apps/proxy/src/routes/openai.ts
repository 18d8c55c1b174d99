import {
  LLM_CHAT_INTENT,
  LLM_COMPLETION_INTENT,
  LLM_EMBEDDING_INTENT,
  type StreamDelta,
} from '@iicp/client';
import type { IicpFastifyInstance } from '@iicp/http';
import { z } from 'zod';
import { protocolErrorHandler } from '../errors.ts';
import {
  chatDeltaOf,
  finishReasonOf,
  isRecord,
  unixSeconds,
  usageOf,
  withoutNulls,
} from '../llm.ts';
import { sendStream, sse, type StreamFormat } from '../stream.ts';
import { clientGone, markAnswer, traceparentOf, type RouteDeps } from './common.ts';
import { servedModels } from './models.ts';

/** Roles OpenAI clients send; `developer` (newer models' system role) is sent on as `system`. */
const OPENAI_ROLES = ['system', 'developer', 'user', 'assistant', 'tool'] as const;

const optionalInt = z.int().min(1).nullish();
const temperature = z.number().min(0).max(2).nullish();
const stop = z.union([z.string(), z.array(z.string()).max(16)]).nullish();
const streamOptions = z.looseObject({ include_usage: z.boolean().nullish() }).nullish();

/** `POST /v1/chat/completions` body (OpenAI Chat Completions). Extra fields pass through to the node. */
export const OpenAiChatRequestSchema = z.looseObject({
  model: z.string().min(1).optional(),
  messages: z
    .array(z.looseObject({ role: z.enum(OPENAI_ROLES), content: z.unknown().optional() }))
    .min(1),
  stream: z.boolean().nullish(),
  stream_options: streamOptions,
  max_tokens: optionalInt,
  max_completion_tokens: optionalInt,
  temperature,
  stop,
});

/** `POST /v1/completions` body (OpenAI legacy Completions): one prompt string. */
export const OpenAiCompletionRequestSchema = z.looseObject({
  model: z.string().min(1).optional(),
  prompt: z.string(),
  stream: z.boolean().nullish(),
  stream_options: streamOptions,
  max_tokens: optionalInt,
  temperature,
  stop,
});

/** `POST /v1/embeddings` body; token-array inputs are not offered (the intent takes text). */
export const OpenAiEmbeddingRequestSchema = z.looseObject({
  model: z.string().min(1).optional(),
  input: z.union([z.string(), z.array(z.string()).min(1).max(2048)]),
  encoding_format: z.enum(['float', 'base64']).nullish(),
  dimensions: z.int().min(1).nullish(),
});

type ChatBody = z.infer<typeof OpenAiChatRequestSchema>;

/** OpenAI body → llm:chat:v1 payload (registry llm-chat-v1 input). */
export function chatPayload(body: ChatBody): Record<string, unknown> {
  const {
    stream: _s,
    stream_options: _o,
    max_completion_tokens,
    ...rest
  } = withoutNulls(body as Record<string, unknown>) as ChatBody;
  const out: Record<string, unknown> = {
    ...rest,
    messages: body.messages.map((m) => (m.role === 'developer' ? { ...m, role: 'system' } : m)),
  };
  if (out.max_tokens === undefined && typeof max_completion_tokens === 'number') {
    out.max_tokens = max_completion_tokens;
  }
  if (typeof out.stop === 'string') out.stop = [out.stop];
  return out;
}

function completionPayload(body: Record<string, unknown>): Record<string, unknown> {
  const { stream: _s, stream_options: _o, ...rest } = withoutNulls(body);
  if (typeof rest.stop === 'string') rest.stop = [rest.stop];
  return rest;
}

/** Little-endian float32 bytes in base64, as OpenAI's `encoding_format: "base64"`. */
export function embeddingToBase64(v: readonly number[]): string {
  const f = new Float32Array(v);
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('base64');
}

function openAiUsage(result: unknown, tokensUsed: number | undefined) {
  const u = usageOf(result, tokensUsed);
  return u
    ? { prompt_tokens: u.prompt, completion_tokens: u.completion, total_tokens: u.total }
    : undefined;
}

/** OpenAI-compatible routes, in their own context so that every error has OpenAI's shape. */
export function openAiRoutes(deps: RouteDeps) {
  return async (app: IicpFastifyInstance): Promise<void> => {
    app.setErrorHandler(protocolErrorHandler('openai'));
    const { gateway, now } = deps;

    app.post(
      '/v1/chat/completions',
      { schema: { body: OpenAiChatRequestSchema } },
      async (request, reply) => {
        const body = request.body;
        const signal = clientGone(reply);
        const req = {
          intent: LLM_CHAT_INTENT,
          protocol: 'openai' as const,
          signal,
          model: body.model,
          traceparent: traceparentOf(request),
          log: request.log,
        };
        const payload = chatPayload(body);
        if (body.stream === true) {
          const started = await gateway.stream(req, payload);
          const id = `chatcmpl-${started.taskId ?? ''}`;
          const created = unixSeconds(now());
          let model = body.model ?? '';
          let finish: string | null = null;
          let usage: ReturnType<typeof openAiUsage>;
          const chunk = (delta: Record<string, unknown>, finishReason: string | null) => ({
            id,
            object: 'chat.completion.chunk',
            created,
            model,
            choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
          });
          const format: StreamFormat = {
            contentType: 'text/event-stream; charset=utf-8',
            start: () => {
              if (started.first?.model_used) model = started.first.model_used;
              return sse(chunk({ role: 'assistant', content: '' }, null));
            },
            delta: (d: StreamDelta) => {
              if (d.model_used) model = d.model_used;
              const delta = chatDeltaOf(d);
              if (d.event === 'completed') {
                finish = finishReasonOf(d.result) ?? 'stop';
                usage = openAiUsage(d.result, d.tokens_used);
              }
              return delta ? sse(chunk(delta, null)) : '';
            },
            end: () => {
              let out = sse(chunk({}, finish ?? 'stop'));
              if (body.stream_options?.include_usage && usage) {
                out += sse({
                  id,
                  object: 'chat.completion.chunk',
                  created,
                  model,
                  choices: [],
                  usage,
                });
              }
              return out + sse('[DONE]');
            },
            error: (f) =>
              sse({
                error: { message: f.message, type: 'server_error', code: f.code, param: null },
              }),
          };
          markAnswer(reply, started.nodeId, started.taskId);
          return sendStream(reply, started, format, signal);
        }
        const { response, nodeId } = await gateway.call(req, payload);
        markAnswer(reply, nodeId, response.task_id);
        const result = response.result as Record<string, unknown>;
        const choices = (Array.isArray(result.choices) ? result.choices : []).map((c, i) => {
          const choice = isRecord(c) ? c : {};
          const message = isRecord(choice.message) ? choice.message : {};
          return {
            index: typeof choice.index === 'number' ? choice.index : i,
            message: { role: 'assistant', content: null, refusal: null, ...message },
            logprobs: null,
            finish_reason: typeof choice.finish_reason === 'string' ? choice.finish_reason : 'stop',
          };
        });
        const usage = openAiUsage(result, response.metrics?.tokens_used);
        return {
          id: `chatcmpl-${response.task_id}`,
          object: 'chat.completion',
          created: unixSeconds(now()),
          model: response.model_used ?? body.model ?? '',
          choices,
          ...(usage ? { usage } : {}),
        };
      },
    );

    app.post(
      '/v1/completions',
      { schema: { body: OpenAiCompletionRequestSchema } },
      async (request, reply) => {
        const body = request.body;
        const signal = clientGone(reply);
        const req = {
          intent: LLM_COMPLETION_INTENT,
          protocol: 'openai' as const,
          signal,
          model: body.model,
          traceparent: traceparentOf(request),
          log: request.log,
        };
        const payload = completionPayload(body as Record<string, unknown>);
        if (body.stream === true) {
          const started = await gateway.stream(req, payload);
          const id = `cmpl-${started.taskId ?? ''}`;
          const created = unixSeconds(now());
          let model = body.model ?? '';
          let finish: string | null = null;
          let usage: ReturnType<typeof openAiUsage>;
          const chunk = (text: string, finishReason: string | null) => ({
            id,
            object: 'text_completion',
            created,
            model,
            choices: [{ index: 0, text, logprobs: null, finish_reason: finishReason }],
          });
          const format: StreamFormat = {
            contentType: 'text/event-stream; charset=utf-8',
            start: () => '',
            delta: (d) => {
              if (d.model_used) model = d.model_used;
              if (d.event === 'completed') {
                finish = finishReasonOf(d.result) ?? 'stop';
                usage = openAiUsage(d.result, d.tokens_used);
              }
              return d.text ? sse(chunk(d.text, null)) : '';
            },
            end: () => {
              let out = sse(chunk('', finish ?? 'stop'));
              if (body.stream_options?.include_usage && usage) {
                out += sse({ id, object: 'text_completion', created, model, choices: [], usage });
              }
              return out + sse('[DONE]');
            },
            error: (f) =>
              sse({
                error: { message: f.message, type: 'server_error', code: f.code, param: null },
              }),
          };
          markAnswer(reply, started.nodeId, started.taskId);
          return sendStream(reply, started, format, signal);
        }
        const { response, nodeId } = await gateway.call(req, payload);
        markAnswer(reply, nodeId, response.task_id);
        const result = response.result as Record<string, unknown>;
        const choices = (Array.isArray(result.choices) ? result.choices : []).map((c, i) => {
          const choice = isRecord(c) ? c : {};
          return {
            index: typeof choice.index === 'number' ? choice.index : i,
            text: typeof choice.text === 'string' ? choice.text : '',
            logprobs: null,
            finish_reason: typeof choice.finish_reason === 'string' ? choice.finish_reason : 'stop',
          };
        });
        const usage = openAiUsage(result, response.metrics?.tokens_used);
        return {
          id: `cmpl-${response.task_id}`,
          object: 'text_completion',
          created: unixSeconds(now()),
          model: response.model_used ?? body.model ?? '',
          choices,
          ...(usage ? { usage } : {}),
        };
      },
    );

    app.post(
      '/v1/embeddings',
      { schema: { body: OpenAiEmbeddingRequestSchema } },
      async (request, reply) => {
        const body = request.body;
        const signal = clientGone(reply);
        const { encoding_format: format, ...rest } = withoutNulls(body as Record<string, unknown>);
        const { response, nodeId } = await gateway.call<{
          data: Array<Record<string, unknown>>;
          usage?: unknown;
        }>(
          {
            intent: LLM_EMBEDDING_INTENT,
            protocol: 'openai',
            signal,
            model: body.model,
            traceparent: traceparentOf(request),
            log: request.log,
          },
          rest,
        );
        markAnswer(reply, nodeId, response.task_id);
        const data = response.result.data.map((d, i) => {
          const vector = d.embedding as number[];
          return {
            object: 'embedding',
            index: typeof d.index === 'number' ? d.index : i,
            embedding: format === 'base64' ? embeddingToBase64(vector) : vector,
          };
        });
        const u = usageOf(response.result, response.metrics?.tokens_used);
        return {
          object: 'list',
          data,
          model: response.model_used ?? body.model ?? '',
          usage: { prompt_tokens: u?.prompt ?? u?.total ?? 0, total_tokens: u?.total ?? 0 },
        };
      },
    );

    app.get('/v1/models', async () => {
      const models = await servedModels(gateway);
      return {
        object: 'list',
        data: models.map((m) => ({
          id: m.id,
          object: 'model',
          created: 0,
          owned_by: 'iicp-mesh',
          intents: m.intents,
        })),
      };
    });
  };
}
