import fs from 'node:fs';
import path from 'node:path';
import { listProjects, listSourceFiles, repoRoot, type WorkspaceProject } from './workspace.ts';

/**
 * Layers in dependency order (DESIGN.md): a project may depend on projects of a lower
 * rank only. Equal ranks may not depend on each other, except inside `edge`, where
 * @iicp/client builds on @iicp/http.
 */
export const LAYER_RANK: Record<string, number> = {
  'layer:core': 0,
  'layer:trust': 1,
  'layer:edge': 2,
  'layer:conformance': 3,
  'layer:app': 4,
  'layer:tool': 5,
};

/** Pairs allowed within one layer: `from` may import `to`. */
const SAME_LAYER_ALLOWED = new Set(['@iicp/client -> @iicp/http']);

export interface TopologyViolation {
  from: string;
  to: string;
  where: string;
  why: string;
}

function layerOf(p: WorkspaceProject): string | undefined {
  return p.tags.find((t) => t.startsWith('layer:'));
}

/** Is `from` allowed to depend on `to`? Returns the reason when it is not. */
export function checkEdge(from: WorkspaceProject, to: WorkspaceProject): string | undefined {
  const lf = layerOf(from);
  const lt = layerOf(to);
  if (!lf || !lt)
    return `both projects need a layer:* tag (${from.name}: ${lf}, ${to.name}: ${lt})`;
  if (from.name === to.name) return 'a project may not depend on itself';
  if (lf === 'layer:app' && lt === 'layer:app') return 'no app imports another app';
  const rf = LAYER_RANK[lf]!;
  const rt = LAYER_RANK[lt]!;
  if (rt < rf) return undefined;
  if (rt === rf && SAME_LAYER_ALLOWED.has(`${from.name} -> ${to.name}`)) return undefined;
  // Private tools may build on each other (benchmarks reuse the e2e process helpers).
  if (rt === rf && lf === 'layer:tool') return undefined;
  return `${lf} may not depend on ${lt}`;
}

const IMPORT_RE =
  /(?:import|export)\s[^'"]*?from\s*['"](@iicp\/[a-z0-9-]+)|import\(\s*['"](@iicp\/[a-z0-9-]+)['"]\s*\)/g;

/** Every declared or imported dependency between workspace projects that breaks the layering. */
export function findViolations(): TopologyViolation[] {
  const projects = listProjects();
  const byName = new Map(projects.map((p) => [p.name, p]));
  const violations: TopologyViolation[] = [];
  for (const p of projects) {
    const declared = { ...p.dependencies, ...p.devDependencies };
    for (const dep of Object.keys(declared)) {
      const target = byName.get(dep);
      if (!target) continue;
      const why = checkEdge(p, target);
      if (why) violations.push({ from: p.name, to: dep, where: `${p.dir}/package.json`, why });
    }
    for (const file of listSourceFiles(path.join(repoRoot, p.dir))) {
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(IMPORT_RE)) {
        const dep = m[1] ?? m[2]!;
        const target = byName.get(dep);
        const where = path.relative(repoRoot, file);
        if (!target) {
          violations.push({
            from: p.name,
            to: dep,
            where,
            why: 'imports an unknown @iicp package',
          });
          continue;
        }
        if (dep === p.name) continue;
        const why = checkEdge(p, target);
        if (why) violations.push({ from: p.name, to: dep, where, why });
        else if (!(dep in declared))
          violations.push({
            from: p.name,
            to: dep,
            where,
            why: 'imported but not declared in package.json',
          });
      }
    }
  }
  return violations;
}

const BARE_IMPORT_RE =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'".][^'"]*)['"]|import\(\s*['"]([^'".][^'"]*)['"]\s*\)/g;

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
export function packageNameOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/**
 * Third-party packages that a project's shipped sources (src/, tests excluded) import
 * without declaring them in its own package.json `dependencies`: they would work in
 * the workspace only because npm hoists them, and break for an installed package.
 */
export function findUndeclaredImports(): TopologyViolation[] {
  const out: TopologyViolation[] = [];
  for (const p of listProjects()) {
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, p.dir, 'package.json'), 'utf8'));
    const declared = new Set([
      ...Object.keys(pkg.dependencies ?? {}),
      ...Object.keys(pkg.peerDependencies ?? {}),
      ...Object.keys(pkg.optionalDependencies ?? {}),
      // Private tools never ship; their dev tooling (prettier, tsx…) is a fair import.
      ...(p.dir.startsWith('tools/') ? Object.keys(pkg.devDependencies ?? {}) : []),
    ]);
    for (const file of listSourceFiles(path.join(repoRoot, p.dir, 'src'))) {
      if (/\.test\.ts$/.test(file)) continue;
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(BARE_IMPORT_RE)) {
        const spec = m[1] ?? m[2]!;
        if (spec.startsWith('node:')) continue;
        const name = packageNameOf(spec);
        if (name === p.name || declared.has(name)) continue;
        out.push({
          from: p.name,
          to: name,
          where: path.relative(repoRoot, file),
          why: 'imported by shipped source but not declared in dependencies',
        });
      }
    }
  }
  return out;
}
