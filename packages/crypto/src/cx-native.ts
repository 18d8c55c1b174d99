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
import type { CxNative } from '@iicp/cx-native';
import { nodeRequire } from './node-require.ts';

export type { CxNative };

/** The addon when it was built and passed its load check; `undefined` otherwise. Never throws. */
export function loadCxNative(): CxNative | undefined {
  try {
    const m = nodeRequire(import.meta.url)?.('@iicp/cx-native') as
      { cxNative?: Partial<CxNative> } | undefined;
    if (!m) return undefined;
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
