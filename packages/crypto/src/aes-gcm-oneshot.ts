/**
 * One-shot AES-256-GCM for `./cx-web.ts` on Node: `@iicp/aes-gcm-native`, a Node-API
 * addon over Node's own OpenSSL that does a whole seal or open in one call, where Node's
 * crypto API builds a cipher object and crosses into C++ five times. On a live proxy and
 * node that took about 80 µs of CPU off each task and 0.1 ms off the p50 at 1 connection
 * (docs/benchmarks.md, sixth pass).
 *
 * The addon is compiled at install when a compiler and Node's headers are there, and
 * checks itself against `node:crypto` when it loads. It is reached through
 * `createRequire`, never a static import, so `@iicp/crypto/cx` still loads in browsers;
 * where it is missing, {@link loadAesGcmOneShot} answers `undefined` and the caller keeps
 * `node:crypto`, which gives the same bytes.
 */

/** `seal` appends the 16-byte tag; `open` answers `null` when the tag does not verify. */
export interface AesGcmOneShot {
  seal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  open(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | null;
}

interface ModuleBuiltin {
  createRequire(from: string): (id: string) => unknown;
}

/** The addon when it was built and passed its load check; `undefined` otherwise. Never throws. */
export function loadAesGcmOneShot(): AesGcmOneShot | undefined {
  try {
    const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } })
      .process;
    const mod = proc?.getBuiltinModule?.('node:module') as ModuleBuiltin | undefined;
    if (!mod || typeof mod.createRequire !== 'function') return undefined;
    const m = mod.createRequire(import.meta.url)('@iicp/aes-gcm-native') as {
      aesGcm?: Partial<AesGcmOneShot>;
    };
    const g = m.aesGcm;
    if (!g || typeof g.seal !== 'function' || typeof g.open !== 'function') return undefined;
    return g as AesGcmOneShot;
  } catch {
    return undefined;
  }
}
