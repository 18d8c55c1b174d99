import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';

/** File, under `$IICP_HOME`, holding what the directory issued to this node. */
export const NODE_STATE_FILE = 'node-state.json';

/**
 * The node's persisted directory identity. Written at once after every ACK (the
 * token rotates on each re-registration, iicp-dir.md §3.1, and the old one stops
 * working), mode 0600. `node_token` and `node_hmac_key` are secrets.
 */
export const PersistedNodeStateSchema = z.looseObject({
  directory_url: z.string(),
  node_id: z.string(),
  node_token: z.string(),
  node_hmac_key: z.string().optional(),
  directory_public_key: z.string().optional(),
  observed_source_ip: z.string().optional(),
  registered_at: z.string().optional(),
  last_heartbeat_at: z.string().optional(),
  models: z.array(z.string()).optional(),
});
export type PersistedNodeState = z.infer<typeof PersistedNodeStateSchema>;

/** Write a file atomically (temp file + rename) with mode 0600. */
export async function writeSecretFile(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

export async function readJsonFile(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as unknown;
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return undefined;
    throw err;
  }
}

export class NodeStateStore {
  readonly path: string;

  constructor(home: string) {
    this.path = join(home, NODE_STATE_FILE);
  }

  async load(): Promise<PersistedNodeState | undefined> {
    const raw = await readJsonFile(this.path);
    const parsed = PersistedNodeStateSchema.safeParse(raw);
    return parsed.success ? parsed.data : undefined;
  }

  async save(s: PersistedNodeState): Promise<void> {
    await writeSecretFile(this.path, `${JSON.stringify(s, null, 2)}\n`);
  }
}
