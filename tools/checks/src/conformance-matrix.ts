import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './workspace.ts';

/** The read-only specification copy, laid out next to the repository (spec/README.md). */
export const specRoot = path.resolve(repoRoot, '..', 'shared', 'iicp-spec');

/** The upstream suite whose test IDs spec/conformance.md must cover. */
export const suitePath = path.join(specRoot, 'spec', 'v1.9', 'conformance-test-suite.md');

/** The three statuses spec/conformance.md allows. */
export const MATRIX_STATUSES = ['not yet', 'code', 'test'] as const;
export type MatrixStatus = (typeof MATRIX_STATUSES)[number];

/** Test IDs look like `DIR-REG-01`, `SDK-01`, `CIP-V02a`, `IICP-E2E-04`. */
const TEST_ID = /^[A-Z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)+$/;

/** Cells of one Markdown table row, trimmed; `undefined` if the line is not a row. */
function tableCells(line: string): string[] | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('|') || !trimmed.endsWith('|')) return undefined;
  return trimmed
    .slice(1, -1)
    .split('|')
    .map((c) => c.trim());
}

/** `` `X` `` → `X`; other text unchanged. */
function unquote(cell: string): string {
  return cell.replace(/^`([^`]*)`$/, '$1');
}

/**
 * Every test ID the suite defines: the first cell of each table row in the body of
 * conformance-test-suite.md (the changelog, which only mentions IDs, is excluded).
 * The suite writes IDs with and without backticks, so both are read.
 */
export function extractSuiteTestIds(markdown: string): string[] {
  const ids: string[] = [];
  for (const line of markdown.split('\n')) {
    if (/^## Changelog\b/.test(line)) break;
    const cells = tableCells(line);
    if (!cells || cells.length === 0) continue;
    const first = unquote(cells[0] ?? '');
    if (TEST_ID.test(first)) ids.push(first);
  }
  return ids;
}

export interface MatrixRow {
  id: string;
  /** Raw status cell; checked against MATRIX_STATUSES by the test, not here. */
  status: string;
  /** Backticked repository paths in the Where cell. */
  where: string[];
  line: number;
}

/**
 * Rows of spec/conformance.md: table rows whose first cell is a backticked test ID.
 * Columns: ID | Role | Level | Summary | Status | Where.
 */
export function parseMatrix(markdown: string): MatrixRow[] {
  const rows: MatrixRow[] = [];
  markdown.split('\n').forEach((line, index) => {
    const cells = tableCells(line);
    if (!cells) return;
    const first = cells[0] ?? '';
    if (!first.startsWith('`')) return;
    const id = unquote(first);
    if (!TEST_ID.test(id)) return;
    const where = [...(cells[5] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '');
    rows.push({ id, status: cells[4] ?? '', where, line: index + 1 });
  });
  return rows;
}

/** A path named in the matrix must be relative, inside the repository, and exist. */
export function repoPathProblem(p: string): string | undefined {
  if (path.isAbsolute(p) || p.split(/[\\/]/).includes('..')) {
    return `${p} is not a path relative to the repository root`;
  }
  if (!fs.existsSync(path.join(repoRoot, p))) return `${p} does not exist`;
  return undefined;
}

export interface VectorRow {
  source: string;
  sha256: string;
  line: number;
}

/**
 * Rows of spec/vectors.md that pin a spec-copy file: first cell a backticked path,
 * and some cell a backticked 64-hex sha256.
 */
export function parseVectorRows(markdown: string): VectorRow[] {
  const rows: VectorRow[] = [];
  markdown.split('\n').forEach((line, index) => {
    const cells = tableCells(line);
    if (!cells) return;
    const first = cells[0] ?? '';
    if (!/^`[^`]+`$/.test(first)) return;
    const hash = cells.map(unquote).find((c) => /^[0-9a-f]{64}$/.test(c));
    if (!hash) return;
    rows.push({ source: unquote(first), sha256: hash, line: index + 1 });
  });
  return rows;
}

/** sha256 (hex) of a file in the spec copy; throws if it is missing. */
export function specFileSha256(source: string): string {
  return createHash('sha256')
    .update(fs.readFileSync(path.join(specRoot, source)))
    .digest('hex');
}
