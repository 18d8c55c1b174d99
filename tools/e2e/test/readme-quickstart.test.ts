import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../src/index.ts';

/*
 * The root README's quick start, word for word: every command of its code blocks is
 * extracted from the README (nothing here restates them), and each is checked as far
 * as it can be without a second `npm ci`: the npm scripts exist, `npm start -- --help`
 * (named in the prose) works and lists the options the README promises, and `npm
 * start` itself, on free ports, reaches readiness, prints what the README says it
 * prints, and stops cleanly on Ctrl-C (SIGINT to its process group, as a terminal does).
 */
const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  engines: { node: string };
};

/** The "## Quick start" section, up to the next second-level heading. */
function quickStart(md: string): string {
  const start = md.indexOf('\n## Quick start');
  expect(start).toBeGreaterThan(0);
  const next = md.indexOf('\n## ', start + 1);
  return md.slice(start, next === -1 ? undefined : next);
}

/** Commands of the section's ```sh blocks, comments stripped. */
function commands(section: string): string[] {
  const out: string[] = [];
  for (const m of section.matchAll(/```sh\n([\s\S]*?)```/g))
    for (const line of m[1]!.split('\n')) {
      const cmd = line.replace(/\s+#.*$/, '').trim();
      if (cmd !== '') out.push(cmd);
    }
  return out;
}

const section = quickStart(readme);
const cmds = commands(section);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

describe('README quick start', () => {
  it('names npm ci, npm start and npm test, and every npm command it names exists', () => {
    expect(cmds.slice(0, 3)).toEqual(['npm ci', 'npm start', 'npm test']);
    for (const cmd of cmds) {
      const m = /^npm (?:run )?([\w:-]+)/.exec(cmd);
      expect(m, `not an npm command: ${cmd}`).not.toBeNull();
      const script = m![1]!;
      if (script === 'ci') continue; // an npm command, not a script
      expect(pkg.scripts[script], `package.json has no script "${script}"`).toBeDefined();
    }
  });

  it('states the Node.js floor that package.json enforces, and this Node meets it', () => {
    const floor = /Node\.js (\d+)\.(\d+) or newer/.exec(section);
    expect(floor).not.toBeNull();
    expect(pkg.engines.node).toBe(`>=${floor![1]}.${floor![2]}`);
    const [maj, min] = process.versions.node.split('.').map(Number) as [number, number];
    expect(maj > Number(floor![1]) || (maj === Number(floor![1]) && min >= Number(floor![2]))).toBe(
      true,
    );
  });

  it('`npm start -- --help` works and lists the options the README mentions', () => {
    expect(section).toContain('`npm start -- --help` lists its options');
    const r = spawnSync(npm, ['start', '--silent', '--', '--help'], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(0);
    const help = r.stdout;
    // "ports, planes, backend URL, data directory"
    for (const flag of [
      '--directory-port',
      '--relay-port',
      '--node-port',
      '--proxy-port',
      '--planes',
      '--backend-url',
      '--data-dir',
    ])
      expect(help).toContain(flag);
    // The defaults the README quotes: the proxy URL's port and the state directory.
    expect(section).toContain('http://127.0.0.1:9483');
    expect(help).toMatch(/--proxy-port PORT\s+default 9483/);
    expect(section).toContain('state under `./.iicp`');
    expect(help).toMatch(/--data-dir DIR\s+state directory \(default \.\/\.iicp\)/);
  });

  describe('`npm start` on free ports', () => {
    let dataDir = '';
    let pid: number | undefined;

    afterAll(async () => {
      if (pid !== undefined) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    });

    it('reaches readiness, prints the proxy URL, intents, models and examples, stops on Ctrl-C', async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'e2e-quickstart-'));
      const ports = ['directory', 'relay', 'node', 'proxy'].flatMap((p) => [`--${p}-port`, '0']);
      // --no-probe: the test must not depend on a model server on this machine.
      const child = spawn(
        npm,
        ['start', '--silent', '--', ...ports, '--no-probe', '--data-dir', dataDir],
        {
          cwd: repoRoot,
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, NO_COLOR: '1' },
        },
      );
      pid = child.pid;
      let out = '';
      // 'close': npm and every process holding its output pipes (the mesh, the planes).
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
        child.once('close', (code, signal) => r({ code, signal })),
      );
      const ready = new Promise<void>((resolve, reject) => {
        const on = (d: Buffer): void => {
          out += d.toString();
          if (/Ctrl-C stops the mesh\./.test(out)) resolve();
        };
        child.stdout!.on('data', on);
        child.stderr!.on('data', on);
        void exited.then((c) =>
          reject(new Error(`npm start exited (${c.code}): ${out.slice(-3000)}`)),
        );
      });
      await ready;
      expect(out).toContain('IICP mesh ready.');
      const proxy = /proxy\s+(http:\/\/127\.0\.0\.1:\d+)\s+\(OpenAI \1\/v1/.exec(out);
      expect(proxy, out).not.toBeNull();
      expect(out).toMatch(/intents\s+.*urn:iicp:intent:mcp:tools\/call:v1/);
      expect(out).toMatch(/models\s+/);
      expect(out).toMatch(/mcp\s+.*server-everything|mcp\s+\S+/);
      expect(out).toContain('createClient({ directoryUrl:');
      // The proxy it printed answers.
      const models = await fetch(`${proxy![1]}/v1/models`);
      expect(models.status).toBe(200);

      process.kill(-pid!, 'SIGINT');
      const end = await exited;
      // npm re-raises the terminal's SIGINT on itself; the mesh under it exits 0.
      expect(end.code === 0 || end.signal === 'SIGINT').toBe(true);
      expect(out).toContain('SIGINT: stopping the mesh');
      expect(out).toMatch(/stopped\.\s*$/);
      pid = undefined;
    }, 120_000);
  });
});

describe('README Documentation section', () => {
  const start = readme.indexOf('\n## Documentation');
  const docs = readme.slice(start, readme.indexOf('\n## ', start + 1));

  it('links operator pages for all four apps, agents and contributors, all existing', () => {
    const links = [...docs.matchAll(/\]\(([^)#]+)\)/g)].map((m) => m[1]!);
    for (const page of ['directory', 'node', 'relay', 'proxy', 'agents', 'contributing'])
      expect(links).toContain(`docs/${page}.md`);
    for (const l of links) expect(existsSync(join(repoRoot, l)), l).toBe(true);
  });

  // Each operator page lists every flag the app's own --help prints.
  it.each([
    ['directory', ['--help']],
    ['node', ['serve', '--help']],
    ['relay', ['--help']],
    ['proxy', ['serve', '--help']],
  ] as const)('docs/%s.md names every flag of its --help', (app, args) => {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--conditions=@iicp/source', `apps/${app}/src/cli.ts`, ...args],
      { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 },
    );
    const flags = new Set([...(r.stdout + r.stderr).matchAll(/--[a-z][a-z-]+/g)].map((m) => m[0]));
    expect(flags.size).toBeGreaterThan(5);
    const page = readFileSync(join(repoRoot, `docs/${app}.md`), 'utf8');
    expect([...flags].filter((f) => f !== '--help' && !page.includes(f))).toEqual([]);
  });
});
