/**
 * Seeding a directory database with N live nodes through its storage layer (the
 * Kysely instance `openDatabase` gives, the same tables and migrations the app uses),
 * then starting iicp-directory on it: its start-up warm-up loads every node into the
 * discover index, as after a restart.
 *
 * Inputs are deterministic (a seeded generator): 6 regions, 4 models, max_concurrent
 * 1–16, loads, reputations and multipliers spread evenly. Registering 100,000 nodes
 * through the API would mean 100,000 bcrypt hashes and liveness probes, which measures
 * registration, not discover or heartbeats.
 *
 * `last_seen` is set an hour ahead of now so the nodes stay live (within the 90 s window)
 * for the whole run without 100,000 background heartbeats competing for the CPU, however
 * long the first start takes: it backfills one signed REGISTER event per node, minutes
 * with 100,000 nodes on a loaded machine, after which a sweep would otherwise mark them
 * all dormant (and sign an EVICT for each) in the middle of the measurement.
 */
import { join } from 'node:path';
import { hashNodeToken, nodeTokenFingerprint } from '@iicp/crypto';
import { migrateToLatest, openDatabase, type StorageConfig } from '@iicp/directory';
import { startApp, type AppProcess } from '@iicp/tools-e2e';

export const CHAT_INTENT = 'urn:iicp:intent:llm:chat:v1';
const REGIONS = ['eu-west', 'eu-central', 'us-east', 'us-west', 'ap-south', 'global'];
const MODELS = ['llama-3-8b', 'llama-3-70b', 'mistral-7b', 'qwen-2-7b'];
const LIVE_AHEAD_MS = 3_600_000;
const BATCH = 400;

export interface HotNode {
  readonly nodeId: string;
  readonly token: string;
}

/** Deterministic UUID v4 for node `i`. */
export function benchNodeId(i: number): string {
  const hex = (i + 1).toString(16).padStart(12, '0');
  return `b0000000-0000-4000-8000-${hex}`;
}

/** Deterministic 64-hex token for node `i` (only hot nodes get a usable hash). */
function benchToken(i: number): string {
  return nodeTokenFingerprint(`bench-node-token-${i}`);
}

/** A small deterministic generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Seed `count` active nodes into `dataDir`'s SQLite database (or the PostgreSQL
 * database a `StorageConfig` names). The first `hot` get a real token (bcrypt cost 4,
 * so seeding stays quick; the cache is what heartbeats hit) and are returned; the rest
 * hold an unusable hash.
 */
export async function seedDirectory(
  target: string | StorageConfig,
  count: number,
  hot = 0,
): Promise<HotNode[]> {
  const opened = await openDatabase(typeof target === 'string' ? { dataDir: target } : target);
  const hotNodes: HotNode[] = [];
  try {
    await migrateToLatest(opened.db as never);
    const rand = rng(42);
    const now = Date.now();
    const hashes: string[] = [];
    for (let i = 0; i < hot; i += 64) {
      const part = await Promise.all(
        Array.from({ length: Math.min(64, hot - i) }, (_, k) =>
          hashNodeToken(benchToken(i + k), 4),
        ),
      );
      hashes.push(...part);
    }
    for (let start = 0; start < count; start += BATCH) {
      const rows = [];
      for (let i = start; i < Math.min(count, start + BATCH); i++) {
        const nodeId = benchNodeId(i);
        const region = REGIONS[i % REGIONS.length]!;
        const models = [MODELS[i % MODELS.length]!, MODELS[(i + 1) % MODELS.length]!];
        const maxConcurrent = 1 + Math.floor(rand() * 16);
        const endpoint = `http://10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:9484`;
        const record = {
          node_id: nodeId,
          endpoint,
          region,
          capabilities: [{ intent: CHAT_INTENT, models, input_modalities: ['text'] }],
          limits: { max_concurrent: maxConcurrent },
          pricing: { credit_cost_multiplier: 0.5 + Math.round(rand() * 10) / 10 },
          cip_conformance_level: 'CIP-None',
        };
        const token = i < hot ? benchToken(i) : undefined;
        if (token) hotNodes.push({ nodeId, token });
        const activeJobs = Math.floor(rand() * maxConcurrent);
        rows.push({
          node_id: nodeId,
          token_hash: token ? hashes[i]! : '!',
          token_lookup: token ? nodeTokenFingerprint(token).slice(0, 16) : '!',
          token_version: 1,
          endpoint,
          region,
          record: JSON.stringify(record),
          load: activeJobs / maxConcurrent,
          active_jobs: activeJobs,
          available: 1,
          last_seen: now + LIVE_AHEAD_MS,
          dormant_since: null,
          reputation: Math.round((0.3 + rand() * 0.7) * 1000) / 1000,
          completed_tasks_count: Math.floor(rand() * 10_000),
          last_metrics_batch_id: null,
          observed_ip: null,
          status: 'active' as const,
          liveness_rtt_ms: Math.round(rand() * 50),
          registered_at: now,
          updated_at: now,
        });
      }
      await opened.db.insertInto('nodes').values(rows).execute();
    }
  } finally {
    await opened.close();
  }
  return hotNodes;
}

/** A fixed directory signing seed for benchmark runs on PostgreSQL (never a real key). */
export const BENCH_SIGNING_KEY = 'b3c4'.repeat(16);

/**
 * Start iicp-directory on a seeded data directory, or on a PostgreSQL database
 * (`{ databaseUrl }`, signed with {@link BENCH_SIGNING_KEY}); resolves once it listens.
 */
export async function startDirectory(
  target: string | { readonly databaseUrl: string },
): Promise<{ proc: AppProcess; url: string }> {
  const storage =
    typeof target === 'string' ? ['--data-dir', target] : ['--database-url', target.databaseUrl];
  const proc = startApp(
    'directory',
    ['serve', '--port', '0', ...storage, '--allow-private-endpoints', '--log-level', 'warn'],
    typeof target === 'string' ? {} : { IICP_DIRECTORY_SIGNING_KEY: BENCH_SIGNING_KEY },
  );
  const url = (await proc.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
  return { proc, url };
}

export const dataDirFor = (dir: string, count: number): string => join(dir, `directory-${count}`);
