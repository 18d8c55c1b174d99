import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sealCxResponseSync } from '@iicp/crypto/cx';
import type * as ClientCx from '../src/cx.ts';

/**
 * `normalizeTaskResponse` opens an encrypted answer without a promise where Node's native
 * crypto serves it, and through WebCrypto (a promise) elsewhere. Both must give the same
 * outcome for every answer, damaged or not: the second copy of the module is loaded with
 * `process.getBuiltinModule` hidden, as a browser would run it.
 */
type Module = typeof ClientCx;
let native: Module;
let web: Module;
const proc = process as { getBuiltinModule?: unknown };
const original = proc.getBuiltinModule;

beforeAll(async () => {
  native = await import('../src/cx.ts');
  vi.resetModules();
  proc.getBuiltinModule = undefined;
  try {
    web = await import('../src/cx.ts');
    expect(web).not.toBe(native);
    // The web copy of @iicp/crypto/cx decides on its backend at first use: now.
    const probe = web.normalizeTaskResponse(
      {
        status: 'encrypted',
        iicp_conf_resp: { version: 1, nonce: 'AAAAAAAAAAAAAAAA', encrypted_body: 'A'.repeat(24) },
      },
      { sharedSecret: new Uint8Array(32), responseEncrypted: true },
      't',
      [],
    );
    expect(probe).toBeInstanceOf(Promise);
    await probe;
  } finally {
    proc.getBuiltinModule = original;
  }
});
afterAll(() => {
  proc.getBuiltinModule = original;
});

/** The outcome with the error reduced to what callers read. */
function view(n: Awaited<ReturnType<Module['normalizeTaskResponse']>>): unknown {
  return n.ok ? n : { ok: false, failure: n.failure, code: n.error.code, message: n.error.message };
}

const TASK = '3f0e7a4e-8d7b-4c39-9a53-2b9d3f1c2a10';

describe('normalizeTaskResponse, native and WebCrypto', () => {
  it('opens the same answers and refuses the same damaged ones (fixed seed)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.oneof(
          fc.jsonValue(),
          fc.record({
            task_id: fc.constant(TASK),
            status: fc.constantFrom('success', 'completed'),
            result: fc.jsonValue(),
          }),
          fc.constant('not json {'),
        ),
        fc.constantFrom('none', 'body', 'nonce', 'task', 'secret'),
        async (sharedSecret, answer, damage) => {
          const plaintext =
            typeof answer === 'string' && answer.startsWith('not json')
              ? answer
              : JSON.stringify(answer);
          const env = { ...sealCxResponseSync({ sharedSecret, taskId: TASK, plaintext })! };
          if (damage === 'body') {
            const first = env.encrypted_body.startsWith('B') ? 'C' : 'B';
            env.encrypted_body = `${first}${env.encrypted_body.slice(1)}`;
          }
          if (damage === 'nonce') {
            env.nonce = env.nonce === 'AAAAAAAAAAAAAAAA' ? 'BAAAAAAAAAAAAAAA' : 'AAAAAAAAAAAAAAAA';
          }
          const secret = damage === 'secret' ? sharedSecret.map((b) => b ^ 1) : sharedSecret;
          const taskId = damage === 'task' ? `${TASK}x` : TASK;
          const raw = () => ({
            task_id: TASK,
            status: 'encrypted',
            iicp_conf_resp: env,
            metrics: { latency_ms: 3 },
          });
          const session = { sharedSecret: secret, responseEncrypted: true };
          const fast = native.normalizeTaskResponse(raw(), session, taskId, []);
          expect(fast).not.toBeInstanceOf(Promise);
          const general = await web.normalizeTaskResponse(raw(), session, taskId, []);
          expect(view(fast as Awaited<typeof fast>)).toEqual(view(general));
          const readable = damage === 'none' && plaintext === JSON.stringify(answer);
          expect(general.ok).toBe(readable);
        },
      ),
      { seed: 20261207, numRuns: 200 },
    );
  });
});
