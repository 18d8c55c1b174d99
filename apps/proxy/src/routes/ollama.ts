import { LLM_CHAT_INTENT, LLM_COMPLETION_INTENT, type StreamDelta } from '@iicp/client';
import type { IicpFastifyInstance } from '@iicp/http';
import type { FastifyReply, FastifyRequest } from '@iicp/http';
import { z } from 'zod';
import { protocolErrorHandler } from '../errors.ts';
import { finishReasonOf, firstChoice, isRecord, usageOf } from '../llm.ts';
import { sendStream, type StreamFormat } from '../stream.ts';
import { markAnswer, routeRequestOf, type RouteDeps } from './common.ts';
import { servedModels } from './models.ts';

/**
 * Version `GET /api/version` reports: the Ollama API level these routes follow (chat,
 * generate, tags, version as documented in Ollama's docs/api.md), not a release of Ollama.
 */
export const OLLAMA_API_VERSION = '0.5.0';

/** Ollama `options` the intents understand; the rest pass through untouched. */
const OllamaOptionsSchema = z.looseObject({
  temperature: z.number().min(0).max(2).optional(),
  num_predict: z.int().optional(),
  stop: z.array(z.string()).optional(),
});

/** `POST /api/chat` body (Ollama docs/api.md "Generate a chat completion"). */
export const OllamaChatRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z
    .array(
      z.looseObject({
        role: z.enum(['system', 'user', 'assistant', 'tool']),
        content: z.string().optional(),
        images: z.array(z.string()).optional(),
      }),
    )
    .optional(),
  stream: z.boolean().optional(),
  options: OllamaOptionsSchema.optional(),
});

/** `POST /api/generate` body (Ollama docs/api.md "Generate a completion"). */
export const OllamaGenerateRequestSchema = z.looseObject({
  model: z.string().min(1),
  prompt: z.string().optional(),
  system: z.string().optional(),
  stream: z.boolean().optional(),
  options: OllamaOptionsSchema.optional(),
});

type OllamaOptions = z.infer<typeof OllamaOptionsSchema>;

/** Ollama sampling options → intent fields (`num_predict` ≤ 0 means "no limit" in Ollama). */
function samplingFields(o: OllamaOptions | undefined): Record<string, unknown> {
  if (!o) return {};
  return {
    ...(o.temperature !== undefined ? { temperature: o.temperature } : {}),
    ...(o.num_predict !== undefined && o.num_predict > 0 ? { max_tokens: o.num_predict } : {}),
    ...(o.stop !== undefined ? { stop: o.stop } : {}),
  };
}

/** Ollama durations are nanoseconds. */
const ns = (ms: number) => Math.max(0, Math.round(ms * 1e6));

/** Ollama-compatible routes, in their own context: errors are `{"error":"…"}`. */
export function ollamaRoutes(deps: RouteDeps) {
  return async (app: IicpFastifyInstance): Promise<void> => {
    app.setErrorHandler(protocolErrorHandler('ollama'));
    // `curl -d '{…}'` sends a form content type; Ollama reads JSON whatever the header says.
    app.addContentTypeParser(
      ['text/plain', 'application/x-www-form-urlencoded'],
      { parseAs: 'string' },
      app.getDefaultJsonParser('error', 'error'),
    );
    const { gateway, now } = deps;
    const createdAt = () => new Date(now()).toISOString();

    async function run(
      kind: 'chat' | 'generate',
      request: FastifyRequest & { body: { model: string; stream?: boolean | undefined } },
      reply: FastifyReply,
      payload: Record<string, unknown>,
    ) {
      const started = now();
      const model = request.body.model;
      const intent = kind === 'chat' ? LLM_CHAT_INTENT : LLM_COMPLETION_INTENT;
      const req = routeRequestOf(request, reply, intent, 'ollama', model);
      const body = (text: string) =>
        kind === 'chat' ? { message: { role: 'assistant', content: text } } : { response: text };
      if (request.body.stream !== false) {
        const s = await gateway.stream(req, payload);
        let used = s.first?.model_used ?? model;
        let finish: string | null | undefined;
        let tokens: number | undefined;
        const line = (v: unknown) => `${JSON.stringify(v)}\n`;
        const format: StreamFormat = {
          contentType: 'application/x-ndjson',
          start: () => '',
          delta: (d: StreamDelta) => {
            if (d.model_used) used = d.model_used;
            if (d.event === 'completed') {
              finish = finishReasonOf(d.result);
              tokens = d.tokens_used;
            }
            return d.text
              ? line({ model: used, created_at: createdAt(), ...body(d.text), done: false })
              : '';
          },
          end: () =>
            line({
              model: used,
              created_at: createdAt(),
              ...body(''),
              done_reason: finish ?? 'stop',
              done: true,
              total_duration: ns(now() - started),
              ...(tokens !== undefined ? { eval_count: tokens } : {}),
            }),
          error: (f) => line({ error: f.message, code: f.code }),
        };
        return sendStream(reply, s, format, req.signal);
      }
      const { response, nodeId } = await gateway.call(req, payload);
      markAnswer(reply, nodeId, response.task_id);
      const choice = firstChoice(response.result) ?? {};
      const text =
        kind === 'chat'
          ? isRecord(choice.message) && typeof choice.message.content === 'string'
            ? choice.message.content
            : ''
          : typeof choice.text === 'string'
            ? choice.text
            : '';
      const usage = usageOf(response.result, response.metrics?.tokens_used);
      return {
        model: response.model_used ?? model,
        created_at: createdAt(),
        ...body(text),
        done_reason: typeof choice.finish_reason === 'string' ? choice.finish_reason : 'stop',
        done: true,
        total_duration: ns(now() - started),
        ...(usage ? { prompt_eval_count: usage.prompt, eval_count: usage.completion } : {}),
      };
    }

    app.post('/api/chat', { schema: { body: OllamaChatRequestSchema } }, async (request, reply) => {
      const b = request.body;
      if (!b.messages || b.messages.length === 0) {
        // Ollama answers an empty conversation by loading the model; there is nothing to load here.
        return {
          model: b.model,
          created_at: createdAt(),
          message: { role: 'assistant', content: '' },
          done_reason: 'load',
          done: true,
        };
      }
      const { stream: _s, options, ...rest } = b;
      const payload = { ...rest, ...samplingFields(options) };
      return run('chat', request, reply, payload);
    });

    app.post(
      '/api/generate',
      { schema: { body: OllamaGenerateRequestSchema } },
      async (request, reply) => {
        const b = request.body;
        if (b.prompt === undefined || b.prompt === '') {
          return {
            model: b.model,
            created_at: createdAt(),
            response: '',
            done_reason: 'load',
            done: true,
          };
        }
        const { stream: _s, options, system, prompt, ...rest } = b;
        // llm:completion:v1 takes one prompt; a system text goes in front of it.
        const payload = {
          ...rest,
          prompt: system ? `${system}\n\n${prompt}` : prompt,
          ...samplingFields(options),
        };
        return run('generate', request, reply, payload);
      },
    );

    app.get('/api/tags', async () => {
      const models = await servedModels(gateway, [LLM_CHAT_INTENT, LLM_COMPLETION_INTENT]);
      return {
        models: models.map((m) => ({
          name: m.id,
          model: m.id,
          modified_at: new Date(0).toISOString(),
          size: 0,
          digest: '',
          details: {
            format: '',
            family: '',
            families: null,
            parameter_size: '',
            quantization_level: '',
          },
        })),
      };
    });

    app.get('/api/version', async () => ({ version: OLLAMA_API_VERSION }));
  };
}
