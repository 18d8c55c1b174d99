/**
 * `iicp-directory verify-log`: open the database read-only in spirit (nothing is
 * written), verify both event chains from genesis against the directory key, replay
 * them and compare with the live node set. Prints one summary line; false on failure.
 */
import type { DirectoryOptions } from './config.ts';
import { didWebOf, loadDirectoryIdentity } from './identity.ts';
import { verifyEventLog, type ChainReport } from './replay.ts';
import { EventLog } from './storage/event-log.ts';
import { NodeStore } from './storage/node-store.ts';
import { openDatabase } from './storage/open.ts';

function chainLine(name: string, c: ChainReport): string {
  if (c.failure) return `${name} chain BROKEN at seq ${c.failure.seq} (${c.failure.reason})`;
  return `${name} chain ${c.events} event(s) ok (head seq ${c.head?.seq ?? 0})`;
}

export async function verifyLog(
  opts: DirectoryOptions,
  print: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Promise<boolean> {
  const identity = await loadDirectoryIdentity(opts, false);
  const db = await openDatabase({ databaseUrl: opts.databaseUrl, dataDir: opts.dataDir });
  try {
    await new NodeStore(db.db).migrate();
    const publicUrl = opts.publicUrl ?? `http://${opts.host ?? '127.0.0.1'}:${opts.port ?? 8090}`;
    const log = new EventLog(db.db, identity.key, didWebOf(publicUrl), db.kind);
    const r = await verifyEventLog(db.db, db.kind, log, identity.key.publicKey);
    const replay =
      r.mismatched.length === 0
        ? `replay reproduces the ${r.liveNodes} live node(s) exactly`
        : `replay DIFFERS from the live node set for ${r.mismatched.length} node(s) ` +
          `(live ${r.liveNodes}, replayed ${r.replayedNodes})`;
    print(
      `iicp-directory verify-log: ${r.ok ? 'OK' : 'FAILED'}: ${chainLine('published', r.published)}; ` +
        `${chainLine('local', r.local)}; ${replay}; key ${identity.key.publicKeyHex}`,
    );
    return r.ok;
  } finally {
    await db.close();
  }
}
