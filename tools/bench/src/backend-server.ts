/**
 * The scripted OpenAI-compatible backend every task-path and relay scenario calls, in
 * its own process so it never shares a CPU queue with the load generator. Answers are
 * fixed: a buffered chat completion ("pong"), or an SSE stream of STREAM_TOKENS
 * tokens, the first at once and the rest STREAM_GAP_MS apart (so time to first token
 * and time to last token differ and buffering anywhere on the path shows up).
 *
 * Prints `backend listening on http://127.0.0.1:PORT`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { BACKEND_MODEL, BACKEND_REPLY, STREAM_GAP_MS, STREAM_TOKENS } from './backend-spec.ts';

const completion = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: BACKEND_MODEL,
  choices: [
    { index: 0, message: { role: 'assistant', content: BACKEND_REPLY }, finish_reason: 'stop' },
  ],
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
});
const models = JSON.stringify({ object: 'list', data: [{ id: BACKEND_MODEL, object: 'model' }] });
const chunk = (content: string): string =>
  `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1_700_000_000, model: BACKEND_MODEL, choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
const tokens = Array.from({ length: STREAM_TOKENS }, (_, i) =>
  chunk(`${i === 0 ? '' : ' '}tok${i}`),
);
const tail =
  `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1_700_000_000, model: BACKEND_MODEL, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: STREAM_TOKENS, total_tokens: 3 + STREAM_TOKENS } })}\n\n` +
  'data: [DONE]\n\n';

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (req.method === 'GET' && req.url?.endsWith('/models')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(models);
      return;
    }
    let stream = false;
    try {
      stream =
        (JSON.parse(Buffer.concat(chunks).toString() || '{}') as { stream?: boolean }).stream ===
        true;
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"bad json"}');
      return;
    }
    if (!stream) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(completion);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let i = 0;
    const next = (): void => {
      if (res.destroyed) return;
      res.write(tokens[i++]!);
      if (i < tokens.length) setTimeout(next, STREAM_GAP_MS);
      else res.end(tail);
    };
    next();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  console.log(`backend listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
