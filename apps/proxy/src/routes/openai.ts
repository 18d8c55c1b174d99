import {
  LLM_CHAT_INTENT,
  LLM_COMPLETION_INTENT,
  LLM_EMBEDDING_INTENT,
  type IicpResponse,
  type StreamDelta,
} from '@iicp/client';
import type { FastifyReply, FastifyRequest, IicpFastifyInstance } from '@iicp/http';
import type { StartedStream } from '../gateway.ts';
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
import { markAnswer, routeRequestOf, type RouteDeps } from './common.ts';
import { fastChatBody } from './fast-body.ts';
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

/**
 * OpenAI body → llm:chat:v1 payload (registry llm-chat-v1 input): top-level `null`s and
 * the stream options dropped, `developer` turns sent as `system`, `max_completion_tokens`
 * as `max_tokens`, a `stop` string as a list. One pass over the body; the same object
 * (keys in the same order) as {@link chatPayloadReference}, pinned by a property test.
 */
export function chatPayload(body: ChatBody): Record<string, unknown> {
  const b = body as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  let maxCompletion: unknown;
  for (const k in b) {
    const v = b[k];
    if (v === null || v === undefined || !Object.hasOwn(b, k)) continue;
    if (k === 'stream' || k === 'stream_options') continue;
    if (k === 'max_completion_tokens') {
      maxCompletion = v;
      continue;
    }
    if (k === '__proto__') return chatPayloadReference(body);
    out[k] = k === 'messages' ? body.messages.map(systemForDeveloper) : v;
  }
  if (out.max_tokens === undefined && typeof maxCompletion === 'number') {
    out.max_tokens = maxCompletion;
  }
  if (typeof out.stop === 'string') out.stop = [out.stop];
  return out;
}

function systemForDeveloper<M extends { role: string }>(m: M): M {
  return m.role === 'developer' ? { ...m, role: 'system' } : m;
}

/** The general form of {@link chatPayload}. */
export function chatPayloadReference(body: ChatBody): Record<string, unknown> {
  const {
    stream: _s,
    stream_options: _o,
    max_completion_tokens,
    ...rest
  } = withoutNulls(body as Record<string, unknown>) as ChatBody;
  const out: Record<string, unknown> = {
    ...rest,
    messages: body.messages.map(systemForDeveloper),
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

/** What differs between the Chat Completions and the legacy Completions answers. */
interface OpenAiShape {
  readonly intent: string;
  /** `object` of a streamed chunk and of the whole answer. */
  readonly chunkObject: string;
  readonly answerObject: string;
  readonly idPrefix: string;
  /** A chunk's choice content for a delta (`{delta}` or `{text}`); undefined: no chunk. */
  piece(d: StreamDelta): Record<string, unknown> | undefined;
  /** The content of the opening chunk (chat's role chunk); undefined: none. */
  readonly opening: Record<string, unknown> | undefined;
  /** The content of the closing chunk (the one carrying `finish_reason`). */
  readonly closing: Record<string, unknown>;
  /** The content of one buffered choice (`{message}` or `{text}`). */
  answer(choice: Record<string, unknown>): Record<string, unknown>;
}

const CHAT: OpenAiShape = {
  intent: LLM_CHAT_INTENT,
  chunkObject: 'chat.completion.chunk',
  answerObject: 'chat.completion',
  idPrefix: 'chatcmpl-',
  piece: (d) => {
    const delta = chatDeltaOf(d);
    return delta ? { delta } : undefined;
  },
  opening: { delta: { role: 'assistant', content: '' } },
  closing: { delta: {} },
  answer: (choice) => {
    const message = isRecord(choice.message) ? choice.message : {};
    return { message: { role: 'assistant', content: null, refusal: null, ...message } };
  },
};

const COMPLETION: OpenAiShape = {
  intent: LLM_COMPLETION_INTENT,
  chunkObject: 'text_completion',
  answerObject: 'text_completion',
  idPrefix: 'cmpl-',
  piece: (d) => (d.text ? { text: d.text } : undefined),
  opening: undefined,
  closing: { text: '' },
  answer: (choice) => ({ text: typeof choice.text === 'string' ? choice.text : '' }),
};

type StreamOptions = { include_usage?: boolean | null | undefined } | null | undefined;

/** The chunks of a streamed answer, in OpenAI's shape for `shape`. */
function openAiStreamFormat(
  shape: OpenAiShape,
  started: StartedStream,
  requestedModel: string | undefined,
  streamOptions: StreamOptions,
  created: number,
): StreamFormat {
  const id = `${shape.idPrefix}${started.taskId ?? ''}`;
  let model = requestedModel ?? '';
  let finish: string | null = null;
  let usage: ReturnType<typeof openAiUsage>;
  const chunk = (content: Record<string, unknown>, finishReason: string | null) => ({
    id,
    object: shape.chunkObject,
    created,
    model,
    choices: [{ index: 0, ...content, logprobs: null, finish_reason: finishReason }],
  });
  return {
    contentType: 'text/event-stream; charset=utf-8',
    start: () => {
      if (started.first?.model_used) model = started.first.model_used;
      return shape.opening ? sse(chunk(shape.opening, null)) : '';
    },
    delta: (d) => {
      if (d.model_used) model = d.model_used;
      const piece = shape.piece(d);
      if (d.event === 'completed') {
        finish = finishReasonOf(d.result) ?? 'stop';
        usage = openAiUsage(d.result, d.tokens_used);
      }
      return piece ? sse(chunk(piece, null)) : '';
    },
    end: () => {
      let out = sse(chunk(shape.closing, finish ?? 'stop'));
      if (streamOptions?.include_usage && usage) {
        out += sse({ id, object: shape.chunkObject, created, model, choices: [], usage });
      }
      return out + sse('[DONE]');
    },
    error: (f) =>
      sse({ error: { message: f.message, type: 'server_error', code: f.code, param: null } }),
  };
}

/** A buffered answer in OpenAI's shape for `shape`. */
function openAiAnswer(
  shape: OpenAiShape,
  response: IicpResponse,
  requestedModel: string | undefined,
  created: number,
) {
  const result = response.result as Record<string, unknown>;
  const choices = (Array.isArray(result.choices) ? result.choices : []).map((c, i) => {
    const choice = isRecord(c) ? c : {};
    return {
      index: typeof choice.index === 'number' ? choice.index : i,
      ...shape.answer(choice),
      logprobs: null,
      finish_reason: typeof choice.finish_reason === 'string' ? choice.finish_reason : 'stop',
    };
  });
  const usage = openAiUsage(result, response.metrics?.tokens_used);
  return {
    id: `${shape.idPrefix}${response.task_id}`,
    object: shape.answerObject,
    created,
    model: response.model_used ?? requestedModel ?? '',
    choices,
    ...(usage ? { usage } : {}),
  };
}

/** OpenAI-compatible routes, in their own context so that every error has OpenAI's shape. */
export function openAiRoutes(deps: RouteDeps) {
  return async (app: IicpFastifyInstance): Promise<void> => {
    app.setErrorHandler(protocolErrorHandler('openai'));
    const { gateway, now } = deps;

    /** Chat Completions and Completions: one task, streamed or buffered. */
    async function complete(
      shape: OpenAiShape,
      request: FastifyRequest,
      reply: FastifyReply,
      body: {
        readonly model?: string | undefined;
        readonly stream?: boolean | null | undefined;
        readonly stream_options?: StreamOptions;
      },
      payload: Record<string, unknown>,
    ) {
      const req = routeRequestOf(request, reply, shape.intent, 'openai', body.model);
      if (body.stream === true) {
        const started = await gateway.stream(req, payload);
        const created = unixSeconds(now());
        const format = openAiStreamFormat(shape, started, body.model, body.stream_options, created);
        return sendStream(reply, started, format, req.signal);
      }
      const { response, nodeId } = await gateway.call(req, payload);
      markAnswer(reply, nodeId, response.task_id);
      return openAiAnswer(shape, response, body.model, unixSeconds(now()));
    }

    // The usual chat body is read without the zod walk (the same value, see fast-body.ts);
    // any other body, and every error, still comes from the schema.
    const compile = app.validatorCompiler;
    app.post(
      '/v1/chat/completions',
      {
        schema: { body: OpenAiChatRequestSchema },
        ...(compile
          ? {
              validatorCompiler: (route: Parameters<typeof compile>[0]) => {
                const general = compile(route);
                if (route.httpPart !== 'body') return general;
                return (data: unknown) => {
                  const value = fastChatBody(data);
                  return value ? { value } : general(data);
                };
              },
            }
          : {}),
      },
      async (request, reply) =>
        complete(CHAT, request, reply, request.body, chatPayload(request.body)),
    );

    app.post(
      '/v1/completions',
      { schema: { body: OpenAiCompletionRequestSchema } },
      async (request, reply) =>
        complete(
          COMPLETION,
          request,
          reply,
          request.body,
          completionPayload(request.body as Record<string, unknown>),
        ),
    );

    app.post(
      '/v1/embeddings',
      { schema: { body: OpenAiEmbeddingRequestSchema } },
      async (request, reply) => {
        const body = request.body;
        const req = routeRequestOf(request, reply, LLM_EMBEDDING_INTENT, 'openai', body.model);
        const { encoding_format: format, ...rest } = withoutNulls(body as Record<string, unknown>);
        const { response, nodeId } = await gateway.call<{
          data: Array<Record<string, unknown>>;
          usage?: unknown;
        }>(req, rest);
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
