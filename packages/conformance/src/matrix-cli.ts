/**
 * `npm run conformance:matrix`: refresh spec/conformance.md from the suites;
 * `--check` exits 1 (writing nothing) when the file is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadExpectedFailures } from './expected-failures.ts';
import { implementedIds, updateConformanceMatrix } from './matrix.ts';
import { SUITES } from './run.ts';
import type { Suite } from './types.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const file = join(repoRoot, 'spec/conformance.md');
const before = readFileSync(file, 'utf8');
const suites = Object.values(SUITES).filter((s): s is Suite => s !== undefined);
const after = updateConformanceMatrix(before, implementedIds(suites, loadExpectedFailures()));
if (process.argv.includes('--check')) {
  if (after !== before) {
    process.stderr.write(
      'spec/conformance.md is stale: run `npm run conformance:matrix` and commit the result\n',
    );
    process.exitCode = 1;
  } else process.stdout.write('spec/conformance.md is fresh\n');
} else if (after !== before) {
  writeFileSync(file, after);
  process.stdout.write('spec/conformance.md updated\n');
} else process.stdout.write('spec/conformance.md already fresh\n');
