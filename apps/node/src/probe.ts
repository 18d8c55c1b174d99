import type { HttpClient } from '@iicp/http';
import { createBackend, DEFAULT_BACKEND_URLS } from './backends/index.ts';
import type { BackendType } from './backends/types.ts';

export interface ProbeResult {
  type: BackendType;
  url: string;
  models: string[];
}

/** Local servers `init` looks for, in this order (their documented default ports). */
export const LOCAL_BACKENDS: readonly BackendType[] = ['ollama', 'lmstudio', 'vllm', 'llamacpp'];

const OPENAI_PORT_HINTS: Record<string, BackendType> = {
  '8000': 'vllm',
  '8080': 'llamacpp',
  '1234': 'lmstudio',
};

/**
 * Find what speaks at `url`: Ollama answers `/api/tags`, OpenAI-compatible servers
 * `/v1/models` (the port names the usual family), api.anthropic.com is Anthropic.
 */
export async function detectBackend(
  url: string,
  http: HttpClient,
  timeoutMs = 1_500,
): Promise<ProbeResult | undefined> {
  const u = new URL(url);
  const candidates: BackendType[] = u.hostname.endsWith('anthropic.com')
    ? ['anthropic']
    : ['ollama', OPENAI_PORT_HINTS[u.port] ?? 'openai'];
  for (const type of candidates) {
    try {
      const models = await createBackend({ type, baseUrl: url, http }).listModels({ timeoutMs });
      return { type, url, models };
    } catch {
      // not this family
    }
  }
  return undefined;
}

/** Probe the default local ports of Ollama, LM Studio, vLLM and llama.cpp. */
export async function probeLocalBackends(
  http: HttpClient,
  timeoutMs = 800,
): Promise<ProbeResult[]> {
  const found = await Promise.all(
    LOCAL_BACKENDS.map(async (type) => {
      const url = DEFAULT_BACKEND_URLS[type];
      try {
        const models = await createBackend({ type, baseUrl: url, http }).listModels({ timeoutMs });
        return { type, url, models };
      } catch {
        return undefined;
      }
    }),
  );
  return found.filter((x): x is ProbeResult => x !== undefined);
}
