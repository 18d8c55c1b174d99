// The default entry must run in browsers: walk the import graph from src/index.ts,
// following relative imports and workspace packages into their sources, and fail on
// any node: builtin, fastify, undici, or @iicp/http / @iicp/crypto (which use them).
// The one allowed @iicp/crypto import is its browser-safe subpath @iicp/crypto/cx.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = path.dirname(fileURLToPath(import.meta.url));
const packagesDir = path.resolve(here, '../../');
const FORBIDDEN = [
  /^node:/,
  /^fastify(\/|$)/,
  /^@fastify\//,
  /^undici(\/|$)/,
  /^@iicp\/http$/,
  /^@iicp\/crypto$/,
  /^@iicp\/crypto\/(?!cx$)/,
];
/** Workspace subpath exports the walk follows into their sources. */
const SUBPATHS: Record<string, string> = { '@iicp/crypto/cx': 'crypto/src/cx-web.ts' };
const NODE_BUILTINS = new Set([
  'fs',
  'path',
  'http',
  'https',
  'net',
  'tls',
  'crypto',
  'stream',
  'os',
  'url',
  'zlib',
  'buffer',
  'child_process',
  'worker_threads',
  'dns',
]);
const SPECIFIER =
  /(?:^|[\s;}])(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): { spec: string; typeOnly: boolean }[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: { spec: string; typeOnly: boolean }[] = [];
  for (const m of text.matchAll(SPECIFIER)) {
    const spec = m[1] ?? m[2]!;
    out.push({ spec, typeOnly: /^\s*[;}]?\s*(?:import|export)\s+type\s/.test(m[0]) });
  }
  return out;
}

/** Every runtime module reachable from `entry`, with the specifiers each imports. */
function walk(entry: string) {
  const seen = new Map<string, string[]>();
  const stack = [entry];
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    const specs: string[] = [];
    seen.set(file, specs);
    for (const { spec, typeOnly } of importsOf(file)) {
      if (typeOnly) continue; // erased at build time
      specs.push(spec);
      if (spec.startsWith('.')) {
        stack.push(path.resolve(path.dirname(file), spec));
      } else if (SUBPATHS[spec] !== undefined) {
        stack.push(path.join(packagesDir, SUBPATHS[spec]));
      } else if (spec.startsWith('@iicp/')) {
        const pkg = spec.slice('@iicp/'.length);
        const src = path.join(packagesDir, pkg, 'src', 'index.ts');
        if (fs.existsSync(src)) stack.push(src);
      }
    }
  }
  return seen;
}

describe('browser-safe default entry', () => {
  const graph = walk(path.resolve(here, '../src/index.ts'));

  it('reaches the client, wire and scoring sources', () => {
    const files = [...graph.keys()].map((f) => path.relative(packagesDir, f));
    expect(files).toContain(path.join('client', 'src', 'router.ts'));
    expect(files.some((f) => f.startsWith(path.join('wire', 'src')))).toBe(true);
    expect(files.some((f) => f.startsWith(path.join('scoring', 'src')))).toBe(true);
    // IICP-CX comes from the browser-safe subpath, which is walked like any source.
    expect(files).toContain(path.join('crypto', 'src', 'cx-web.ts'));
    expect(files).not.toContain(path.join('crypto', 'src', 'index.ts'));
  });

  it('the subpath @iicp/crypto/cx resolves to the walked source', async () => {
    const pkg = JSON.parse(
      fs.readFileSync(path.join(packagesDir, 'crypto', 'package.json'), 'utf8'),
    ) as { exports: Record<string, Record<string, string>> };
    expect(pkg.exports['./cx']?.['@iicp/source']).toBe('./src/cx-web.ts');
    const client = JSON.parse(
      fs.readFileSync(path.join(packagesDir, 'client', 'package.json'), 'utf8'),
    ) as { dependencies: Record<string, string> };
    expect(client.dependencies['@iicp/crypto']).toBeDefined();
  });

  it('imports no node: builtin, fastify, undici, @iicp/http or @iicp/crypto', () => {
    const bad: string[] = [];
    for (const [file, specs] of graph) {
      for (const s of specs) {
        if (FORBIDDEN.some((re) => re.test(s)) || NODE_BUILTINS.has(s)) {
          bad.push(`${path.relative(packagesDir, file)} imports ${s}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it('the scanner itself sees a forbidden import (self-check)', () => {
    const specs = importsOf(fileURLToPath(import.meta.url)).map((s) => s.spec);
    expect(specs).toContain('node:fs');
  });
});
