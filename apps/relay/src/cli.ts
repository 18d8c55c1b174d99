#!/usr/bin/env node
/** The `iicp-relay` bin: `serve` (default) and `--help`. */
import { parseCli, USAGE } from './config.ts';
import { serve } from './main.ts';

async function run(): Promise<void> {
  let inv;
  try {
    inv = parseCli(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`iicp-relay: ${e instanceof Error ? e.message : String(e)}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (inv.command === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  await serve(inv.options);
}

run().catch((e: unknown) => {
  process.stderr.write(`iicp-relay: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
