/**
 * An earlier commit of this repository checked out beside it, runnable as it is: a
 * detached `git worktree` in a temporary directory whose `node_modules` reuses this
 * checkout's installed packages, except the workspace links (`node_modules/@iicp/*`),
 * which point at the worktree's own packages and apps, and whose own native workspace
 * packages (an `install` script, such as `@iicp/cx-native`) are built in place. Apps
 * started from it (through its own `tools/bench/src/mesh.ts`) run that commit's
 * sources. Used by `bench:ab`.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '@iicp/tools-e2e';

const run = promisify(execFile);

/** A checked-out commit and how to remove it. */
export interface BaseTree {
  /** The full commit id. */
  readonly commit: string;
  /** The worktree's root directory. */
  readonly dir: string;
  /** Removes the worktree and its directory (idempotent). */
  remove(): Promise<void>;
}

async function git(args: readonly string[], cwd = repoRoot): Promise<string> {
  try {
    const { stdout } = await run('git', [...args], { cwd, maxBuffer: 1 << 20 });
    return stdout.trim();
  } catch (err) {
    const e = err as { stderr?: string; code?: unknown };
    const why = (e.stderr ?? '').trim().split('\n')[0] || String(e.code ?? err);
    throw new Error(`git ${args[0]} failed: ${why}`);
  }
}

/** The commit `rev` names in this repository; a clear error when it names none. */
export async function resolveCommit(rev: string): Promise<string> {
  if (!/^[\w./@{}^~-]+$/.test(rev) || rev.startsWith('-')) {
    throw new Error(`not a revision: ${JSON.stringify(rev)}`);
  }
  return git(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]).catch(() => {
    throw new Error(`no commit named ${rev} in this repository`);
  });
}

/** Check out `rev` in a temporary worktree, ready to run (see the module comment). */
export async function checkoutBase(
  rev: string,
  log: (line: string) => void = () => undefined,
): Promise<BaseTree> {
  const commit = await resolveCommit(rev);
  const parent = await mkdtemp(join(tmpdir(), 'iicp-bench-base-'));
  const dir = join(parent, 'tree');
  let removed = false;
  const remove = async (): Promise<void> => {
    if (removed) return;
    removed = true;
    await git(['worktree', 'remove', '--force', dir]).catch(() => undefined);
    await rm(parent, { recursive: true, force: true });
    await git(['worktree', 'prune']).catch(() => undefined);
  };
  try {
    await git(['worktree', 'add', '--detach', '--quiet', dir, commit]);
    const workspaces = await workspacePackages(dir);
    await linkModules(dir, workspaces);
    await buildNative(workspaces, log);
    if (!existsSync(join(dir, 'tools/bench/src/mesh.ts'))) {
      throw new Error(`commit ${commit.slice(0, 12)} has no tools/bench/src/mesh.ts to start`);
    }
    return { commit, dir, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}

/** A workspace package of the worktree: its name, its directory and its install script. */
interface Workspace {
  readonly name: string;
  readonly group: string;
  readonly dir: string;
  /** The package's absolute directory in the worktree. */
  readonly path: string;
  readonly install: string | undefined;
}

/** The worktree's own `@iicp/*` packages, apps and tools (its commit's, not this checkout's). */
async function workspacePackages(dir: string): Promise<Workspace[]> {
  const out: Workspace[] = [];
  for (const group of ['apps', 'packages', 'tools']) {
    const groupDir = join(dir, group);
    if (!existsSync(groupDir)) continue;
    for (const pkg of await readdir(groupDir)) {
      const manifest = join(groupDir, pkg, 'package.json');
      if (!existsSync(manifest)) continue;
      const json = JSON.parse(await readFile(manifest, 'utf8')) as {
        name?: unknown;
        scripts?: Record<string, unknown>;
      };
      if (typeof json.name !== 'string' || !json.name.startsWith('@iicp/')) continue;
      const install = json.scripts?.install;
      out.push({
        name: json.name,
        group,
        dir: pkg,
        path: join(groupDir, pkg),
        install: typeof install === 'string' ? install : undefined,
      });
    }
  }
  return out;
}

/**
 * `node_modules` for the worktree: every installed package linked from this checkout,
 * the workspace links made for the worktree's own packages with relative targets (so
 * they resolve inside the worktree), and the few nested `node_modules` of workspace
 * packages linked too.
 */
async function linkModules(dir: string, workspaces: readonly Workspace[]): Promise<void> {
  const from = join(repoRoot, 'node_modules');
  const to = join(dir, 'node_modules');
  await mkdir(to);
  for (const name of await readdir(from)) {
    if (name === '@iicp') continue;
    await symlink(join(from, name), join(to, name));
  }
  await mkdir(join(to, '@iicp'));
  for (const w of workspaces) {
    const short = w.name.slice('@iicp/'.length);
    await symlink(join('..', '..', w.group, w.dir), join(to, '@iicp', short));
  }
  for (const group of ['apps', 'packages', 'tools']) {
    const groupDir = join(repoRoot, group);
    if (!existsSync(groupDir)) continue;
    for (const pkg of await readdir(groupDir)) {
      const nested = join(groupDir, pkg, 'node_modules');
      const target = join(dir, group, pkg);
      if (existsSync(nested) && existsSync(target) && !existsSync(join(target, 'node_modules'))) {
        await symlink(nested, join(target, 'node_modules'));
      }
    }
  }
}

/**
 * Runs the install script of each worktree package that has one (the native addons,
 * which `npm ci` would have built), so that the base commit runs as an install of it
 * would. Their one-line outcome goes to `log`; a failed build leaves that package's
 * fallback in place, as it would on such a machine.
 */
async function buildNative(workspaces: readonly Workspace[], log: (line: string) => void) {
  for (const w of workspaces) {
    if (!w.install) continue;
    try {
      const { stdout } = await run('npm', ['run', '--silent', 'install'], {
        cwd: w.path,
        maxBuffer: 1 << 20,
      });
      const line = stdout.trim().split('\n').pop();
      log(`base ${w.name}: ${line || 'install script ran'}`);
    } catch (err) {
      log(`base ${w.name}: install script failed (${(err as Error).message.split('\n')[0]})`);
    }
  }
}
