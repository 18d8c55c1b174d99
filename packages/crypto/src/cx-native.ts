/**
 * The symmetric half of IICP-CX in native code for `./cx-web.ts` on Node:
 * `@iicp/cx-native`, a Node-API addon over Node's own OpenSSL that does an AES-256-GCM
 * seal or open, or an HKDF-SHA256, in one call each. `node:crypto` builds a cipher object
 * and crosses into C++ five times per AES-GCM operation, and the JS HKDF runs cold in a
 * live process. On a live proxy and node the addon's AES-GCM took 80–90 µs of CPU off each
 * task in each process and 0.16 ms off the p50 at 1 connection; its HKDF a further 40 µs
 * (proxy) and 10 µs (node) and 0.03 ms (docs/benchmarks.md, sixth pass).
 *
 * The addon is compiled at install when a compiler and Node's headers are there, and
 * checks itself against `node:crypto` when it loads. It is reached through
 * `createRequire`, never a static import, so `@iicp/crypto/cx` still loads in browsers;
 * where it is missing, {@link loadCxNative} answers `undefined` and the caller keeps
 * `node:crypto` and `./hkdf-sha256.ts`, which give the same bytes.
 */

/** The addon's calls (see `@iicp/cx-native`); `aesGcmOpen` answers `null` on a bad tag. */
export interface CxNative {
  aesGcmSeal(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    plaintext: Uint8Array,
  ): Uint8Array;
  aesGcmOpen(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    sealed: Uint8Array,
  ): Uint8Array | null;
  hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array): Uint8Array;
}

interface ModuleBuiltin {
  createRequire(from: string): (id: string) => unknown;
}

/** The addon when it was built and passed its load check; `undefined` otherwise. Never throws. */
export function loadCxNative(): CxNative | undefined {
  try {
    const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } })
      .process;
    const mod = proc?.getBuiltinModule?.('node:module') as ModuleBuiltin | undefined;
    if (!mod || typeof mod.createRequire !== 'function') return undefined;
    const m = mod.createRequire(import.meta.url)('@iicp/cx-native') as {
      cxNative?: Partial<CxNative>;
    };
    const n = m.cxNative;
    if (
      !n ||
      typeof n.aesGcmSeal !== 'function' ||
      typeof n.aesGcmOpen !== 'function' ||
      typeof n.hkdfSha256 !== 'function'
    ) {
      return undefined;
    }
    return n as CxNative;
  } catch {
    return undefined;
  }
}
