/** Shared fixtures for the app tests: a health stub, app builders, request bodies. */
import { createServer, type Server } from 'node:http';
import type { IicpFastifyInstance } from '@iicp/http';
import { buildApp } from '../../src/app.ts';
import type { DirectoryOptions } from '../../src/config.ts';
import { freshStorage, type BackendName, type TestStorage } from './stores.ts';

export const CHAT = 'urn:iicp:intent:llm:chat:v1';
/** A fixed directory seed for PostgreSQL test apps (tests only, never a real key). */
export const TEST_SIGNING_KEY = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';

export interface HealthStub {
  url: string;
  /** Set false to make /iicp/health answer 503. */
  healthy: boolean;
  hits: number;
  close(): Promise<void>;
}

/** A node's `/iicp/health` on 127.0.0.1 (plain HTTP). */
export async function startHealthStub(): Promise<HealthStub> {
  const stub: HealthStub = {
    url: '',
    healthy: true,
    hits: 0,
    close: async () => undefined,
  };
  const server: Server = createServer((req, res) => {
    if (req.url === '/iicp/health') stub.hits++;
    const ok = req.url === '/iicp/health' && stub.healthy;
    res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
    res.end(JSON.stringify(ok ? { status: 'ok', load: 0, active_jobs: 0 } : { error: 'down' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  stub.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  stub.close = () => new Promise<void>((r) => server.close(() => r()));
  return stub;
}

export interface TestApp {
  readonly app: IicpFastifyInstance;
  readonly storage: TestStorage;
  /** Mutable clock in epoch ms. */
  clock: { now: number };
  close(): Promise<void>;
}

export async function makeApp(
  kind: BackendName,
  opts: DirectoryOptions = {},
  storage?: TestStorage,
): Promise<TestApp> {
  const s = storage ?? (await freshStorage(kind));
  const clock = { now: Date.now() };
  const app = await buildApp({
    ...s.config,
    allowPrivateEndpoints: true,
    bcryptCost: 4,
    timers: false,
    now: () => clock.now,
    publicUrl: 'https://directory.test.invalid',
    // PostgreSQL mode needs a configured signing key (every instance shares it).
    ...(kind === 'postgres' ? { signingKey: TEST_SIGNING_KEY } : {}),
    ...opts,
  });
  return {
    app,
    storage: s,
    clock,
    async close() {
      await app.close();
      if (!storage) s.cleanup();
    },
  };
}

export function registerBody(
  endpoint: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    endpoint,
    region: 'eu-west',
    capabilities: [
      { intent: CHAT, models: ['llama3'], quantization: 'fp64', inference_engine: 'tensorrt' },
    ],
    limits: { max_concurrent: 4 },
    ...extra,
  };
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
