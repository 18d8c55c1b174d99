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
  return `${lf} may not depend on ${lt}`;
}

const IMPORT_RE =
  /(?:import|export)\s[^'"]*?from\s*['"](@iicp\/[a-z-]+)|import\(\s*['"](@iicp\/[a-z-]+)['"]\s*\)/g;

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
