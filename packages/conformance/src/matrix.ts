/**
 * Keeps spec/conformance.md fresh: every test ID a conformance check implements (and
 * that is not an expected failure) gets status `test` and the suite file in _Where_.
 * Every other row, and every other cell, stays as it is; a table whose rows changed is
 * re-padded the way Prettier pads Markdown tables.
 */
import type { ExpectedFailures } from './run.ts';
import type { Role, Suite } from './types.ts';

/** Repository path of each role's suite file (what the matrix names in _Where_). */
export const SUITE_FILES: Readonly<Partial<Record<Role, string>>> = {
  directory: 'packages/conformance/src/suites/directory.ts',
  node: 'packages/conformance/src/suites/node.ts',
  relay: 'packages/conformance/src/suites/relay.ts',
  proxy: 'packages/conformance/src/suites/proxy.ts',
};

/** Test ID → the suite files with a passing-by-contract check for it. */
export function implementedIds(
  suites: readonly Suite[],
  expected: ExpectedFailures,
): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const s of suites) {
    const file = SUITE_FILES[s.role];
    if (!file) continue;
    const failing = expected[s.role] ?? {};
    for (const c of s.checks) {
      if (c.id in failing) continue;
      const files = out.get(c.id) ?? [];
      if (!files.includes(file)) files.push(file);
      out.set(c.id, files);
    }
  }
  return out;
}

function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\||\|$/g, '')
    .split('|')
    .map((c) => c.trim());
}

const width = (s: string): number => [...s].length;

function formatTable(rows: string[][]): string[] {
  const n = Math.max(...rows.map((r) => r.length));
  const w = Array.from({ length: n }, (_, i) =>
    Math.max(3, ...rows.filter((_, j) => j !== 1).map((r) => width(r[i] ?? ''))),
  );
  return rows.map((r, j) =>
    j === 1
      ? `| ${w.map((x) => '-'.repeat(x)).join(' | ')} |`
      : `| ${w.map((x, i) => (r[i] ?? '') + ' '.repeat(x - width(r[i] ?? ''))).join(' | ')} |`,
  );
}

/** The updated matrix text (unchanged text when nothing is stale). */
export function updateConformanceMatrix(markdown: string, ids: Map<string, string[]>): string {
  const lines = markdown.split('\n');
  const out: string[] = [];
  let i = 0;
  while (i < lines.length) {
    if (!lines[i]!.startsWith('|')) {
      out.push(lines[i]!);
      i++;
      continue;
    }
    const start = i;
    while (i < lines.length && lines[i]!.startsWith('|')) i++;
    const block = lines.slice(start, i);
    const rows = block.map(cells);
    const header = rows[0]!;
    const idCol = header.indexOf('ID');
    const statusCol = header.indexOf('Status');
    const whereCol = header.indexOf('Where');
    let changed = false;
    if (idCol >= 0 && statusCol >= 0 && whereCol >= 0) {
      for (const row of rows.slice(2)) {
        const id = /^`([^`]+)`$/.exec(row[idCol] ?? '')?.[1];
        const files = id ? ids.get(id) : undefined;
        if (!files) continue;
        const where = (row[whereCol] ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '' && s !== '—');
        const missing = files.map((f) => `\`${f}\``).filter((f) => !where.includes(f));
        if (row[statusCol] === 'test' && missing.length === 0) continue;
        row[statusCol] = 'test';
        row[whereCol] = [...where, ...missing].join(', ');
        changed = true;
      }
    }
    out.push(...(changed ? formatTable(rows) : block));
  }
  return out.join('\n');
}
