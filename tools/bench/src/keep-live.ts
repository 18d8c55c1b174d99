/**
 * Moves every seeded node's `last_seen` an hour ahead, through the directory's storage
 * layer, so the nodes stay live however long the directory takes to start. seed.ts puts
 * them 60 s ahead, but a first start on a seeded database also backfills one signed
 * REGISTER event per node, which on a loaded machine can take longer than the 90 s
 * liveness window with 100,000 nodes (and every node would then be swept dormant before
 * the first request).
 */
import { openDatabase } from '@iicp/directory';

const AHEAD_MS = 3_600_000;

export async function keepSeededNodesLive(dataDir: string): Promise<void> {
  const opened = await openDatabase({ dataDir });
  try {
    await opened.db
      .updateTable('nodes')
      .set({ last_seen: Date.now() + AHEAD_MS })
      .execute();
  } finally {
    await opened.close();
  }
}
