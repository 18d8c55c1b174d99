import { afterEach, describe, expect, it } from 'vitest';
import { llmNode } from './support/mesh.ts';
import { sample, startProxy, type TestProxy } from './support/proxy.ts';

// Streamed answers are written to the socket by the proxy's own writer: these tests pin
// what it sends (the bytes of every protocol's stream, in-band errors included) and that
// the server's reply hooks still apply (request id, Server-Timing, HTTP metrics).

let proxy: TestProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

/** The body with the per-request values (task id, timestamps) replaced by placeholders. */
function normalized(text: string): string {
  return text
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>')
    .replace(/"created":\d+/g, '"created":0')
    .replace(/msg_[0-9a-f]{32}/g, 'msg_<id>')
    .replace(/"created_at":"[^"]*"/g, '"created_at":"<time>"')
    .replace(/"(total_duration|load_duration|prompt_eval_duration|eval_duration)":\d+/g, '"$1":0');
}

async function post(path: string, body: unknown): Promise<Response> {
  return fetch(`${proxy!.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

const messages = [{ role: 'user', content: 'x' }];
const CASES: Array<[string, string, unknown]> = [
  ['openai chat', '/v1/chat/completions', { messages, stream: true }],
  [
    'openai chat with usage',
    '/v1/chat/completions',
    { model: 'm', messages, stream: true, stream_options: { include_usage: true } },
  ],
  ['openai completions', '/v1/completions', { prompt: 'x', stream: true }],
  ['anthropic messages', '/v1/messages', { model: 'm', max_tokens: 5, messages, stream: true }],
  ['ollama chat', '/api/chat', { model: 'm', messages }],
  ['ollama generate', '/api/generate', { model: 'm', prompt: 'x' }],
];

describe('streamed answers on the wire', () => {
  it.each(CASES)('%s: the same bytes, chunk after chunk', async (name, path, body) => {
    proxy = await startProxy([llmNode({ parts: ['one', ' two', ' "three"\n'] })]);
    const res = await post(path, body);
    expect(res.status).toBe(200);
    const t = normalized(await res.text());
    expect(t).toBe(GOLDEN[name]);
  });

  it.each(CASES)('%s: a failure after the start is the in-band error', async (name, path, body) => {
    proxy = await startProxy([llmNode({ parts: ['one'], failWith: 'backend_error' })]);
    const res = await post(path, body);
    expect(res.status).toBe(200);
    const t = normalized(await res.text());
    expect(t).toBe(GOLDEN_FAILED[name]);
  });

  it('the reply hooks apply: request id, Server-Timing, stream headers, HTTP and proxy metrics', async () => {
    proxy = await startProxy([llmNode({ parts: ['a', 'b'] })]);
    for (let i = 0; i < 2; i++) {
      const res = await post('/v1/chat/completions', { messages, stream: true });
      expect(res.headers.get('x-request-id')).toMatch(/\S/);
      expect(res.headers.get('server-timing')).toMatch(/^total;dur=\d+\.\d{3}$/);
      expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(res.headers.get('x-accel-buffering')).toBe('no');
      expect(res.headers.get('x-iicp-task-id')).toMatch(/^[0-9a-f-]{36}$/);
      await res.text();
    }
    const m = await proxy.metrics();
    expect(
      sample(m, 'http_request_duration_seconds_count', {
        route: '/v1/chat/completions',
        status_code: '200',
      }),
    ).toBe(2);
    expect(
      sample(m, 'iicp_proxy_requests_total', {
        intent: 'urn:iicp:intent:llm:chat:v1',
        protocol: 'openai',
        outcome: 'ok',
      }),
    ).toBe(2);
    expect(proxy.logs.filter((l) => l.includes('"msg":"routed"'))).toHaveLength(2);
  });
});

describe('buffered answers on the wire', () => {
  const BUFFERED: Array<[string, string, unknown]> = [
    ['openai chat', '/v1/chat/completions', { model: 'm', messages }],
    ['openai completions', '/v1/completions', { prompt: 'x' }],
    ['openai embeddings', '/v1/embeddings', { input: ['a', 'b'], encoding_format: 'float' }],
    ['anthropic messages', '/v1/messages', { model: 'm', max_tokens: 5, messages }],
    ['ollama chat', '/api/chat', { model: 'm', messages, stream: false }],
    ['ollama generate', '/api/generate', { model: 'm', prompt: 'x', stream: false }],
  ];
  it.each(BUFFERED)('%s: the same body', async (name, path, body) => {
    proxy = await startProxy([llmNode({ parts: ['one', ' two'] })]);
    const res = await post(path, body);
    expect(res.status).toBe(200);
    const t = normalized(await res.text());
    expect(t).toBe(GOLDEN_BUFFERED[name]);
  });
});

/** What the proxy sent before its stream writer was rewritten (Readable.from over a generator). */
const GOLDEN: Record<string, string> = {
  'openai chat': [
    'data: {"id":"chatcmpl-<uuid>","object":"chat.completion.chunk","created":0,"model":"","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n',
    '\n',
    'data: {"id":"chatcmpl-<uuid>","object":"chat.completion.chunk","created":0,"model":"","choices":[{"index":0,"delta":{"content":"one"},"logprobs":null,"finish_reason":null}]}\n',
    '\n',
    'data: {"id":"chatcmpl-<uuid>","object":"chat.completion.chunk","created":0,"model":"","choices":[{"index":0,"delta":{"content":" two"},"logprobs":null,"finish_reason":null}]}\n',
    '\n',
    'data: {"id":"chatcmpl-<uuid>","object":"chat.completion.chunk","created":0,"model":"","choices":[{"index":0,"delta":{"content":" \\"three\\"\\n"},"logprobs":null,"finish_reason":null}]}\n',
    '\n',
    'data: {"id":"chatcmpl-<uuid>","object":"chat.completion.chunk","created":0,"model":"scripted-model","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}\n',
    '\n',
    'data: [DONE]\n',
    '\n',
  ].join(''),
  'openai chat with usage': [
    'data: {"id":"chatcmpl-<uuid>","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n',
    '\n',
    'data: {"id":"chatcmpl-<uuid>","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{"content":"one"},"logprobs":null,"finish_reason":null}]}\n',
    '\n',
    'data: {"id":"chatcmpl-<uuid>","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{"content":" two"},"logprobs":null,"finish_reason":null}]}\n',
    '\n',
    'data: {"id":"chatcmpl-<uuid>","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{"content":" \\"three\\"\\n"},"logprobs":null,"finish_reason":null}]}\n',
    '\n',
    'data: {"id":"chatcmpl-<uuid>","object":"chat.completion.chunk","created":0,"model":"scripted-model","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}\n',
    '\n',
    'data: {"id":"chatcmpl-<uuid>","object":"chat.completion.chunk","created":0,"model":"scripted-model","choices":[],"usage":{"prompt_tokens":0,"completion_tokens":7,"total_tokens":7}}\n',
    '\n',
    'data: [DONE]\n',
    '\n',
  ].join(''),
  'openai completions': [
    'data: {"id":"cmpl-<uuid>","object":"text_completion","created":0,"model":"","choices":[{"index":0,"text":"one","logprobs":null,"finish_reason":null}]}\n',
    '\n',
    'data: {"id":"cmpl-<uuid>","object":"text_completion","created":0,"model":"","choices":[{"index":0,"text":" two","logprobs":null,"finish_reason":null}]}\n',
    '\n',
    'data: {"id":"cmpl-<uuid>","object":"text_completion","created":0,"model":"","choices":[{"index":0,"text":" \\"three\\"\\n","logprobs":null,"finish_reason":null}]}\n',
    '\n',
    'data: {"id":"cmpl-<uuid>","object":"text_completion","created":0,"model":"scripted-model","choices":[{"index":0,"text":"","logprobs":null,"finish_reason":"stop"}]}\n',
    '\n',
    'data: [DONE]\n',
    '\n',
  ].join(''),
  'anthropic messages': [
    'event: message_start\n',
    'data: {"type":"message_start","message":{"id":"msg_<id>","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0}}}\n',
    '\n',
    'event: content_block_start\n',
    'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n',
    '\n',
    'event: content_block_delta\n',
    'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"one"}}\n',
    '\n',
    'event: content_block_delta\n',
    'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" two"}}\n',
    '\n',
    'event: content_block_delta\n',
    'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" \\"three\\"\\n"}}\n',
    '\n',
    'event: content_block_stop\n',
    'data: {"type":"content_block_stop","index":0}\n',
    '\n',
    'event: message_delta\n',
    'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":7}}\n',
    '\n',
    'event: message_stop\n',
    'data: {"type":"message_stop"}\n',
    '\n',
  ].join(''),
  'ollama chat': [
    '{"model":"m","created_at":"<time>","message":{"role":"assistant","content":"one"},"done":false}\n',
    '{"model":"m","created_at":"<time>","message":{"role":"assistant","content":" two"},"done":false}\n',
    '{"model":"m","created_at":"<time>","message":{"role":"assistant","content":" \\"three\\"\\n"},"done":false}\n',
    '{"model":"scripted-model","created_at":"<time>","message":{"role":"assistant","content":""},"done_reason":"stop","done":true,"total_duration":0,"eval_count":7}\n',
  ].join(''),
  'ollama generate': [
    '{"model":"m","created_at":"<time>","response":"one","done":false}\n',
    '{"model":"m","created_at":"<time>","response":" two","done":false}\n',
    '{"model":"m","created_at":"<time>","response":" \\"three\\"\\n","done":false}\n',
    '{"model":"scripted-model","created_at":"<time>","response":"","done_reason":"stop","done":true,"total_duration":0,"eval_count":7}\n',
  ].join(''),
};
const GOLDEN_FAILED: Record<string, string> = {
  'openai chat': [
    'data: {"id":"chatcmpl-<uuid>","object":"chat.completion.chunk","created":0,"model":"","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n',
    '\n',
    'data: {"id":"chatcmpl-<uuid>","object":"chat.completion.chunk","created":0,"model":"","choices":[{"index":0,"delta":{"content":"one"},"logprobs":null,"finish_reason":null}]}\n',
    '\n',
    'data: {"error":{"message":"scripted failure","type":"server_error","code":"backend_error","param":null}}\n',
    '\n',
  ].join(''),
  'openai chat with usage': [
    'data: {"id":"chatcmpl-<uuid>","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n',
    '\n',
    'data: {"id":"chatcmpl-<uuid>","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{"content":"one"},"logprobs":null,"finish_reason":null}]}\n',
    '\n',
    'data: {"error":{"message":"scripted failure","type":"server_error","code":"backend_error","param":null}}\n',
    '\n',
  ].join(''),
  'openai completions': [
    'data: {"id":"cmpl-<uuid>","object":"text_completion","created":0,"model":"","choices":[{"index":0,"text":"one","logprobs":null,"finish_reason":null}]}\n',
    '\n',
    'data: {"error":{"message":"scripted failure","type":"server_error","code":"backend_error","param":null}}\n',
    '\n',
  ].join(''),
  'anthropic messages': [
    'event: message_start\n',
    'data: {"type":"message_start","message":{"id":"msg_<id>","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0}}}\n',
    '\n',
    'event: content_block_start\n',
    'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n',
    '\n',
    'event: content_block_delta\n',
    'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"one"}}\n',
    '\n',
    'event: error\n',
    'data: {"type":"error","error":{"type":"api_error","message":"scripted failure","iicp_code":"backend_error"}}\n',
    '\n',
  ].join(''),
  'ollama chat': [
    '{"model":"m","created_at":"<time>","message":{"role":"assistant","content":"one"},"done":false}\n',
    '{"error":"scripted failure","code":"backend_error"}\n',
  ].join(''),
  'ollama generate': [
    '{"model":"m","created_at":"<time>","response":"one","done":false}\n',
    '{"error":"scripted failure","code":"backend_error"}\n',
  ].join(''),
};

/** Buffered answers as the routes sent them before they shared their OpenAI code. */
const GOLDEN_BUFFERED: Record<string, string> = {
  'openai chat':
    '{"id":"chatcmpl-<uuid>","object":"chat.completion","created":0,"model":"scripted-model","choices":[{"index":0,"message":{"role":"assistant","content":"one two","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}',
  'openai completions':
    '{"id":"cmpl-<uuid>","object":"text_completion","created":0,"model":"scripted-model","choices":[{"index":0,"text":"one two","logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}',
  'openai embeddings':
    '{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.25,-0.5,1]}],"model":"scripted-model","usage":{"prompt_tokens":2,"total_tokens":2}}',
  'anthropic messages':
    '{"id":"msg_<id>","type":"message","role":"assistant","model":"scripted-model","content":[{"type":"text","text":"one two"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":4}}',
  'ollama chat':
    '{"model":"scripted-model","created_at":"<time>","message":{"role":"assistant","content":"one two"},"done_reason":"stop","done":true,"total_duration":0,"prompt_eval_count":3,"eval_count":4}',
  'ollama generate':
    '{"model":"scripted-model","created_at":"<time>","response":"one two","done_reason":"stop","done":true,"total_duration":0,"prompt_eval_count":3,"eval_count":4}',
};
