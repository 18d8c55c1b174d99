import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { DirectoryKey } from '@iicp/crypto';
import { buildApp, type NodeAppOptions } from '../../src/app.ts';
import { createBackend, createBackendHttpClient } from '../../src/backends/index.ts';
import { NodeRuntimeState } from '../../src/state.ts';
import {
  startScriptedBackend,
  type Script,
  type ScriptedBackend,
  type Shape,
} from './scripted-backend.ts';

export const NODE_TOKEN = 'ab'.repeat(32);
export const NODE_ID = '11111111-2222-4333-8444-555555555555';
export const CHAT_INTENT = 'urn:iicp:intent:llm:chat:v1';

export const sharedHttp = createBackendHttpClient();

/** Captures every log line the app writes. */
export class LogCapture extends Writable {
  lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.lines.push(chunk.toString('utf8'));
    cb();
  }
  get text(): string {
    return this.lines.join('');
  }
}

export interface Harness {
  app: Awaited<ReturnType<typeof buildApp>>;
  backend: ScriptedBackend;
  state: NodeRuntimeState;
  directoryKey: DirectoryKey;
  logs: LogCapture;
  close(): Promise<void>;
}

export async function startNode(
  opts: { shape?: Shape; script?: Partial<Script>; app?: Partial<NodeAppOptions> } = {},
): Promise<Harness> {
  const backend = await startScriptedBackend(opts.shape ?? 'openai', opts.script ?? {});
  const directoryKey = DirectoryKey.generate();
  const state = new NodeRuntimeState({
    nodeId: NODE_ID,
    nodeToken: NODE_TOKEN,
    directoryPublicKey: directoryKey.publicKey,
    models: ['test-model', 'other-model'],
  });
  const logs = new LogCapture();
  const app = await buildApp({
    backend: createBackend({
      type: opts.shape ?? 'openai',
      baseUrl: backend.url,
      http: sharedHttp,
    }),
    state,
    logger: { level: 'debug', stream: logs },
    ...opts.app,
  });
  return {
    app,
    backend,
    state,
    directoryKey,
    logs,
    close: async () => {
      await app.close();
      await backend.close();
    },
  };
}

export function callBody(
  over: Record<string, unknown> = {},
  constraints: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    task_id: randomUUID(),
    intent: CHAT_INTENT,
    payload: { messages: [{ role: 'user', content: 'hello' }] },
    constraints: { timeout_ms: 10_000, ...constraints },
    auth: { node_token: NODE_TOKEN },
    ...over,
  };
}
