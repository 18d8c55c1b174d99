import { LLM_CHAT_INTENT, type StreamDelta } from '@iicp/client';
import type { IicpFastifyInstance } from '@iicp/http';
import { IicpProtocolError } from '@iicp/wire';
import { z } from 'zod';
import { errorBody, protocolErrorHandler } from '../errors.ts';
import { finishReasonOf, firstChoice, isRecord, usageOf } from '../llm.ts';
import { sendStream, sse, type StreamFormat } from '../stream.ts';
import { markAnswer, routeRequestOf, type RouteDeps } from './common.ts';

const TextBlockSchema = z.looseObject({ type: z.literal('text'), text: z.string() });
const BlockSchema = z.looseObject({ type: z.string().min(1) });

/** `POST /v1/messages` body (Anthropic Messages API); text content only. */
export const AnthropicMessagesRequestSchema = z.looseObject({
  model: z.string().min(1),
  max_tokens: z.int().min(1),
  messages: z
    .array(
      z.looseObject({
        role: z.enum(['user', 'assistant']),
        content: z.union([z.string(), z.array(BlockSchema).min(1)]),
      }),
    )
    .min(1),
  system: z.union([z.string(), z.array(TextBlockSchema)]).optional(),
  stream: z.boolean().optional(),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  stop_sequences: z.array(z.string()).max(16).optional(),
});
type MessagesBody = z.infer<typeof AnthropicMessagesRequestSchema>;

/** Blocks → text; anything but text blocks is refused (the chat intent carries text turns). */
function textOf(content: string | Array<{ type: string }>, field: string): string {
  if (typeof content === 'string') return content;
  return content
    .map((b, j) => {
      const t = TextBlockSchema.safeParse(b);
      if (!t.success) {
        throw new IicpProtocolError(
          'validation_error',
          `${field}[${j}]: only text content blocks are supported`,
          { details: { field: `${field}[${j}].type` } },
        );
      }
      return t.data.text;
    })
    .join('');
}

/** Anthropic body → llm:chat:v1 payload. */
export function messagesPayload(b: MessagesBody): Record<string, unknown> {
  const messages: Array<{ role: string; content: string }> = [];
  if (b.system !== undefined) {
    messages.push({
      role: 'system',
      content: typeof b.system === 'string' ? b.system : b.system.map((s) => s.text).join(''),
    });
  }
  b.messages.forEach((m, i) =>
    messages.push({ role: m.role, content: textOf(m.content, `messages[${i}].content`) }),
  );
  return {
    model: b.model,
    messages,
    max_tokens: b.max_tokens,
    ...(b.temperature !== undefined ? { temperature: b.temperature } : {}),
    ...(b.top_p !== undefined ? { top_p: b.top_p } : {}),
    ...(b.stop_sequences !== undefined ? { stop: b.stop_sequences } : {}),
  };
}

/** OpenAI-style finish reason → Anthropic `stop_reason`. */
export function stopReason(finish: string | null | undefined): string {
  switch (finish) {
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
      return 'tool_use';
    default:
      return 'end_turn';
  }
}

const messageId = (taskId: string | undefined) => `msg_${(taskId ?? '').replace(/-/g, '')}`;

/** Anthropic-compatible routes: errors are `{"type":"error","error":{type,message}}`. */
export function anthropicRoutes(deps: RouteDeps) {
  return async (app: IicpFastifyInstance): Promise<void> => {
    app.setErrorHandler(protocolErrorHandler('anthropic'));
    const { gateway } = deps;

    app.post(
      '/v1/messages',
      { schema: { body: AnthropicMessagesRequestSchema } },
      async (request, reply) => {
        const b = request.body;
        const req = routeRequestOf(request, reply, LLM_CHAT_INTENT, 'anthropic', b.model);
        const payload = messagesPayload(b);
        if (b.stream === true) {
          const s = await gateway.stream(req, payload);
          let finish: string | null | undefined;
          let tokens: number | undefined;
          const format: StreamFormat = {
            contentType: 'text/event-stream; charset=utf-8',
            start: () =>
              sse(
                {
                  type: 'message_start',
                  message: {
                    id: messageId(s.taskId),
                    type: 'message',
                    role: 'assistant',
                    model: s.first?.model_used ?? b.model,
                    content: [],
                    stop_reason: null,
                    stop_sequence: null,
                    usage: { input_tokens: 0, output_tokens: 0 },
                  },
                },
                'message_start',
              ) +
              sse(
                {
                  type: 'content_block_start',
                  index: 0,
                  content_block: { type: 'text', text: '' },
                },
                'content_block_start',
              ),
            delta: (d: StreamDelta) => {
              if (d.event === 'completed') {
                finish = finishReasonOf(d.result);
                tokens = d.tokens_used;
              }
              return d.text
                ? sse(
                    {
                      type: 'content_block_delta',
                      index: 0,
                      delta: { type: 'text_delta', text: d.text },
                    },
                    'content_block_delta',
                  )
                : '';
            },
            end: () =>
              sse({ type: 'content_block_stop', index: 0 }, 'content_block_stop') +
              sse(
                {
                  type: 'message_delta',
                  delta: { stop_reason: stopReason(finish), stop_sequence: null },
                  usage: { output_tokens: tokens ?? 0 },
                },
                'message_delta',
              ) +
              sse({ type: 'message_stop' }, 'message_stop'),
            error: (f) => sse(errorBody('anthropic', f), 'error'),
          };
          return sendStream(reply, s, format, req.signal);
        }
        const { response, nodeId } = await gateway.call(req, payload);
        markAnswer(reply, nodeId, response.task_id);
        const choice = firstChoice(response.result) ?? {};
        const text =
          isRecord(choice.message) && typeof choice.message.content === 'string'
            ? choice.message.content
            : '';
        const usage = usageOf(response.result, response.metrics?.tokens_used);
        return {
          id: messageId(response.task_id),
          type: 'message',
          role: 'assistant',
          model: response.model_used ?? b.model,
          content: [{ type: 'text', text }],
          stop_reason: stopReason(
            typeof choice.finish_reason === 'string' ? choice.finish_reason : null,
          ),
          stop_sequence: null,
          usage: { input_tokens: usage?.prompt ?? 0, output_tokens: usage?.completion ?? 0 },
        };
      },
    );
  };
}
