import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Scripted OpenAI-, Ollama- and Anthropic-shaped servers over real HTTP on
 * 127.0.0.1:0. They answer the routes the backend clients call, from a script the
 * test controls; `gate` lets a test hold a stream after its first token to prove it
 * is forwarded before the backend is done.
 */
export type Shape = 'openai' | 'ollama' | 'anthropic';

export interface Script {
  tokens: string[];
  model: string;
  models: string[];
  /** Answer every inference route with this status (and an error body quoting `errorText`). */
  status?: number;
  errorText?: string;
  /** Never answer inference routes (deadline tests). */
  hang?: boolean;
  /** Awaited after the first streamed token. */
  gate?: Promise<void>;
  /** Awaited before any inference reply is written. */
  before?: Promise<void>;
  /** Ollama without /api/embed (pre-0.3). */
  legacyEmbeddings?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown> | undefined;
  /** Fields of a multipart upload; a file part as its name and base64 bytes. */
  form?: Record<string, string | { filename: string; base64: string }>;
}

/** The audio bytes the scripted `/v1/audio/speech` answers with. */
export const SCRIPTED_SPEECH_BYTES = Buffer.from([0x49, 0x44, 0x33, 0x04, 0x00, 0xff, 0xfb, 0x90]);

export interface ScriptedBackend {
  url: string;
  script: Script;
  requests: RecordedRequest[];
  /** Requests whose client went away before the reply finished. */
  aborted: number;
  /** Resolves the next time a request is aborted by its client. */
  nextAbort(): Promise<void>;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

const USAGE = { prompt: 5, completion: 7 };

export async function startScriptedBackend(
  shape: Shape,
  partial: Partial<Script> = {},
): Promise<ScriptedBackend> {
  const script: Script = {
    tokens: ['Hel', 'lo', '!'],
    model: 'test-model',
    models: ['test-model', 'other-model'],
    ...partial,
  };
  const requests: RecordedRequest[] = [];
  let abortWaiters: (() => void)[] = [];
  const state = { aborted: 0 };

  async function stream(
    res: ServerResponse,
    kind: 'sse' | 'ndjson',
    frames: (tok: string, i: number) => string,
    head: string,
    tail: string,
  ): Promise<void> {
    res.writeHead(200, {
      'content-type': kind === 'sse' ? 'text/event-stream' : 'application/x-ndjson',
      'cache-control': 'no-cache',
    });
    if (head) res.write(head);
    for (const [i, tok] of script.tokens.entries()) {
      if (res.destroyed) return;
      res.write(frames(tok, i));
      if (i === 0 && script.gate) await script.gate;
    }
    if (!res.destroyed) res.end(tail);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const bytes = await readBody(req);
    const raw = bytes.toString('utf8');
    let body: Record<string, unknown> | undefined;
    let form: RecordedRequest['form'];
    const contentType = String(req.headers['content-type'] ?? '');
    if (contentType.startsWith('multipart/form-data')) {
      // The fetch Request parses multipart the way a real server's framework would.
      const parsed = await new Request('http://scripted/', {
        method: 'POST',
        headers: { 'content-type': contentType },
        body: bytes,
      }).formData();
      form = {};
      for (const [k, v] of parsed.entries()) {
        form[k] =
          typeof v === 'string'
            ? v
            : { filename: v.name, base64: Buffer.from(await v.arrayBuffer()).toString('base64') };
      }
    } else {
      try {
        body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
      } catch {
        body = undefined;
      }
    }
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    requests.push({
      method: req.method ?? 'GET',
      path,
      headers: req.headers,
      body,
      ...(form ? { form } : {}),
    });
    let finished = false;
    res.on('finish', () => (finished = true));
    res.on('close', () => {
      if (!finished) {
        state.aborted += 1;
        const w = abortWaiters;
        abortWaiters = [];
        for (const f of w) f();
      }
    });

    // Model listing.
    if (req.method === 'GET') {
      if (shape === 'ollama' && path === '/api/tags') {
        return json(res, 200, {
          models: script.models.map((name) => ({ name, model: name, size: 1 })),
        });
      }
      if (shape !== 'ollama' && path === '/v1/models') {
        return json(res, 200, {
          object: 'list',
          data: script.models.map((id) => ({ id, object: 'model' })),
        });
      }
      return json(res, 404, { error: 'not found' });
    }
    if (script.hang) return; // never answers
    if (script.before) await script.before;
    if (script.status) {
      return json(res, script.status, {
        error: { message: `backend failed: ${script.errorText ?? 'boom'} at /srv/model.py` },
      });
    }
    const text = script.tokens.join('');
    const streamed = body?.stream === true;
    const model = script.model;

    if (shape === 'openai') {
      if (path === '/v1/audio/transcriptions') {
        if (form?.response_format === 'text') {
          res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
          return void res.end(text);
        }
        return json(res, 200, { text });
      }
      if (path === '/v1/audio/speech') {
        const format = typeof body?.response_format === 'string' ? body.response_format : 'mp3';
        res.writeHead(200, {
          'content-type': format === 'mp3' ? 'audio/mpeg' : `audio/${format}`,
          'content-length': SCRIPTED_SPEECH_BYTES.length,
        });
        return void res.end(SCRIPTED_SPEECH_BYTES);
      }
      if (path === '/v1/moderations') {
        const inputs = Array.isArray(body?.input) ? body.input : [body?.input];
        return json(res, 200, {
          id: 'modr-1',
          model: typeof body?.model === 'string' ? body.model : model,
          results: inputs.map((t) => {
            // Scripted policy: a text mentioning "forbidden" is flagged.
            const flagged = typeof t === 'string' && t.includes('forbidden');
            return {
              flagged,
              categories: { violence: flagged },
              category_scores: { violence: flagged ? 0.9 : 0.01 },
            };
          }),
        });
      }
      if (path === '/v1/embeddings') {
        const inputs = Array.isArray(body?.input) ? body.input : [body?.input];
        return json(res, 200, {
          object: 'list',
          model,
          data: inputs.map((_, index) => ({
            object: 'embedding',
            index,
            embedding: [0.1, 0.2, index],
          })),
          usage: { prompt_tokens: USAGE.prompt, total_tokens: USAGE.prompt },
        });
      }
      const chat = path === '/v1/chat/completions';
      if (!chat && path !== '/v1/completions') return json(res, 404, { error: 'not found' });
      const usage = {
        prompt_tokens: USAGE.prompt,
        completion_tokens: USAGE.completion,
        total_tokens: USAGE.prompt + USAGE.completion,
      };
      if (!streamed) {
        return json(res, 200, {
          id: 'cmpl-1',
          object: chat ? 'chat.completion' : 'text_completion',
          model,
          choices: [
            chat
              ? { index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }
              : { index: 0, text, finish_reason: 'stop' },
          ],
          usage,
        });
      }
      const chunk = (c: unknown): string => `data: ${JSON.stringify(c)}\n\n`;
      return stream(
        res,
        'sse',
        (tok) =>
          chunk({
            object: 'chat.completion.chunk',
            model,
            choices: [
              chat
                ? { index: 0, delta: { content: tok }, finish_reason: null }
                : { index: 0, text: tok, finish_reason: null },
            ],
          }),
        ': keep-alive comment\n\n',
        chunk({
          model,
          choices: [
            chat
              ? { index: 0, delta: {}, finish_reason: 'stop' }
              : { index: 0, text: '', finish_reason: 'stop' },
          ],
        }) +
          chunk({ model, choices: [], usage }) +
          'data: [DONE]\n\n',
      );
    }

    if (shape === 'ollama') {
      if (path === '/api/embed') {
        if (script.legacyEmbeddings) return json(res, 404, { error: 'not found' });
        const inputs = Array.isArray(body?.input) ? body.input : [body?.input];
        return json(res, 200, {
          model,
          embeddings: inputs.map((_, i) => [0.5, i]),
          prompt_eval_count: USAGE.prompt,
        });
      }
      if (path === '/api/embeddings') return json(res, 200, { embedding: [0.25, 0.75] });
      const chat = path === '/api/chat';
      if (!chat && path !== '/api/generate') return json(res, 404, { error: 'not found' });
      const final = {
        model,
        done: true,
        done_reason: 'stop',
        prompt_eval_count: USAGE.prompt,
        eval_count: USAGE.completion,
      };
      if (body?.stream === false) {
        return json(
          res,
          200,
          chat
            ? { ...final, message: { role: 'assistant', content: text } }
            : { ...final, response: text },
        );
      }
      // Ollama streams unless told otherwise.
      return stream(
        res,
        'ndjson',
        (tok) =>
          `${JSON.stringify(chat ? { model, message: { role: 'assistant', content: tok }, done: false } : { model, response: tok, done: false })}\n`,
        '',
        `${JSON.stringify(chat ? { ...final, message: { role: 'assistant', content: '' } } : { ...final, response: '' })}\n`,
      );
    }

    // anthropic
    if (path !== '/v1/messages') return json(res, 404, { error: 'not found' });
    if (!streamed) {
      return json(res, 200, {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model,
        content: [{ type: 'text', text }],
        stop_reason: 'end_turn',
        usage: { input_tokens: USAGE.prompt, output_tokens: USAGE.completion },
      });
    }
    const ev = (name: string, data: unknown): string =>
      `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
    return stream(
      res,
      'sse',
      (tok) =>
        ev('content_block_delta', {
          type: 'content_block_delta',
          index: 0,
          delta: { type: 'text_delta', text: tok },
        }),
      ev('message_start', {
        type: 'message_start',
        message: { id: 'msg_1', model, usage: { input_tokens: USAGE.prompt, output_tokens: 1 } },
      }) +
        ev('content_block_start', {
          type: 'content_block_start',
          index: 0,
          content_block: { type: 'text', text: '' },
        }) +
        ev('ping', { type: 'ping' }),
      ev('content_block_stop', { type: 'content_block_stop', index: 0 }) +
        ev('message_delta', {
          type: 'message_delta',
          delta: { stop_reason: 'end_turn' },
          usage: { output_tokens: USAGE.completion },
        }) +
        ev('message_stop', { type: 'message_stop' }),
    );
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) json(res, 500, { error: 'script failure' });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    script,
    requests,
    get aborted() {
      return state.aborted;
    },
    nextAbort: () => new Promise<void>((resolve) => abortWaiters.push(resolve)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A gate a test opens by hand. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}
