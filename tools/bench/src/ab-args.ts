/** The flags of `bench:ab` (see ab.ts). */
export interface AbArgs {
  /** Smoke mode: a few hundred calls, no warm-up, numbers not meaningful. */
  readonly quick: boolean;
  /** The commit to compare the working tree against. */
  readonly base: string;
  /** Rounds of 2 s per chain. */
  readonly rounds: number;
}

export const AB_DEFAULT_ROUNDS = 16;

/** Parse `--base <rev>`, `--rounds <n>` and `--quick`; throws a usage error on anything else. */
export function parseAbArgs(argv: readonly string[]): AbArgs {
  let base = 'HEAD';
  let rounds = AB_DEFAULT_ROUNDS;
  let quick = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') {
      quick = true;
    } else if (a === '--base' || a === '--rounds') {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${a} needs a value`);
      if (a === '--base') {
        base = v;
      } else {
        rounds = /^\d+$/.test(v) ? Number(v) : Number.NaN;
        if (!(rounds >= 1 && rounds <= 1000)) {
          throw new Error(`--rounds takes a whole number from 1 to 1000, not ${JSON.stringify(v)}`);
        }
      }
    } else {
      throw new Error(
        `unknown option ${JSON.stringify(a)} (use --base <rev>, --rounds <n>, --quick)`,
      );
    }
  }
  return { quick, base, rounds };
}
