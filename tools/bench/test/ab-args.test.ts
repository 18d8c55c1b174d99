import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AB_DEFAULT_ROUNDS, parseAbArgs } from '../src/ab-args.ts';
import { resolveCommit } from '../src/base-tree.ts';

describe('bench:ab flags', () => {
  it('defaults to HEAD, 16 rounds, full mode', () => {
    expect(parseAbArgs([])).toEqual({ quick: false, base: 'HEAD', rounds: AB_DEFAULT_ROUNDS });
    expect(parseAbArgs(['--base', 'HEAD~2', '--rounds', '4', '--quick'])).toEqual({
      quick: true,
      base: 'HEAD~2',
      rounds: 4,
    });
  });

  it('refuses unknown flags, missing values and bad round counts with a usage error', () => {
    expect(() => parseAbArgs(['--fast'])).toThrow('unknown option "--fast"');
    expect(() => parseAbArgs(['--base'])).toThrow('--base needs a value');
    expect(() => parseAbArgs(['--base', '--quick'])).toThrow('--base needs a value');
    for (const bad of ['0', '1001', '2.5', '-3', 'x', '']) {
      expect(() => parseAbArgs(['--rounds', bad])).toThrow('--rounds takes a whole number');
    }
  });

  it('either parses or throws an Error, for any argument list', () => {
    const token = fc.oneof(
      fc.constantFrom('--base', '--rounds', '--quick', 'HEAD', '3', '0', '--x'),
      fc.string({ maxLength: 12 }),
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 6 }), (argv) => {
        let parsed: ReturnType<typeof parseAbArgs> | undefined;
        try {
          parsed = parseAbArgs(argv);
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
          return;
        }
        expect(Number.isInteger(parsed.rounds)).toBe(true);
        expect(parsed.rounds).toBeGreaterThanOrEqual(1);
        expect(parsed.rounds).toBeLessThanOrEqual(1000);
        expect(typeof parsed.base).toBe('string');
        expect(parsed.quick).toBe(argv.includes('--quick'));
      }),
      { numRuns: 500 },
    );
  });
});

describe('bench:ab base revision', () => {
  it('resolves a commit and names what it cannot resolve', async () => {
    expect(await resolveCommit('HEAD')).toMatch(/^[0-9a-f]{40}$/);
    await expect(resolveCommit('no-such-branch-xyz')).rejects.toThrow(
      'no commit named no-such-branch-xyz in this repository',
    );
    await expect(resolveCommit('--exec=x')).rejects.toThrow('not a revision');
    await expect(resolveCommit('a b')).rejects.toThrow('not a revision');
  });
});
