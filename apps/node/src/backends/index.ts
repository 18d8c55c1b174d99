import { createHttpClient, type HttpClient } from '@iicp/http';
import { createAnthropicBackend } from './anthropic.ts';
import { createOllamaBackend } from './ollama.ts';
import { createOpenAiBackend } from './openai.ts';
import { allowDirectCalls } from './transport.ts';
import type { Backend, BackendType } from './types.ts';

/** Default base URL of each backend family (their documented local ports). */
export const DEFAULT_BACKEND_URLS: Readonly<Record<BackendType, string>> = {
  ollama: 'http://127.0.0.1:11434',
  vllm: 'http://127.0.0.1:8000',
  llamacpp: 'http://127.0.0.1:8080',
  lmstudio: 'http://127.0.0.1:1234',
  openai: 'https://api.openai.com',
  anthropic: 'https://api.anthropic.com',
};

export interface BackendOptions {
  type: BackendType;
  baseUrl?: string;
  apiKey?: string;
  /** Shared client; one is created (keep-alive pool, no SSRF guard: the operator chose the URL). */
  http?: HttpClient;
}

/**
 * The outbound client for backend calls: keep-alive pool, large replies allowed. Its
 * buffered JSON calls take the transport's direct path (same bytes and errors).
 */
export function createBackendHttpClient(): HttpClient {
  return allowDirectCalls(createHttpClient({ connections: 256, keepAliveTimeoutMs: 30_000 }));
}

export function createBackend(opts: BackendOptions): Backend {
  const http = opts.http ?? createBackendHttpClient();
  const baseUrl = opts.baseUrl ?? DEFAULT_BACKEND_URLS[opts.type];
  const apiKey = opts.apiKey !== undefined ? { apiKey: opts.apiKey } : {};
  switch (opts.type) {
    case 'ollama':
      return createOllamaBackend({ baseUrl, http });
    case 'anthropic':
      return createAnthropicBackend({ baseUrl, http, ...apiKey });
    default:
      return createOpenAiBackend({ type: opts.type, baseUrl, http, ...apiKey });
  }
}
