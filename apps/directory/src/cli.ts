#!/usr/bin/env node
/** The `iicp-directory` bin: `serve` (default), `migrate`, `verify-log`, `--help`. */
import { parseCli, USAGE } from './config.ts';
import { migrate, serve } from './main.ts';
import { verifyLog } from './verify-log.ts';

async function run(): Promise<void> {
  let inv;
  try {
    inv = parseCli(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(
      `iicp-directory: ${e instanceof Error ? e.message : String(e)}\n\n${USAGE}`,
    );
    process.exitCode = 2;
    return;
  }
  if (inv.command === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (inv.command === 'verify-log') {
    if (!(await verifyLog(inv.options))) process.exitCode = 1;
    return;
  }
  if (inv.command === 'migrate') {
    await migrate(inv.options);
    return;
  }
  await serve(inv.options);
}

run().catch((e: unknown) => {
  process.stderr.write(`iicp-directory: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
