import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  MATRIX_STATUSES,
  extractSuiteTestIds,
  parseMatrix,
  parseVectorRows,
  repoPathProblem,
  specFileSha256,
  suitePath,
} from '../src/conformance-matrix.ts';
import { repoRoot } from '../src/workspace.ts';

const read = (p: string) => fs.readFileSync(p, 'utf8');

describe('spec/conformance.md against the upstream suite', () => {
  // A missing spec copy must fail, never skip (spec/README.md).
  it('finds the upstream conformance-test-suite.md', () => {
    expect(fs.existsSync(suitePath), `missing ${suitePath}`).toBe(true);
  });

  const suiteIds = fs.existsSync(suitePath) ? extractSuiteTestIds(read(suitePath)) : [];
  const matrix = parseMatrix(read(path.join(repoRoot, 'spec', 'conformance.md')));
  const matrixIds = matrix.map((r) => r.id);

  it('extracts the suite IDs (sanity: the parser is not vacuous)', () => {
    expect(suiteIds.length).toBeGreaterThan(250);
    for (const id of ['DIR-REG-01', 'PROTO-URN-03', 'CIP-V02a', 'RECOG-FND-06', 'CUG-10']) {
      expect(suiteIds).toContain(id);
    }
    // IDs only mentioned in the changelog are not test rows.
    expect(suiteIds).not.toContain('IICP-E2E-02');
  });

  it('lists every upstream test ID', () => {
    const missing = suiteIds.filter((id) => !matrixIds.includes(id));
    expect(missing).toEqual([]);
  });

  it('lists no ID the suite does not define, and none twice', () => {
    expect(matrixIds.filter((id) => !suiteIds.includes(id))).toEqual([]);
    expect(matrixIds.filter((id, i) => matrixIds.indexOf(id) !== i)).toEqual([]);
  });

  it('uses only the three statuses', () => {
    const bad = matrix.filter((r) => !(MATRIX_STATUSES as readonly string[]).includes(r.status));
    expect(bad.map((r) => `${r.id} (line ${r.line}): ${r.status}`)).toEqual([]);
  });

  it('names an existing repository path for every `code` and `test` row', () => {
    const problems: string[] = [];
    for (const row of matrix) {
      if (row.status !== 'code' && row.status !== 'test') continue;
      if (row.where.length === 0) problems.push(`${row.id}: status ${row.status} but no path`);
      for (const p of row.where) {
        const problem = repoPathProblem(p);
        if (problem) problems.push(`${row.id}: ${problem}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('matrix parsing rules', () => {
  it('reads backticked and bare IDs from suite tables, stopping at the changelog', () => {
    const md = [
      '| Test ID | Requirement |',
      '|---|---|',
      '| `DIR-REG-01` | x |',
      '| RECOG-PROF-01 | GET | y |',
      '| Variable | Default |',
      '## Changelog',
      '| `DIR-REG-99` | later |',
    ].join('\n');
    expect(extractSuiteTestIds(md)).toEqual(['DIR-REG-01', 'RECOG-PROF-01']);
  });

  it('parses status and paths of a matrix row', () => {
    const [row] = parseMatrix(
      '| `PROTO-URN-01` | protocol | MUST | s | test | `packages/wire/test/a.test.ts`, `b.ts` |',
    );
    expect(row).toMatchObject({
      id: 'PROTO-URN-01',
      status: 'test',
      where: ['packages/wire/test/a.test.ts', 'b.ts'],
    });
  });

  it('rejects absolute, escaping and missing paths', () => {
    expect(repoPathProblem('/etc/passwd')).toMatch(/not a path relative/);
    expect(repoPathProblem('../shared/iicp-spec/LICENSE')).toMatch(/not a path relative/);
    expect(repoPathProblem('spec/no-such-file.md')).toMatch(/does not exist/);
    expect(repoPathProblem('spec/conformance.md')).toBeUndefined();
  });
});

describe('spec/vectors.md provenance', () => {
  const rows = parseVectorRows(read(path.join(repoRoot, 'spec', 'vectors.md')));

  it('pins the ten published vector files and the extra inputs', () => {
    expect(rows.length).toBeGreaterThanOrEqual(20);
    expect(rows.map((r) => r.source)).toContain(
      'research/native-ai-infrastructure/fixtures/native-framing-v1.json',
    );
  });

  it('records the sha256 each file has in the spec copy', () => {
    const mismatches: string[] = [];
    for (const row of rows) {
      let actual: string;
      try {
        actual = specFileSha256(row.source);
      } catch {
        mismatches.push(`${row.source}: missing from the spec copy`);
        continue;
      }
      if (actual !== row.sha256) mismatches.push(`${row.source}: ${actual} ≠ ${row.sha256}`);
    }
    expect(mismatches).toEqual([]);
  });
});
