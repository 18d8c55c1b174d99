import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  flameGraphSvg,
  folded,
  frameName,
  summarise,
  topTable,
  type CpuProfile,
} from '../src/flame.ts';

const frame = (id: number, functionName: string, url: string, children: number[] = []) => ({
  id,
  callFrame: { functionName, url, lineNumber: id },
  children,
});

/** (root) → main → {parse, handle → parse}; samples at fixed 100 µs intervals. */
const profile: CpuProfile = {
  nodes: [
    frame(1, '(root)', '', [2, 6]),
    frame(2, 'main', 'file:///x/apps/proxy/src/cli.ts', [3, 4]),
    frame(3, 'parse', 'file:///x/node_modules/zod/lib/index.js'),
    frame(4, 'handle', 'file:///x/packages/client/src/task.ts', [5]),
    frame(5, 'parse', 'file:///x/node_modules/zod/lib/index.js'),
    frame(6, '(garbage collector)', ''),
  ],
  // 3× parse under main, 2× parse under handle, 1× handle, 1× gc, then a final sample.
  samples: [3, 3, 3, 5, 5, 4, 6, 2],
  timeDeltas: [0, 100, 100, 100, 100, 100, 100, 100],
};

describe('CPU profile summary (bench:flame)', () => {
  it('names frames by repository path, package path or builtin', () => {
    expect(frameName(profile.nodes[1]!.callFrame)).toBe('main (apps/proxy/src/cli.ts:3)');
    expect(frameName(profile.nodes[2]!.callFrame)).toBe('parse (zod/lib/index.js:4)');
    expect(frameName({ functionName: '', url: 'node:net', lineNumber: 9 })).toBe(
      '(anonymous) (node:net:10)',
    );
    expect(frameName(profile.nodes[5]!.callFrame)).toBe('(garbage collector)');
  });

  it('merges samples into self and total times per frame and per function', () => {
    const s = summarise(profile);
    // Each sample stands for the delta to the next one; the last for the one before it.
    expect(s.totalUs).toBe(800);
    const main = s.root.children.get('main (apps/proxy/src/cli.ts:3)')!;
    expect(main.total).toBe(700);
    expect(main.self).toBe(100);
    const handle = main.children.get('handle (packages/client/src/task.ts:5)')!;
    expect(handle.self).toBe(100);
    expect(handle.total).toBe(300);
    expect(s.root.children.get('(garbage collector)')!.self).toBe(100);
    expect(s.functions.map((f) => [f.name, f.selfUs, f.totalUs])).toEqual([
      ['parse (zod/lib/index.js:4)', 300, 300],
      ['parse (zod/lib/index.js:6)', 200, 200],
      ['(garbage collector)', 100, 100],
      ['handle (packages/client/src/task.ts:5)', 100, 300],
      ['main (apps/proxy/src/cli.ts:3)', 100, 700],
    ]);
  });

  it('writes folded stacks and an SVG with every visible frame', () => {
    const s = summarise(profile);
    const lines = folded(s.root).trim().split('\n');
    expect(lines).toContain(
      'main (apps/proxy/src/cli.ts:3);handle (packages/client/src/task.ts:5) 100',
    );
    expect(lines.reduce((a, l) => a + Number(l.split(' ').pop()), 0)).toBe(800);
    const svg = flameGraphSvg(s, 'a <test> & more');
    expect(svg).toContain('a &#60;test&#62; &#38; more');
    expect(svg.match(/<rect /g)?.length).toBe(6); // all + 5 frames
    expect(topTable(s, 2).split('\n')).toHaveLength(4);
  });

  it('reads a real profile written by node --cpu-prof', () => {
    const dir = mkdtempSync(join(tmpdir(), 'iicp-flame-'));
    try {
      writeFileSync(
        join(dir, 'busy.js'),
        'function spinForFlameTest(n){let s=0;for(let i=0;i<n;i++)s+=Math.sqrt(i)*Math.sin(i);return s}\n' +
          'const t=Date.now();while(Date.now()-t<200)spinForFlameTest(1e5);\n',
      );
      const r = spawnSync(
        process.execPath,
        ['--cpu-prof', '--cpu-prof-name=p.cpuprofile', 'busy.js'],
        {
          cwd: dir,
          encoding: 'utf8',
        },
      );
      expect(r.status).toBe(0);
      const s = summarise(
        JSON.parse(readFileSync(join(dir, 'p.cpuprofile'), 'utf8')) as CpuProfile,
      );
      const spin = s.functions.find((f) => f.name.startsWith('spinForFlameTest '));
      expect(spin).toBeDefined();
      expect(spin!.selfUs).toBeGreaterThan(0);
      expect(s.totalUs).toBeGreaterThanOrEqual(spin!.totalUs);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
