/**
 * `require` for the modules of `@iicp/crypto/cx` that load an optional native addon on
 * Node, reached through `process.getBuiltinModule('node:module')` rather than a static
 * import so that the subpath still loads in browsers. `undefined` where there is no such
 * Node; the `require` itself throws as usual (callers catch and fall back).
 */
interface ModuleBuiltin {
  createRequire(from: string): (id: string) => unknown;
}

export function nodeRequire(from: string): ((id: string) => unknown) | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const mod = proc?.getBuiltinModule?.('node:module') as ModuleBuiltin | undefined;
  return mod && typeof mod.createRequire === 'function' ? mod.createRequire(from) : undefined;
}
