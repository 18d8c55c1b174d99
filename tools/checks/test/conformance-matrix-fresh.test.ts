import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/*
 * spec/conformance.md must name every ID a conformance check implements as `test`
 * (`npm run conformance:matrix` regenerates those cells; --check writes nothing).
 */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

describe('spec/conformance.md is fresh', () => {
  it('matches what npm run conformance:matrix would write', () => {
    const r = spawnSync(
      process.execPath,
      [
        '--conditions=@iicp/source',
        '--import',
        'tsx',
        join(repoRoot, 'packages/conformance/src/matrix-cli.ts'),
        '--check',
      ],
      { cwd: repoRoot, encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
