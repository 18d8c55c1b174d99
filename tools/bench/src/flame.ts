/**
 * Reads V8 CPU profiles (`.cpuprofile`, as written by `node --cpu-prof` or
 * `node:inspector`) and turns them into what the optimisation work reads: the functions
 * with the most self time, folded stacks (`a;b;c 42`, the input of flamegraph.pl and
 * speedscope) and a self-contained SVG flame graph (hover a frame for its name, time
 * and share).
 *
 * Profiles of the apps under a scenario: run the scenario with `IICP_CPU_PROF_DIR=dir`
 * (every app `startApp` spawns writes its profile there when it exits), then
 * `npm run bench:flame -- dir/*.cpuprofile`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The parts of a `.cpuprofile` this module reads. */
export interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number;
    readonly callFrame: {
      readonly functionName: string;
      readonly url: string;
      readonly lineNumber: number;
    };
    readonly children?: readonly number[];
  }[];
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

/** One frame of the merged call tree: same name under the same parent is one frame. */
export interface FlameFrame {
  readonly name: string;
  /** Microseconds sampled in this frame itself. */
  self: number;
  /** Microseconds sampled in this frame and below. */
  total: number;
  readonly children: Map<string, FlameFrame>;
}

export interface FunctionTime {
  readonly name: string;
  readonly selfUs: number;
  readonly totalUs: number;
}

export interface ProfileSummary {
  readonly root: FlameFrame;
  /** Microseconds of all samples. */
  readonly totalUs: number;
  /** By self time, descending. */
  readonly functions: readonly FunctionTime[];
}

/** Where the repository's own files start in a profile URL (`file:///…/packages/x/…`). */
const OWN_CODE = /\/(packages|apps|tools)\/[^/]+\/src\//;

/** A readable frame name: `fn (packages/x/src/y.ts:12)`, `fn (undici/lib/…:3)`, `(gc)`. */
export function frameName(f: CpuProfile['nodes'][number]['callFrame']): string {
  const fn = f.functionName || '(anonymous)';
  if (!f.url) return fn;
  const own = OWN_CODE.exec(f.url);
  let where: string;
  if (own) where = f.url.slice(own.index + 1);
  else if (f.url.includes('/node_modules/'))
    where = f.url.slice(f.url.lastIndexOf('/node_modules/') + 14);
  else if (f.url.startsWith('node:')) where = f.url;
  else where = basename(f.url);
  return `${fn} (${where}:${f.lineNumber + 1})`;
}

/** Merge a profile's samples into a call tree with self and total times. */
export function summarise(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfById = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i + 1] is the time until the next sample: the time this one stands for.
    const dt = Math.max(0, deltas[i + 1] ?? deltas[i] ?? 0);
    selfById.set(samples[i]!, (selfById.get(samples[i]!) ?? 0) + dt);
  }
  const root: FlameFrame = { name: 'all', self: 0, total: 0, children: new Map() };
  const fnTimes = new Map<string, { self: number; total: number }>();
  for (const [id, us] of selfById) {
    const path: string[] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      if (!n) break;
      // V8's synthetic "(root)" is the tree's root; it is not a frame of its own.
      if (n.callFrame.functionName === '(root)' && parent.get(cur) === undefined) break;
      path.push(frameName(n.callFrame));
    }
    path.reverse();
    root.total += us;
    let frame = root;
    const seen = new Set<string>();
    for (const name of path) {
      let next = frame.children.get(name);
      if (!next) {
        next = { name, self: 0, total: 0, children: new Map() };
        frame.children.set(name, next);
      }
      next.total += us;
      frame = next;
      // Recursion counts once towards a function's total.
      if (!seen.has(name)) {
        seen.add(name);
        const t = fnTimes.get(name) ?? { self: 0, total: 0 };
        t.total += us;
        fnTimes.set(name, t);
      }
    }
    frame.self += us;
    if (path.length > 0) {
      const t = fnTimes.get(path[path.length - 1]!)!;
      t.self += us;
    } else {
      root.self += us;
    }
  }
  const functions = [...fnTimes]
    .map(([name, t]) => ({ name, selfUs: t.self, totalUs: t.total }))
    .sort((a, b) => b.selfUs - a.selfUs || a.name.localeCompare(b.name));
  return { root, totalUs: root.total, functions };
}

/** Folded stacks, one line per leaf path: `a;b;c <microseconds>`. */
export function folded(root: FlameFrame): string {
  const lines: string[] = [];
  const walk = (f: FlameFrame, prefix: string): void => {
    const path = prefix === '' ? f.name : `${prefix};${f.name}`;
    if (f.self > 0) lines.push(`${path.replace(/\s+/g, ' ')} ${Math.round(f.self)}`);
    for (const c of f.children.values()) walk(c, path);
  };
  for (const c of root.children.values()) walk(c, '');
  return lines.sort().join('\n') + (lines.length > 0 ? '\n' : '');
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Colour by kind of code: ours warm, dependencies green, Node internals blue, VM grey. */
function colour(name: string): string {
  if (/\((packages|apps|tools)\//.test(name)) return '#f2a65a';
  if (/^\([^)]*\)$/.test(name)) return '#c8c8c8';
  if (/\(node:/.test(name)) return '#8fb8de';
  if (/\([^)]*\/[^)]*:\d+\)$/.test(name)) return '#9bd08f';
  return '#e8d97a';
}

/** A flame graph (root at the bottom) as one SVG document; frames under `minShare` are dropped. */
export function flameGraphSvg(summary: ProfileSummary, title: string, minShare = 0.001): string {
  const width = 1200;
  const rowH = 16;
  const total = summary.totalUs || 1;
  const rects: string[] = [];
  let maxDepth = 0;
  const place = (f: FlameFrame, x: number, depth: number): void => {
    maxDepth = Math.max(maxDepth, depth);
    let cx = x;
    for (const c of [...f.children.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      if (c.total / total >= minShare) place(c, cx, depth + 1);
      cx += c.total;
    }
    rects.push(`${x}|${depth}|${f.total}|${f.name}`);
  };
  place(summary.root, 0, 0);
  const height = (maxDepth + 1) * rowH + 40;
  const body = rects.map((r) => {
    const [xs, ds, ts, ...rest] = r.split('|');
    const name = rest.join('|');
    const x = (Number(xs) / total) * width;
    const w = (Number(ts) / total) * width;
    const y = height - 10 - (Number(ds) + 1) * rowH;
    const pct = ((Number(ts) / total) * 100).toFixed(2);
    const label = w > 40 ? name.slice(0, Math.floor(w / 7)) : '';
    const tip = `${name}: ${(Number(ts) / 1000).toFixed(1)} ms, ${pct} %`;
    return (
      `<g><title>${escapeXml(tip)}</title>` +
      `<rect x="${x.toFixed(2)}" y="${y}" width="${Math.max(0.5, w).toFixed(2)}" height="${rowH - 1}" fill="${colour(name)}"/>` +
      (label ? `<text x="${(x + 3).toFixed(2)}" y="${y + 12}">${escapeXml(label)}</text>` : '') +
      '</g>'
    );
  });
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="monospace" font-size="11">\n` +
    `<text x="4" y="16" font-size="14">${escapeXml(title)}</text>\n` +
    body.join('\n') +
    '\n</svg>\n'
  );
}

/** The top functions by self time as a Markdown table. */
export function topTable(summary: ProfileSummary, top: number): string {
  const total = summary.totalUs || 1;
  const rows = summary.functions.slice(0, top).map((f) => {
    const self = ((f.selfUs / total) * 100).toFixed(1);
    const tot = ((f.totalUs / total) * 100).toFixed(1);
    return `| ${self.padStart(5)} % | ${tot.padStart(5)} % | ${f.name.replace(/\|/g, '\\|')} |`;
  });
  return ['| self | total | function |', '| ---: | ----: | -------- |', ...rows].join('\n');
}

function main(argv: string[]): void {
  const files: string[] = [];
  let top = 25;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--top') top = Number(argv[++i]);
    else if (a === '--help' || a === '-h') {
      process.stdout.write(
        'usage: npm run bench:flame -- [--top N] <file.cpuprofile>...\n' +
          'Prints the top N functions by self time and writes <file>.folded and <file>.svg.\n',
      );
      return;
    } else files.push(a);
  }
  if (files.length === 0 || !Number.isInteger(top) || top < 1) {
    process.stderr.write('usage: npm run bench:flame -- [--top N] <file.cpuprofile>...\n');
    process.exitCode = 2;
    return;
  }
  for (const file of files) {
    let profile: CpuProfile;
    try {
      profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
      if (!Array.isArray(profile.nodes)) throw new Error('no "nodes" array');
    } catch (e) {
      process.stderr.write(`${file}: not a CPU profile (${(e as Error).message})\n`);
      process.exitCode = 1;
      continue;
    }
    const s = summarise(profile);
    const stem = file.replace(/\.cpuprofile$/, '');
    writeFileSync(`${stem}.folded`, folded(s.root));
    writeFileSync(`${stem}.svg`, flameGraphSvg(s, basename(file)));
    process.stdout.write(
      `\n## ${basename(file)}: ${(s.totalUs / 1000).toFixed(0)} ms sampled\n\n` +
        `${topTable(s, top)}\n\nwrote ${stem}.folded and ${stem}.svg\n`,
    );
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2));
}
