import { describe, expect, it } from 'vitest';
import { implementedIds, updateConformanceMatrix } from '../src/matrix.ts';
import { directorySuite, nodeSuite } from '../src/index.ts';

const TABLE = `# Matrix

Prose | with a pipe stays.

| ID      | Role | Status  | Where            |
| ------- | ---- | ------- | ---------------- |
| \`A-01\` | dir  | not yet | —                |
| \`A-02\` | dir  | code    | \`apps/x.ts\`    |
| \`A-03\` | dir  | not yet | —                |

| ID     | Status | Where |
| ------ | ------ | ----- |
| \`B-1\` | test   | \`y\`   |
`;

describe('updateConformanceMatrix', () => {
  const ids = new Map([
    ['A-01', ['s/dir.ts']],
    ['A-02', ['s/dir.ts']],
  ]);

  it('marks implemented IDs test, keeps other paths, leaves other rows and tables alone', () => {
    const out = updateConformanceMatrix(TABLE, ids);
    expect(out).toMatch(/\| `A-01` \| dir {2}\| test {4}\| `s\/dir\.ts` {14}\|/);
    expect(out).toContain('`apps/x.ts`, `s/dir.ts`');
    expect(out).toMatch(/\| `A-03` \| dir {2}\| not yet \| — +\|/);
    // The untouched table keeps its text byte for byte (even its odd padding).
    expect(out).toContain('| `B-1` | test   | `y`   |');
    expect(out).toContain('Prose | with a pipe stays.');
  });

  it('is idempotent, and a no-op on a fresh file', () => {
    const once = updateConformanceMatrix(TABLE, ids);
    expect(updateConformanceMatrix(once, ids)).toBe(once);
    expect(updateConformanceMatrix(TABLE, new Map())).toBe(TABLE);
  });

  it('leaves expected failures out, and names both suites for shared IDs', () => {
    const m = implementedIds([directorySuite, nodeSuite], {
      directory: { 'DIR-REG-01': 'broken' },
    });
    expect(m.has('DIR-REG-01')).toBe(false);
    expect(m.get('DIR-REG-02')).toEqual(['packages/conformance/src/suites/directory.ts']);
    expect(m.get('SEC-LEAK-01')).toEqual([
      'packages/conformance/src/suites/directory.ts',
      'packages/conformance/src/suites/node.ts',
    ]);
  });
});
