import { TaskResponseSchema, validateIntentPayload } from '@iicp/wire';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import { createBackend } from '../src/backends/index.ts';
import { checkIntentsForBackend, resolveConfig } from '../src/config.ts';
import { SCRIPTED_SPEECH_BYTES } from './support/scripted-backend.ts';
import { callBody, CHAT_INTENT, sharedHttp, startNode, type Harness } from './support/node-app.ts';

const TRANSCRIBE = 'urn:iicp:intent:audio:transcribe:v1';
const SPEECH = 'urn:iicp:intent:audio:speech:v1';
const MODERATE = 'urn:iicp:intent:safety:moderate:v1';
const ALL = [CHAT_INTENT, TRANSCRIBE, SPEECH, MODERATE];

afterAll(() => sharedHttp.close());

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function post(body: unknown) {
  return h!.app.inject({ method: 'POST', url: '/v1/task', payload: body as object });
}

function task(intent: string, payload: Record<string, unknown>) {
  return callBody({ intent, payload });
}

const AUDIO = Buffer.from('RIFF\u0000\u0001fake-wav-bytes\u00ff', 'latin1');

describe('audio:transcribe:v1 → POST /v1/audio/transcriptions', () => {
  it('uploads the decoded audio as multipart and returns {text}', async () => {
    h = await startNode({ script: { tokens: ['hello ', 'world'] }, app: { intents: ALL } });
    const res = await post(
      task(TRANSCRIBE, {
        audio: AUDIO.toString('base64'),
        filename: 'clip.wav',
        language: 'en',
        prompt: 'greeting',
        temperature: 0.2,
      }),
    );
    expect(res.statusCode).toBe(200);
    const r = TaskResponseSchema.parse(res.json());
    expect(r.status).toBe('success');
    expect(r.result).toEqual({ text: 'hello world' });
    expect(validateIntentPayload(TRANSCRIBE, r.result, 'output').ok).toBe(true);
    const sent = h.backend.requests.find((q) => q.path === '/v1/audio/transcriptions');
    expect(sent?.form).toEqual({
      file: { filename: 'clip.wav', base64: AUDIO.toString('base64') },
      model: 'whisper-1',
      language: 'en',
      prompt: 'greeting',
      temperature: '0.2',
    });
  });

  it('returns the plain transcript for response_format text, with a listed model', async () => {
    h = await startNode({ script: { tokens: ['plain'] }, app: { intents: [TRANSCRIBE] } });
    const res = await post(
      task(TRANSCRIBE, {
        audio: AUDIO.toString('base64'),
        response_format: 'text',
        model: 'other-model',
      }),
    );
    expect(res.statusCode).toBe(200);
    expect(res.json().result).toBe('plain');
    const sent = h.backend.requests.find((q) => q.path === '/v1/audio/transcriptions');
    expect(sent?.form?.model).toBe('other-model');
    expect(sent?.form?.response_format).toBe('text');
  });
});

describe('audio:speech:v1 → POST /v1/audio/speech', () => {
  it('sends JSON and returns the binary answer as base64 with its type and format', async () => {
    h = await startNode({ app: { intents: [SPEECH] } });
    const res = await post(task(SPEECH, { input: 'say this', voice: 'alloy', speed: 1.5 }));
    expect(res.statusCode).toBe(200);
    const r = res.json();
    expect(r.result).toEqual({
      audio: SCRIPTED_SPEECH_BYTES.toString('base64'),
      content_type: 'audio/mpeg',
      format: 'mp3',
    });
    expect(validateIntentPayload(SPEECH, r.result, 'output').ok).toBe(true);
    const sent = h.backend.requests.find((q) => q.path === '/v1/audio/speech');
    expect(sent?.body).toEqual({ input: 'say this', voice: 'alloy', speed: 1.5, model: 'tts-1' });
  });

  it('passes response_format through and reports it', async () => {
    h = await startNode({ app: { intents: [SPEECH] } });
    const res = await post(task(SPEECH, { input: 'x', response_format: 'wav' }));
    expect(res.statusCode).toBe(200);
    expect(res.json().result).toMatchObject({ content_type: 'audio/wav', format: 'wav' });
  });
});

describe('safety:moderate:v1 → POST /v1/moderations', () => {
  it('returns one verdict per input', async () => {
    h = await startNode({ app: { intents: [MODERATE] } });
    const res = await post(task(MODERATE, { input: ['fine text', 'forbidden text'] }));
    expect(res.statusCode).toBe(200);
    const r = res.json();
    expect(validateIntentPayload(MODERATE, r.result, 'output').ok).toBe(true);
    expect(r.result.results.map((x: { flagged: boolean }) => x.flagged)).toEqual([false, true]);
    const sent = h.backend.requests.find((q) => q.path === '/v1/moderations');
    expect(sent?.body).toEqual({
      input: ['fine text', 'forbidden text'],
      model: 'omni-moderation-latest',
    });
  });
});

describe('failures and advertising', () => {
  const cases: [string, Record<string, unknown>][] = [
    [TRANSCRIBE, { audio: AUDIO.toString('base64') }],
    [SPEECH, { input: 'x' }],
    [MODERATE, { input: 'x' }],
  ];
  for (const [intent, payload] of cases) {
    it(`maps a backend failure to 502 backend_error (${intent})`, async () => {
      h = await startNode({
        script: { status: 500, errorText: 'secret detail' },
        app: { intents: [intent] },
      });
      const res = await post(task(intent, payload));
      expect(res.statusCode).toBe(502);
      expect(res.json()).toMatchObject({ status: 'error', error: { code: 'backend_error' } });
      expect(res.body).not.toMatch(/secret detail|\/srv\//);
    });
  }

  it('never logs a payload canary', async () => {
    const CANARY = 'CANARY-4b1d-audio';
    h = await startNode({ script: { tokens: [CANARY] }, app: { intents: ALL } });
    const audio = Buffer.from(CANARY).toString('base64');
    expect((await post(task(TRANSCRIBE, { audio, prompt: CANARY }))).statusCode).toBe(200);
    expect((await post(task(SPEECH, { input: CANARY }))).statusCode).toBe(200);
    expect((await post(task(MODERATE, { input: CANARY }))).statusCode).toBe(200);
    h.backend.script.status = 500;
    h.backend.script.errorText = CANARY;
    expect((await post(task(SPEECH, { input: CANARY }))).statusCode).toBe(502);
    expect(h.logs.lines.length).toBeGreaterThan(5);
    expect(h.logs.text).not.toContain(CANARY);
    expect(h.logs.text).not.toContain(audio);
  });

  it('does not advertise the audio and safety intents unless configured', async () => {
    h = await startNode();
    const res = await post(task(MODERATE, { input: 'x' }));
    expect(res.statusCode).not.toBe(200);
    expect(res.json()).toMatchObject({ error: { code: 'unknown_intent' } });
  });

  it('refuses these intents for backends that cannot serve them', async () => {
    for (const type of ['ollama', 'anthropic'] as const) {
      const backend = createBackend({ type, baseUrl: 'http://127.0.0.1:1', http: sharedHttp });
      await expect(buildApp({ backend, intents: [TRANSCRIBE] })).rejects.toThrow(
        /cannot serve urn:iicp:intent:audio:transcribe:v1/,
      );
      expect(() => checkIntentsForBackend(type, [SPEECH])).toThrow(
        `backend type ${type} cannot serve ${SPEECH}`,
      );
    }
    expect(() => resolveConfig({ 'backend-type': 'ollama', intent: [MODERATE] }, {}, {})).toThrow(
      /--intent.*ollama cannot serve urn:iicp:intent:safety:moderate:v1/,
    );
    expect(() => checkIntentsForBackend('mcp', [TRANSCRIBE])).toThrow(/mcp cannot serve/);
    // OpenAI-compatible families accept them; unrelated intents are left to the app.
    for (const type of ['openai', 'vllm', 'llamacpp', 'lmstudio'] as const) {
      expect(() => checkIntentsForBackend(type, [TRANSCRIBE, SPEECH, MODERATE])).not.toThrow();
    }
    expect(() => checkIntentsForBackend('ollama', ['x.acme:thing'])).not.toThrow();
  });
});
