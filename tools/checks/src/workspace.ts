import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Root of the repository, found from this file's place in tools/checks/src. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface WorkspaceProject {
  /** Folder relative to the repository root, e.g. `packages/wire`. */
  dir: string;
  name: string;
  tags: string[];
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

/** Every npm workspace project (packages/*, apps/*, tools/*) with its Nx tags. */
export function listProjects(): WorkspaceProject[] {
  const projects: WorkspaceProject[] = [];
  for (const group of ['packages', 'apps', 'tools']) {
    const groupDir = path.join(repoRoot, group);
    if (!fs.existsSync(groupDir)) continue;
    for (const entry of fs.readdirSync(groupDir).sort()) {
      const file = path.join(groupDir, entry, 'package.json');
      if (!fs.existsSync(file)) continue;
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
      projects.push({
        dir: `${group}/${entry}`,
        name: pkg.name,
        tags: pkg.nx?.tags ?? [],
        dependencies: pkg.dependencies ?? {},
        devDependencies: pkg.devDependencies ?? {},
      });
    }
  }
  return projects;
}

/** All `.ts` files below a folder, skipping build output. */
export function listSourceFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name === 'dist' || e.name === 'out-tsc') continue;
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(m|c)?ts$/.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}
